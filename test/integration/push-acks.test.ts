// Pushes that are acknowledged (README "The gateway", push): a socket killed right after a status
// push, before its ack, gets that push on reconnect exactly once; an acknowledged push is not sent
// again; a connection that does not ack is sent it again after the timeout.
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDispatcher, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { createHarness, eventually, type Harness, type RunningWorker } from '../harness.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const ACK_TIMEOUT_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('push acks and redelivery', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  let dispatcher: RunningDispatcher;
  const sockets: RawClient[] = [];

  const connect = async (agentId: string, deviceId: string) => {
    const c = await rawClient(gw.ws);
    c.send({ type: 'hello', token: await gw.token(agentId), deviceId, modules: [] });
    await c.next('welcome');
    sockets.push(c);
    return c;
  };
  const setStatus = async (agentId: string, status: string) => {
    const r = await fetch(`${gw.http}/v1/agents/${agentId}/status`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await gw.token('boss', 'supervisor')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status, reason: 'test' }),
    });
    expect(r.status).toBe(200);
  };
  const pushes = (c: RawClient, status: string) =>
    c.frames.filter((f) => f.type === 'push' && (f.data as { status?: string })?.status === status);

  beforeAll(async () => {
    h = await createHarness('pushacks');
    w = await h.startWorker();
    dispatcher = await startDispatcher({
      pool: h.pool,
      databaseUrl: inject('databaseUrl'),
      lanes: { webhooks: false },
    });
    gw = await startGateway(h, { pushAckTimeoutMs: ACK_TIMEOUT_MS });
  });

  afterAll(async () => {
    for (const s of sockets) s.socket.close();
    await gw?.close();
    await dispatcher?.stop();
    await w?.stop();
    await h?.close();
  });

  it('gives a push its killed socket never acked to the reconnecting device, exactly once', async () => {
    const first = await connect('p-ana', 'pc');
    await setStatus('p-ana', 'BUSY');
    const push = await eventually(async () => pushes(first, 'BUSY')[0], 10_000, 'the BUSY push');
    first.socket.terminate(); // gone before its ack
    await first.closed;

    const again = await connect('p-ana', 'pc');
    const replayed = await eventually(async () => pushes(again, 'BUSY')[0], 10_000, 'the BUSY push again');
    expect(replayed.msgId).toBe(push.msgId);
    again.send({ type: 'ack', msgIds: [push.msgId] });
    // Past the ack timeout: still once (acknowledged, so not redelivered).
    await sleep(ACK_TIMEOUT_MS * 2);
    expect(pushes(again, 'BUSY')).toHaveLength(1);

    // Acknowledged: a later reconnect of the device does not get it again.
    again.socket.close();
    const third = await connect('p-ana', 'pc');
    await sleep(1000);
    expect(pushes(third, 'BUSY')).toHaveLength(0);
    // A device seen for the first time is not sent the past either.
    const other = await connect('p-ana', 'tablet');
    await sleep(500);
    expect(other.frames.filter((f) => f.type === 'push')).toHaveLength(0);
  });

  it('sends an unacknowledged push again on its connection after the timeout, and counts it', async () => {
    const c = await connect('p-ben', 'pc');
    await setStatus('p-ben', 'BUSY');
    await eventually(async () => pushes(c, 'BUSY')[0], 10_000, 'the BUSY push');
    const twice = await eventually(
      async () => (pushes(c, 'BUSY').length >= 2 ? pushes(c, 'BUSY') : undefined),
      ACK_TIMEOUT_MS * 4,
      'the push sent again',
    );
    expect(twice[1]!.msgId).toBe(twice[0]!.msgId);
    c.send({ type: 'ack', msgIds: [twice[0]!.msgId] });
    await sleep(ACK_TIMEOUT_MS * 2);
    expect(pushes(c, 'BUSY').length).toBe(2);
    const metrics = await (await fetch(`${gw.http}/metrics`)).text();
    for (const outcome of ['sent', 'acked', 'redelivered'])
      expect(metrics).toMatch(new RegExp(`vigil_push_deliveries_total\\{outcome="${outcome}"\\} [1-9]`));
  });
});
