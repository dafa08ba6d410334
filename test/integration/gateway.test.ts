import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WorkbenchClient } from '../../sdk/index.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { assertChain, live, statusLog, waitForStatus } from './agent-helpers.ts';
import { helloClient, rawClient, startGateway, type TestGateway } from './gateway-helpers.ts';

const FAST = {
  windows: {
    idleAfterNoTaskSec: 1,
    remindAfterNoActionSec: 2,
    abnormalAfterNoActionSec: 3,
    offlineAfterAbnormalSec: 30,
  },
  reminderLockSec: 840,
  reconnectGraceSec: 2,
};

const click = (extra: object = {}) => ({ reqId: randomUUID(), type: 100, ts: Date.now(), ...extra });

describe('gateway on real Temporal and real Postgres', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  beforeAll(async () => {
    h = await createHarness('gateway');
    await setRule(h, 'fast', FAST);
    w = await h.startWorker();
    g = await startGateway(h, { digestMs: 1000 });
  });
  afterAll(async () => {
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  async function written(agentId: string): Promise<number> {
    const { rows } = await h.pool.query(
      `SELECT (SELECT count(*) FROM event_dedupe WHERE tenant = $1 AND agent_id = $2)
            + (SELECT count(*) FROM intake_pending WHERE tenant = $1 AND agent_id = $2) AS n`,
      [h.tenant, agentId],
    );
    return Number(rows[0].n);
  }

  it('an SDK client drives ONLINE → IDLE → ABNORMAL → back to IDLE on activity', async () => {
    const agent = 'sdk-walker';
    const sdk = new WorkbenchClient({
      url: g.ws,
      token: () => g.token(agent),
      deviceId: 'tab-sdk',
      WebSocket: WebSocket,
      resendAfterMs: 1000,
    });
    const receipts: unknown[] = [];
    sdk.on('receipt', (r) => receipts.push(r));
    sdk.start();
    try {
      await eventually(async () => sdk.state === 'open', 10_000, 'the SDK to be welcomed');
      sdk.click();
      await eventually(async () => receipts.length > 0, 10_000, 'a receipt');
      await waitForStatus(h, agent, 'IDLE', 10_000);
      // Heartbeats keep flowing (every second here) but are not actions: ABNORMAL after 3 s.
      await waitForStatus(h, agent, 'ABNORMAL', 10_000);
      const s = await live(h, agent);
      expect(s.onApp).toBe(true);
      expect(s.devices['tab-sdk']?.connected).toBe(true);
      sdk.key();
      await waitForStatus(h, agent, 'IDLE', 10_000);
      const log = await statusLog(h, agent);
      assertChain(log);
      expect(log.map((r) => `${r.to_status}:${r.cause}`)).toEqual([
        'IDLE:NO_TASK',
        'ABNORMAL:NO_ACTION',
        'IDLE:ACTIVITY_RESUMED',
      ]);
    } finally {
      await sdk.stop();
    }
  });

  it('reports a repeated reqId as a duplicate, with one receipt per frame', async () => {
    const c = await helloClient(g, 'dup');
    const e = click();
    c.send({ type: 'events', events: [e] });
    const r1 = await c.next('receipt');
    c.send({ type: 'events', events: [e, click({ reqId: e.reqId })] });
    await eventually(async () => c.frames.filter((f) => f.type === 'receipt').length === 2);
    const r2 = c.frames.filter((f) => f.type === 'receipt')[1]!;
    expect(r1).toMatchObject({ accepted: [e.reqId], duplicates: [], rejected: [] });
    expect(r2).toMatchObject({ accepted: [], duplicates: [e.reqId], rejected: [] });
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n FROM event_dedupe WHERE tenant = $1 AND agent_id = $2',
      [h.tenant, 'dup'],
    );
    expect(rows[0].n).toBe(1);
    c.socket.close();
  });

  it('closes a malformed frame with 4400 after an error frame and writes nothing; a frame cannot speak for another agent', async () => {
    for (const bad of [
      '{"type":"events","events":[{"reqId":"x","type":101,"ts":1}]}',
      'not json',
      JSON.stringify({ type: 'hello', token: 'x' }),
    ]) {
      const c = await rawClient(g.ws);
      if (bad.includes('"events"'))
        c.send(bad); // events before hello
      else c.send(bad);
      expect(await c.closed).toBe(4400);
      expect(c.frames[0]).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
    }
    expect(await written('malformed')).toBe(0);
    // A frame cannot name another agent: an `agentId` is a field protocol 1 does not know, so it is
    // dropped (docs/PROTOCOL.md "Versions and compatibility") and the event is the token's agent's.
    const c = await helloClient(g, 'malformed');
    const e = click();
    c.send({ type: 'events', events: [e], agentId: 'someone-else' });
    expect(await c.next('receipt')).toMatchObject({ accepted: [e.reqId] });
    expect(await written('malformed')).toBe(1);
    expect(await written('someone-else')).toBe(0);
    c.socket.close();
  });

  it('rejects bad events inside a good frame in the receipt', async () => {
    const c = await helloClient(g, 'bad-events');
    c.send({
      type: 'events',
      events: [
        { reqId: 'internal', type: 3001, ts: Date.now() },
        { reqId: 'noticket', type: 3, ts: Date.now() },
      ],
    });
    const r = await c.next('receipt');
    expect(r).toMatchObject({ accepted: [], duplicates: [] });
    expect((r.rejected as { code: string }[]).map((x) => x.code)).toEqual(['BAD_EVENT', 'BAD_EVENT']);
    expect(await written('bad-events')).toBe(0);
    c.socket.close();
  });

  it('closes an oversize frame with 1009', async () => {
    const c = await helloClient(g, 'big');
    c.send({ type: 'events', events: [click({ data: { blob: 'x'.repeat(70 * 1024) } })] });
    expect(await c.closed).toBe(1009);
    expect(await written('big')).toBe(0);
  });

  it('answers bad, expired and foreign tokens with 4401, non-agent tokens and wrong origins with 4403', async () => {
    const cases: [string, Promise<string>, number][] = [
      ['garbage', Promise.resolve('not-a-jwt'), 4401],
      ['expired', g.token('t1', 'agent', { ttlSec: -10 }), 4401],
      ['other secret', g.token('t1', 'agent', { secret: 'some-other-secret-0123456789' }), 4401],
      ['supervisor', g.token('t1', 'supervisor'), 4403],
    ];
    for (const [, token, code] of cases) {
      const c = await rawClient(g.ws);
      c.send({ type: 'hello', token: await token, deviceId: 'tab-1' });
      expect(await c.closed).toBe(code);
      expect(c.frames[0]).toMatchObject({ type: 'error' });
    }
    const o = await rawClient(g.ws, { origin: 'https://evil.example' });
    expect(await o.closed).toBe(4403);
    expect(o.frames[0]).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    expect(await written('t1')).toBe(0);
  });

  it('keeps tenants apart over HTTP and answers a caller over its quota with 429', async () => {
    const mine = await helloClient(g, 'tenant-a-agent');
    mine.socket.close();
    const foreign = await g.token('boss', 'supervisor', { tenant: 'some-other-tenant' });
    const r = await fetch(`${g.http}/v1/agents/tenant-a-agent`, { headers: { authorization: `Bearer ${foreign}` } });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'NOT_FOUND' });
    const self = await g.token('tenant-a-agent');
    const other = await fetch(`${g.http}/v1/agents/someone-else`, { headers: { authorization: `Bearer ${self}` } });
    expect(other.status).toBe(403);
    const quota = await g.token('quota-user', 'service');
    const codes = await Promise.all(
      Array.from({ length: 130 }, () =>
        fetch(`${g.http}/v1/agents/tenant-a-agent`, { headers: { authorization: `Bearer ${quota}` } }).then(
          (x) => x.status,
        ),
      ),
    );
    expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(100);
    expect(codes).toContain(429);
  });

  it('closes a connection that sends no hello within 5 s with 4408', async () => {
    const c = await rawClient(g.ws);
    expect(await c.closed).toBe(4408);
    expect(c.frames[0]).toMatchObject({ type: 'error', code: 'HELLO_TIMEOUT' });
  }, 10_000);

  it('closes a flood with 4429 and does not write the frame that broke the limit', async () => {
    const c = await helloClient(g, 'flood');
    // 100 events/s per connection, burst 200: the third frame of 100 breaks it.
    for (let i = 0; i < 3; i++) c.send({ type: 'events', events: Array.from({ length: 100 }, () => click()) });
    expect(await c.closed).toBe(4429);
    expect(c.frames.at(-1)).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    expect(c.frames.filter((f) => f.type === 'receipt')).toHaveLength(2);
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n FROM event_dedupe WHERE tenant = $1 AND agent_id = $2',
      [h.tenant, 'flood'],
    );
    expect(rows[0].n).toBe(200);
  });

  it('counts two tabs of one agent as one presence', async () => {
    const agent = 'two-tabs';
    const a = await helloClient(g, agent, 'tab-a');
    const b = await helloClient(g, agent, 'tab-b');
    await eventually(
      async () => {
        const s = await live(h, agent);
        return s.devices['tab-a']?.connected && s.devices['tab-b']?.connected;
      },
      10_000,
      'both devices connected',
    );
    const res = await fetch(`${g.http}/v1/agents/${agent}`, {
      headers: { authorization: `Bearer ${await g.token(agent)}` },
    });
    expect(await res.json()).toMatchObject({ onApp: true, devices: ['tab-a', 'tab-b'] });
    a.socket.close();
    await eventually(
      async () => (await live(h, agent)).devices['tab-a']?.connected === false,
      10_000,
      'tab-a disconnected',
    );
    // Past the reconnect grace, one tab is still there: on app, and no NOT_ON_APP anywhere.
    await new Promise((r) => setTimeout(r, 2500));
    const s = await live(h, agent);
    expect(s.onApp).toBe(true);
    expect((await statusLog(h, agent)).some((r) => r.cause === 'NOT_ON_APP')).toBe(false);
    b.socket.close();
  });

  it('pushes committed changes to every device of the agent and keeps them for GET /v1/messages', async () => {
    const agent = 'pushed';
    const a = await helloClient(g, agent, 'tab-a');
    const b = await helloClient(g, agent, 'tab-b');
    // What the dispatcher's push lane does for a committed outbox row.
    const { rows } = await h.pool.query(
      `INSERT INTO push_messages (tenant, agent_id, outbox_id, topic, data) VALUES ($1, $2, $3, 'status', $4) RETURNING seq`,
      [h.tenant, agent, -Date.now(), { status: 'IDLE', statusCode: 1001, cause: 'NO_TASK' }],
    );
    await h.pool.query(`SELECT pg_notify('vigil_push', $1)`, [
      JSON.stringify({ tenant: h.tenant, agentId: agent, seq: rows[0].seq }),
    ]);
    for (const c of [a, b])
      expect(await c.next('push')).toMatchObject({
        msgId: `m-${rows[0].seq}`,
        topic: 'status',
        data: { status: 'IDLE' },
      });
    const token = await g.token(agent);
    const all = await (await fetch(`${g.http}/v1/messages`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(all.messages).toEqual([
      { msgId: `m-${rows[0].seq}`, topic: 'status', data: { status: 'IDLE', statusCode: 1001, cause: 'NO_TASK' } },
    ]);
    const after = await (
      await fetch(`${g.http}/v1/messages?after=m-${rows[0].seq}`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    expect(after.messages).toEqual([]);
    a.socket.close();
    b.socket.close();
  });

  it('takes events over HTTP while the websocket is down, with the same receipt', async () => {
    const agent = 'fallback';
    const token = await g.token(agent);
    const e = click();
    const post = (body: unknown) =>
      fetch(`${g.http}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const r = await post({ deviceId: 'tab-1', events: [e] });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ type: 'receipt', accepted: [e.reqId], duplicates: [], rejected: [] });
    expect(await (await post({ deviceId: 'tab-1', events: [e] })).json()).toMatchObject({ duplicates: [e.reqId] });
    expect((await post({ deviceId: 'tab-1' })).status).toBe(400);
    // A click is a fact in HCM at receipt; a work-status request also reaches the workflow at once.
    const { rows } = await h.pool.query('SELECT last_action_at FROM status_table WHERE tenant = $1 AND agent_id = $2', [
      h.tenant,
      agent,
    ]);
    expect(rows[0].last_action_at).not.toBeNull();
    const busy = { ...click(), type: 2, data: { status: 'BUSY' } };
    expect(await (await post({ deviceId: 'tab-1', events: [busy] })).json()).toMatchObject({ accepted: [busy.reqId] });
    await waitForStatus(h, agent, 'BUSY', 10_000);
    await eventually(
      async () => (await live(h, agent)).timeline.some((t) => t.kind === 'events'),
      10_000,
      'the request to reach the workflow',
    );
  });

  it('sends far fewer signals than events for a busy agent: HCM has every action at once, a digest brings the latest to the workflow', async () => {
    const c = await helloClient(g, 'busy');
    const before = { ...g.app.vigil.coalescer.stats };
    for (let i = 0; i < 40; i++) {
      c.send({ type: 'events', events: [click()] });
      await new Promise((r) => setTimeout(r, 25));
    }
    await eventually(async () => c.frames.filter((f) => f.type === 'receipt').length === 40, 10_000, 'forty receipts');
    const { rows } = await h.pool.query('SELECT last_action_at FROM status_table WHERE tenant = $1 AND agent_id = $2', [
      h.tenant,
      'busy',
    ]);
    const last = rows[0].last_action_at.getTime();
    await eventually(
      async () => (await live(h, 'busy')).lastActionAt === last,
      10_000,
      'the digest with the last click',
    );
    const s = g.app.vigil.coalescer.stats;
    expect(s.eventsIn - before.eventsIn).toBe(40);
    expect(s.signals - before.signals).toBeLessThanOrEqual(4); // ~1 s of clicks: a digest per second at most
    c.socket.close();
  });
});
