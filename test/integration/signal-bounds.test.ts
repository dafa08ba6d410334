// Signals to agent workflows are bounded: a backlog that grew while Temporal was out of reach goes
// in several signals under the byte budget (Temporal refuses payloads over 2 MB), from the coalescer
// and from the sweeper; and every Temporal call has a deadline, so a hung frontend hangs nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCore } from '../../gateway/core.ts';
import { MAX_SIGNAL_BYTES } from '../../gateway/coalescer.ts';
import { agentWorkflowId, eventsSignal } from '../../workflows/contract.ts';
import type { AgentEvent } from '../../workflows/model.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { SECRET, startGateway, type TestGateway } from './gateway-helpers.ts';
import { temporalRelay } from './temporal-relay.ts';

const PAD = 'p'.repeat(900);

/** Frames of urgent events (each ticket opened and closed again, so IDLE starts and ends): ~2.5 MB in all. */
function backlog(frames: number): { reqId: string; type: number; ts: number; ticketId: string; data: object }[][] {
  return Array.from({ length: frames }, (_, f) =>
    Array.from({ length: 30 }, (_, i) => ({
      reqId: randomUUID(),
      type: i % 2 === 0 ? 3 : 5,
      ts: Date.now(),
      ticketId: `t-${f}-${i >> 1}`,
      data: { pad: PAD },
    })),
  );
}

describe('bounded signals and Temporal deadlines', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  beforeAll(async () => {
    h = await createHarness('bounds');
    await setRule(h, 'slow', {
      windows: {
        idleAfterNoTaskSec: 600,
        remindAfterNoActionSec: 600,
        abnormalAfterNoActionSec: 900,
        offlineAfterAbnormalSec: 600,
      },
    });
    w = await h.startWorker();
    g = await startGateway(h, { leaseSec: 1 });
  });
  afterAll(async () => {
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  const pendingBytes = async (agentId: string) => {
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n, coalesce(sum(octet_length(events::text)), 0)::int AS bytes FROM intake_pending WHERE tenant = $1 AND agent_id = $2',
      [h.tenant, agentId],
    );
    return rows[0] as { n: number; bytes: number };
  };

  /** The `events` signals the agent's workflow received, as sent (JSON payloads). */
  async function signalsReceived(agentId: string): Promise<{ bytes: number; events: AgentEvent[] }[]> {
    const history = await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agentId)).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const s = e.workflowExecutionSignaledEventAttributes;
      const data = s?.signalName === eventsSignal.name ? s.input?.payloads?.[0]?.data : undefined;
      return data
        ? [{ bytes: data.length, events: (JSON.parse(Buffer.from(data).toString()).events ?? []) as AgentEvent[] }]
        : [];
    });
  }

  async function expectDelivered(agentId: string, frames: { reqId: string }[][]) {
    // The last part's signal is accepted before its rows go; the history read may trail that by a
    // moment (the dev server reads SQLite in WAL mode from other connections), so read until complete.
    const want = frames.flat().length;
    const count = async () =>
      new Set((await signalsReceived(agentId)).flatMap((s) => s.events.map((e) => e.reqId))).size;
    await eventually(async () => (await count()) >= want, 15_000, 'every event in the workflow history').catch(
      () => {},
    );
    const signals = await signalsReceived(agentId);
    for (const s of signals) expect(s.bytes).toBeLessThanOrEqual(MAX_SIGNAL_BYTES);
    // In order; a part retried after a deadline may arrive twice, which the workflow drops by reqId.
    const got = [...new Set(signals.flatMap((s) => s.events.map((e) => e.reqId)))];
    expect(got).toEqual(frames.flat().map((e) => e.reqId));
    expect(signals.length).toBeGreaterThan(4);
  }

  it('a backlog buffered while signals fail reaches the workflow in parts once Temporal is back', async () => {
    const agent = 'backlog';
    const relay = await temporalRelay(inject('temporalAddress'));
    const gw = await startGateway(h, { leaseSec: 30, temporalTimeoutMs: 1000 }, { temporal: relay.client });
    try {
      await gw.app.vigil.ensureAgent(h.tenant, agent);
      relay.set('cut');
      const frames = backlog(90);
      for (const f of frames)
        expect((await gw.app.vigil.ingest(h.tenant, agent, 'tab-1', f, 'ws')).accepted).toHaveLength(f.length);
      await eventually(
        async () => gw.app.vigil.coalescer.stats.failures >= 2,
        30_000,
        'signals to fail while Temporal is cut off',
      );
      expect((await pendingBytes(agent)).bytes).toBeGreaterThan(2 * 1024 * 1024);

      relay.set('open');
      await eventually(async () => (await pendingBytes(agent)).n === 0, 90_000, 'the backlog to reach the workflow');
      await expectDelivered(agent, frames);
    } finally {
      await gw.close();
      await relay.close();
    }
  });

  it("the sweeper forwards a dead gateway's backlog in parts too", async () => {
    const agent = 'swept-backlog';
    const relay = await temporalRelay(inject('temporalAddress'));
    // A gateway that never reaches Temporal, then dies: its lease runs out and the sweeper takes over.
    const gatewayId = `dead-${randomUUID().slice(0, 8)}`;
    const dead = createCore({
      pool: h.pool,
      temporal: relay.client,
      namespace: 'default',
      taskQueue: h.taskQueue,
      jwtSecret: SECRET,
      gatewayId,
      tuning: { temporalTimeoutMs: 300 },
    });
    await h.pool.query(`INSERT INTO gateway_leases (gateway_id, expires_at) VALUES ($1, now() + interval '1 hour')`, [
      gatewayId,
    ]);
    relay.set('cut');
    await dead.ensureAgent(h.tenant, agent);
    const frames = backlog(90);
    for (const f of frames)
      expect((await dead.ingest(h.tenant, agent, 'tab-1', f, 'ws')).accepted).toHaveLength(f.length);
    await dead.coalescer.flushAll();
    await relay.close();
    expect((await pendingBytes(agent)).bytes).toBeGreaterThan(2 * 1024 * 1024);
    await h.pool.query(`UPDATE gateway_leases SET expires_at = now() - interval '1 second' WHERE gateway_id = $1`, [
      gatewayId,
    ]);

    await eventually(
      async () => {
        await g.app.vigil.presence.sweep();
        return (await pendingBytes(agent)).n === 0;
      },
      90_000,
      'the sweeper to forward the backlog',
    );
    await expectDelivered(agent, frames);
  });

  it('a Temporal frontend that never answers costs a request its deadline, not forever', async () => {
    const relay = await temporalRelay(inject('temporalAddress'));
    const gw = await startGateway(h, { temporalTimeoutMs: 1000 }, { temporal: relay.client });
    try {
      relay.set('stall');
      const token = await gw.token('hung', 'admin');
      const timed = async (path: string, init: RequestInit = {}) => {
        const t0 = Date.now();
        const r = await fetch(`${gw.http}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
        });
        return { status: r.status, body: await r.json(), ms: Date.now() - t0 };
      };
      const ready = await timed('/readyz');
      expect(ready).toMatchObject({ status: 503, body: { checks: { temporal: 'down' } } });
      const update = await timed('/v1/agents/hung/status', { method: 'PUT', body: JSON.stringify({ status: 'BUSY' }) });
      const query = await timed('/v1/agents/hung/live');
      for (const r of [update, query]) expect(r).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
      for (const r of [ready, update, query]) expect(r.ms).toBeLessThan(8000);
    } finally {
      await gw.close();
      await relay.close();
    }
  });
});
