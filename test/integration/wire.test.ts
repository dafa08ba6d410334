// The wire protocol's versions (docs/PROTOCOL.md "Versions and compatibility") and the adaptive
// heartbeat cadence (README "Heartbeat cadence") on a real gateway, Postgres and Temporal.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDispatcher } from '../../workers/dispatcher.ts';
import { PROTOCOL_VERSION } from '../../sdk/protocol.ts';
import { createHarness, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const click = (extra: object = {}) => ({ reqId: randomUUID(), type: 100, ts: Date.now(), ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('wire protocol on real Temporal and real Postgres', () => {
  let h: Harness;
  let w: RunningWorker;
  const gateways: TestGateway[] = [];
  const sockets: RawClient[] = [];
  beforeAll(async () => {
    h = await createHarness('wire');
    w = await h.startWorker();
  });
  afterAll(async () => {
    for (const c of sockets) c.socket.terminate();
    for (const g of gateways) await g.close();
    await w?.stop();
    await h?.close();
  });

  async function gateway(tuning?: Parameters<typeof startGateway>[1], extra?: Parameters<typeof startGateway>[2]) {
    const g = await startGateway(h, tuning, extra);
    gateways.push(g);
    return g;
  }

  /** Welcomed as `sub`; `v` undefined = a 1.0 client (today's and older SDKs send none). */
  async function connect(g: TestGateway, sub: string, v: string | undefined, extra: object = {}) {
    const c = await rawClient(g.ws);
    sockets.push(c);
    c.send({ type: 'hello', ...(v ? { v } : {}), token: await g.token(sub), deviceId: 'tab-1', ...extra });
    const welcome = await c.next('welcome');
    return { c, welcome };
  }

  const metric = async (g: TestGateway, line: string) => {
    const text = await (await fetch(`${g.http}/metrics`)).text();
    const m = text.split('\n').find((l) => l.startsWith(`${line} `));
    return m ? Number(m.split(' ')[1]) : 0;
  };

  describe('versions', () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await gateway();
    });

    it("welcomes 1.0 clients (no v) and later minors alike, with the gateway's version", async () => {
      const old = await connect(g, 'v-old', undefined);
      const newer = await connect(g, 'v-newer', '1.7');
      for (const { welcome } of [old, newer])
        expect(welcome).toMatchObject({ type: 'welcome', v: PROTOCOL_VERSION, heartbeatIntervalMs: 1000 });
    });

    it('closes a hello of another major with 4426 naming what it speaks, whatever the rest of the hello', async () => {
      for (const hello of [
        { type: 'hello', v: '2.0', credentials: { kind: 'jwt' } },
        { type: 'hello', v: '0.1', token: await g.token('v-zero'), deviceId: 'tab-1' },
      ]) {
        const c = await rawClient(g.ws);
        c.send(hello);
        expect(await c.closed).toBe(4426);
        expect(c.frames).toEqual([
          {
            type: 'error',
            code: 'UNSUPPORTED_VERSION',
            message: `protocol ${hello.v} is not supported: this gateway speaks 1.x (up to ${PROTOCOL_VERSION})`,
          },
        ]);
      }
      // A malformed version is a bad known field, as before.
      const c = await rawClient(g.ws);
      c.send({ type: 'hello', v: 2, token: await g.token('v-bad'), deviceId: 'tab-1' });
      expect(await c.closed).toBe(4400);
      expect(c.frames[0]).toMatchObject({ code: 'BAD_FRAME', message: expect.stringMatching(/^v: /) });
    });

    it("takes a newer client's frames: unknown fields dropped and counted, an unknown frame answered, an unknown event type rejected alone", async () => {
      const helloFields = await metric(g, 'vigil_unknown_fields_total{frame="hello"}');
      const eventFields = await metric(g, 'vigil_unknown_fields_total{frame="event"}');
      const { c } = await connect(g, 'v-newer-frames', '1.3', { capabilities: ['fleet'], resume: { after: 'm-1' } });
      c.send({ type: 'subscribe', topics: ['floor'] });
      const known = click({ priority: 'high', trace: { span: 'abc' } });
      const later = { reqId: randomUUID(), type: 106, ts: Date.now() };
      c.send({ type: 'events', events: [known, later], batchId: 'b-1' });
      const receipt = await c.next('receipt');
      expect(c.frames.find((f) => f.type === 'error')).toEqual({
        type: 'error',
        code: 'UNKNOWN_FRAME',
        message: `frame type subscribe is not part of protocol ${PROTOCOL_VERSION}; ignored`,
      });
      expect(receipt).toEqual({
        type: 'receipt',
        accepted: [known.reqId],
        duplicates: [],
        rejected: [
          {
            reqId: later.reqId,
            code: 'UNKNOWN_TYPE',
            message: `type: 106 is not an event type of protocol ${PROTOCOL_VERSION}`,
          },
        ],
      });
      // Still open and working.
      const next = click();
      c.send({ type: 'events', events: [next] });
      expect(await c.next('receipt', c.frames.indexOf(receipt) + 1)).toMatchObject({ accepted: [next.reqId] });
      expect(c.socket.readyState).toBe(c.socket.OPEN);
      expect(await metric(g, 'vigil_unknown_fields_total{frame="hello"}')).toBe(helloFields + 2);
      expect(await metric(g, 'vigil_unknown_fields_total{frame="event"}')).toBe(eventFields + 2);
      expect(await metric(g, 'vigil_unknown_fields_total{frame="events"}')).toBeGreaterThanOrEqual(1);
      // An unknown frame is still a frame: before hello it is a protocol error, as any non-hello.
      const early = await rawClient(g.ws);
      early.send({ type: 'subscribe', topics: [] });
      expect(await early.closed).toBe(4400);
      expect(early.frames[0]).toMatchObject({ code: 'BAD_FRAME', message: 'the first frame must be hello' });
    });

    it('the HTTP fallback drops unknown fields inside events the same way, and keeps its own body strict', async () => {
      const token = await g.token('v-http');
      const post = (body: unknown) =>
        fetch(`${g.http}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const known = click({ priority: 'high' });
      const later = { reqId: randomUUID(), type: 107, ts: Date.now() };
      const r = await post({ deviceId: 'tab-1', events: [known, later] });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({
        accepted: [known.reqId],
        rejected: [{ reqId: later.reqId, code: 'UNKNOWN_TYPE' }],
      });
      const strict = await post({ deviceId: 'tab-1', events: [click()], v: '1.1' });
      expect(strict.status).toBe(400);
      expect(await strict.json()).toEqual({ code: 'BAD_REQUEST', message: 'body/v: unknown field' });
    });
  });

  describe('heartbeat cadence', () => {
    /** Keeps a socket heard from (an empty ack every 150 ms), so it is not under suspicion. */
    function keepAlive(c: RawClient): void {
      const t = setInterval(() => {
        if (c.socket.readyState === c.socket.OPEN) c.send({ type: 'ack', msgIds: [] });
        else clearInterval(t);
      }, 150);
    }
    const cadences = (c: RawClient) => c.frames.filter((f) => f.type === 'cadence').map((f) => f.heartbeatIntervalMs);
    const until = async (what: string, probe: () => boolean, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!probe()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };
    // Budget 2 heartbeats/s: each connection past the second lengthens everyone's interval by 500 ms.
    const tuning = {
      heartbeatMs: 1000,
      heartbeatMinMs: 400,
      heartbeatMaxMs: 4000,
      heartbeatBudgetPerSec: 2,
      cadenceHoldSec: 0.4,
    };

    it('advises longer beats as the fleet grows or the gateway lags, none for small changes, shorter as it shrinks; 1.0 clients keep their welcome', async () => {
      let lag = 0;
      // A hold of 1 s: the fleet below connects within it, so `a` is first advised for all of it.
      const g = await gateway({ ...tuning, cadenceHoldSec: 1 }, { loadLagMs: () => lag });
      const a = await connect(g, 'fleet-a', PROTOCOL_VERSION);
      expect(a.welcome.heartbeatIntervalMs).toBe(1000);
      keepAlive(a.c);
      const fleet = await Promise.all([
        connect(g, 'fleet-old', undefined),
        ...[0, 1, 2, 3].map((i) => connect(g, `fleet-${i}`, PROTOCOL_VERSION)),
      ]);
      const old = fleet[0];
      const others = fleet.map((f) => f.c);
      for (const c of others) keepAlive(c);
      // Six connections at 2/s: 3 s each.
      await until('a cadence of 3000', () => cadences(a.c).length > 0);
      expect(cadences(a.c)).toEqual([3000]);
      // A seventh: 3.5 s is within a quarter of 3 s, so nothing is said for a while (several holds).
      const seventh = await connect(g, 'fleet-7', PROTOCOL_VERSION);
      expect(seventh.welcome.heartbeatIntervalMs).toBe(3500);
      keepAlive(seventh.c);
      others.push(seventh.c);
      await sleep(3000);
      expect(cadences(a.c)).toEqual([3000]);
      // The event loop lags three times the threshold: stretched, up to the bound.
      lag = 600;
      await until('a cadence of 4000', () => cadences(a.c).length > 1);
      expect(cadences(a.c)).toEqual([3000, 4000]);
      lag = 0;
      // Everyone else leaves: back to the base interval.
      for (const c of others) c.socket.close();
      await until('a cadence of 1000', () => cadences(a.c).length > 2);
      expect(cadences(a.c)).toEqual([3000, 4000, 1000]);
      expect(cadences(old.c)).toEqual([]);
      expect(await metric(g, 'vigil_cadence_frames_total')).toBeGreaterThanOrEqual(3);
    });

    it('advises the minimum to a connection whose frames are late', async () => {
      const g = await gateway(tuning);
      const quiet = await connect(g, 'late-quiet', PROTOCOL_VERSION);
      const talking = await connect(g, 'late-talking', PROTOCOL_VERSION);
      keepAlive(talking.c);
      // Silent for more than 1.5 intervals (1.5 s).
      await until('a cadence of 400', () => cadences(quiet.c).length > 0);
      expect(cadences(quiet.c)).toEqual([400]);
      expect(cadences(talking.c)).toEqual([]);
    });

    it('advises shorter beats to an agent near its deadline (reminded) until it acts', async () => {
      await setRule(h, 'fast', {
        windows: {
          idleAfterNoTaskSec: 1,
          remindAfterNoActionSec: 2,
          abnormalAfterNoActionSec: 3,
          offlineAfterAbnormalSec: 60,
        },
        reminderLockSec: 840,
        reconnectGraceSec: 2,
      });
      // Reminders and status changes reach the socket the whole way: workflow, HCM's outbox, the
      // dispatcher's push lane, the gateway's fan-out.
      const d = await startDispatcher({
        pool: h.pool,
        databaseUrl: inject('databaseUrl'),
        refreshMs: 500,
        lanes: { push: true, feed: false, webhooks: false },
      });
      const g = await gateway(tuning);
      const { c } = await connect(g, 'deadline', PROTOCOL_VERSION);
      keepAlive(c);
      c.send({ type: 'events', events: [click()] });
      await until('a reminder push', () => c.frames.some((f) => f.type === 'push' && f.topic === 'reminder'), 20_000);
      await until('a cadence of 500', () => cadences(c).length > 0);
      expect(cadences(c)).toEqual([500]);
      c.send({ type: 'events', events: [click()] });
      await until('a cadence of 1000', () => cadences(c).length > 1, 20_000);
      expect(cadences(c)).toEqual([500, 1000]);
      await d.stop();
    });
  });
});
