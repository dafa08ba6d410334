// Limits fall on the one who exceeds them (issue 11): one agent flooding over HTTP and websockets
// is refused (429 / 4429) while a second, normal agent of the same tenant is never limited or
// closed; an agent's connections are capped; a connection cannot queue frames without bound; bad
// bearer strings share their address's quota.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayTuning } from '../../platform/config.ts';
import { createHarness, type Harness } from '../harness.ts';
import { helloClient, rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const click = () => ({ reqId: randomUUID(), type: 100, ts: Date.now() });
const clicks = (n: number) => Array.from({ length: n }, click);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  httpCodes: number[];
  wsCloses: number[];
  errorFrames: Record<string, unknown>[];
}

/**
 * One agent floods for `ms`: `sockets` websockets each sending 5-event frames every `everyMs` (at
 * 55 ms just under one connection's default limits, so only the sum is too much) and four HTTP
 * loops posting 10 events at a time.
 */
async function flood(g: TestGateway, agent: string, ms: number, sockets: number, everyMs = 55): Promise<Outcome> {
  const token = await g.token(agent);
  const clients: RawClient[] = [];
  for (let i = 0; i < sockets; i++) clients.push(await helloClient(g, agent, `flood-${i}`));
  const until = Date.now() + ms;
  const httpCodes: number[] = [];
  const wsLoops = clients.map(async (c) => {
    while (Date.now() < until && c.socket.readyState === c.socket.OPEN) {
      c.send({ type: 'events', events: clicks(5) });
      await sleep(everyMs);
    }
  });
  const httpLoops = Array.from({ length: 4 }, async () => {
    while (Date.now() < until) {
      const r = await fetch(`${g.http}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: 'flood-http', events: clicks(10) }),
      });
      httpCodes.push(r.status);
      await r.arrayBuffer();
    }
  });
  await Promise.all([...wsLoops, ...httpLoops]);
  const wsCloses: number[] = [];
  for (const c of clients) {
    if (c.socket.readyState === c.socket.OPEN) c.socket.close();
    wsCloses.push(await c.closed);
  }
  return { httpCodes, wsCloses, errorFrames: clients.flatMap((c) => c.frames.filter((f) => f.type === 'error')) };
}

/** A normal agent for `ms`: 5 events every 250 ms on its websocket and a post of 5 every 500 ms. */
async function behave(g: TestGateway, agent: string, ms: number) {
  const c = await helloClient(g, agent, 'calm-tab');
  const token = await g.token(agent);
  const until = Date.now() + ms;
  const httpCodes: number[] = [];
  let sent = 0;
  const ws = (async () => {
    while (Date.now() < until && c.socket.readyState === c.socket.OPEN) {
      c.send({ type: 'events', events: clicks(5) });
      sent++;
      await sleep(250);
    }
  })();
  const http = (async () => {
    while (Date.now() < until) {
      const r = await fetch(`${g.http}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: 'calm-http', events: clicks(5) }),
      });
      httpCodes.push(r.status);
      const body = (await r.json()) as { accepted?: string[] };
      if (r.status === 200) expect(body.accepted).toHaveLength(5);
      await sleep(500);
    }
  })();
  await Promise.all([ws, http]);
  // Every frame sent gets its receipt (a generous wait: the box is shared).
  const deadline = Date.now() + 20_000;
  while (
    c.frames.filter((f) => f.type === 'receipt').length < sent &&
    c.socket.readyState === c.socket.OPEN &&
    Date.now() < deadline
  )
    await sleep(50);
  const open = c.socket.readyState === c.socket.OPEN;
  const receipts = c.frames.filter((f) => f.type === 'receipt') as { accepted: string[] }[];
  const errors = c.frames.filter((f) => f.type === 'error');
  c.socket.close();
  await c.closed;
  return { open, sent, receipts, errors, httpCodes };
}

describe('limits fall on the one who exceeds them', () => {
  let h: Harness;
  const gateways: TestGateway[] = [];
  const gateway = async (t: Partial<GatewayTuning>) => {
    const g = await startGateway(h, { digestMs: 60_000, ...t });
    gateways.push(g);
    return g;
  };
  beforeAll(async () => {
    h = await createHarness('fairness');
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await h?.close();
  });

  it('an agent flooding over HTTP and 5 websockets hits its own budget; a normal agent of the tenant is never limited', async () => {
    // Before: 5 connections, each within its own 100/s, plus posts within the HTTP quota took the
    // whole tenant (300/s), and the tenant limit then refused and closed everyone of the tenant.
    const g = await gateway({
      connEventsPerSec: 100,
      agentEventsPerSec: 100,
      tenantEventsPerSec: 300,
      httpReqPerSec: 50,
    });
    const [flooder, calm] = await Promise.all([flood(g, 'flooder', 4000, 5), behave(g, 'calm', 4000)]);

    expect(calm.errors).toEqual([]);
    expect(calm.open).toBe(true);
    expect(calm.sent).toBeGreaterThanOrEqual(5);
    expect(calm.receipts).toHaveLength(calm.sent);
    for (const r of calm.receipts) expect(r.accepted).toHaveLength(5);
    expect(calm.httpCodes.length).toBeGreaterThanOrEqual(3);
    expect(calm.httpCodes.every((c) => c === 200)).toBe(true);

    expect(flooder.httpCodes).toContain(429);
    expect(flooder.wsCloses).toContain(4429);
    expect(flooder.errorFrames).toContainEqual(expect.objectContaining({ code: 'RATE_LIMITED' }));
  });

  it('when the tenant is short, only agents above their fair share are refused', async () => {
    // Every other limit is out of the way here: the flooder alone outruns the tenant (200/s).
    const g = await gateway({
      connEventsPerSec: 10_000,
      agentEventsPerSec: 10_000,
      tenantEventsPerSec: 200,
      httpReqPerSec: 1000,
      wsMaxInflightFrames: 10_000,
    });
    const [flooder, calm] = await Promise.all([flood(g, 'greedy', 4000, 2, 5), behave(g, 'bystander', 4000)]);

    expect(calm.errors).toEqual([]);
    expect(calm.open).toBe(true);
    expect(calm.receipts).toHaveLength(calm.sent);
    for (const r of calm.receipts) expect(r.accepted).toHaveLength(5);
    expect(calm.httpCodes.every((c) => c === 200)).toBe(true);

    expect(flooder.httpCodes).toContain(429);
    expect(flooder.wsCloses).toContain(4429);
    expect(flooder.errorFrames).toContainEqual(
      expect.objectContaining({ code: 'RATE_LIMITED', message: expect.stringMatching(/tenant/) }),
    );
  });

  it('an agent may hold at most agentMaxConnections websockets here; one more is refused with 4429', async () => {
    const g = await gateway({ agentMaxConnections: 3 });
    const open = [
      await helloClient(g, 'tabs', 'a'),
      await helloClient(g, 'tabs', 'b'),
      await helloClient(g, 'tabs', 'c'),
    ];
    const extra = await rawClient(g.ws);
    extra.send({ type: 'hello', token: await g.token('tabs'), deviceId: 'd', modules: [] });
    expect(await extra.closed).toBe(4429);
    expect(extra.frames).toEqual([expect.objectContaining({ type: 'error', code: 'TOO_MANY_CONNECTIONS' })]);
    // Another agent is not affected, and a freed slot can be used again.
    const other = await helloClient(g, 'someone-else', 'a');
    open[0]!.socket.close();
    await open[0]!.closed;
    const again = await rawClient(g.ws);
    again.send({ type: 'hello', token: await g.token('tabs'), deviceId: 'd', modules: [] });
    await again.next('welcome');
    for (const c of [...open.slice(1), other, again]) c.socket.close();
  });

  it('a connection with too many frames awaiting their receipts is closed with 4429', async () => {
    const g = await gateway({ wsMaxInflightFrames: 4 });
    const c = await helloClient(g, 'pipeliner');
    // Sent in one go: they all arrive while the first one's transaction is still in flight.
    for (let i = 0; i < 30; i++) c.send({ type: 'events', events: clicks(1) });
    expect(await c.closed).toBe(4429);
    expect(c.frames.at(-1)).toMatchObject({
      type: 'error',
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/in flight/),
    });
    expect(c.frames.filter((f) => f.type === 'receipt').length).toBeLessThanOrEqual(4);
  });

  it('bad bearer strings are limited by address, not each given a quota of their own', async () => {
    const g = await gateway({ httpReqPerSec: 5 });
    const codes = await Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(`${g.http}/v1/agents/x`, { headers: { authorization: `Bearer ${randomUUID()}.${randomUUID()}` } }).then(
          (r) => r.status,
        ),
      ),
    );
    // Burst 10 for this address: the rest are 429 before any token work.
    expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(15);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(25);
    // A verified caller has its own quota, keyed by tenant and subject.
    const ok = await fetch(`${g.http}/v1/agents/y`, { headers: { authorization: `Bearer ${await g.token('y')}` } });
    expect(ok.status).toBe(404);
  });
});
