// Region ownership switch drills (README "Regions and business lines"): two workers of different
// regions against the same Postgres and Temporal, agents mid-window, a business line switched east →
// west through the admin API. Every window is committed exactly once, after the switch by the new
// owner, and the timeline shows the switch. Real gateway app (inject), Postgres and Temporal.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchRegions } from '../../db/agents.ts';
import { signToken, type Role } from '../../platform/auth.ts';
import { signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { agentTaskQueue, type Routing } from '../../workflows/routing.ts';
import { createHarness, eventually, recordHistory, setRule, type Harness } from '../harness.ts';
import { assertChain, live, statusLog, type LogRow } from './agent-helpers.ts';
import { harnessGateway } from './gateway-helpers.ts';

const SECRET = 'regions-test-secret-0123456789abcdef';
const ROUTING: Routing = { regional: true, isolatedLines: [] };
/** Seconds: ONLINE → IDLE at 2, → ABNORMAL at 4 (no action since start), → OFFLINE 3 later. */
const WINDOWS = {
  idleAfterNoTaskSec: 2,
  remindAfterNoActionSec: 4,
  abnormalAfterNoActionSec: 4,
  offlineAfterAbnormalSec: 3,
};
const WINDOW_SEC: Record<string, number> = {
  IDLE: WINDOWS.idleAfterNoTaskSec,
  ABNORMAL: WINDOWS.abnormalAfterNoActionSec,
  OFFLINE: WINDOWS.offlineAfterAbnormalSec,
};

interface Row extends LogRow {
  id: string;
  region: string | null;
  committed_at: Date;
  window_start: Date;
}

describe('region ownership switch', () => {
  let h: Harness;
  let app: FastifyInstance;
  const call = async (method: 'GET' | 'PUT' | 'POST', url: string, role: Role, body?: object) => {
    const token = await signToken(SECRET, { tenant: h.tenant, role, sub: `${role}-1` });
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(body ? { payload: body } : {}),
    });
    return { status: res.statusCode, body: res.json() };
  };
  const rows = async (agentId: string) =>
    (
      await h.pool.query<Row>(
        `SELECT id, version, from_status, to_status, cause, dedupe_key, region, committed_at, window_start
           FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2 ORDER BY version`,
        [h.tenant, agentId],
      )
    ).rows;
  /** Starts the agent's workflow on the queue the gateway routes it to (an empty signal). */
  const start = async (agentId: string) =>
    signalAgent(h.client, await app.vigil.queues.queueFor(h.tenant, agentId), { tenant: h.tenant, agentId }, {});
  const queueOf = async (agentId: string) =>
    (await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agentId)).describe()).taskQueue;

  beforeAll(async () => {
    h = await createHarness('regions');
    await h.startWorker({ region: 'east', routing: ROUTING });
    await h.startWorker({ region: 'west', routing: ROUTING });
    // Agents created through this gateway belong to east until switched.
    app = harnessGateway(h, SECRET, { region: 'east', routing: ROUTING });
    await app.ready();
    await setRule(h, 'drill', { scope: { businessLine: 'sales' }, windows: WINDOWS });
    await setRule(h, 'drill-support', { scope: { businessLine: 'support' }, windows: WINDOWS });
  });
  /** Runs that moved, kept for replay.test.ts with VIGIL_RECORD_HISTORIES=1 (like the engine tests'). */
  const recorded: [file: string, agentId: string, runId: string][] = [];
  afterAll(async () => {
    for (const [file, agentId, runId] of recorded) await recordHistory(agentWorkflowId(h.tenant, agentId), file, runId);
    await app?.close();
    await h?.close();
  });

  it('validates the switch routes: roles, the id grammar for regions, a reason, a known agent', async () => {
    await call('PUT', '/v1/agents/v-1', 'admin', { businessLine: 'nobody' });
    const cases: [string, string, Role, object, number, string][] = [
      ['PUT', '/v1/agents/v-1/region', 'supervisor', { region: 'west', reason: 'x' }, 403, 'FORBIDDEN'],
      ['POST', '/v1/regions/switch', 'supervisor', { region: 'west', reason: 'x' }, 403, 'FORBIDDEN'],
      ['PUT', '/v1/agents/v-1/region', 'admin', { region: 'we/st', reason: 'x' }, 400, 'BAD_REQUEST'],
      ['PUT', '/v1/agents/v-1/region', 'admin', { region: 'west' }, 400, 'BAD_REQUEST'],
      ['PUT', '/v1/agents/v-1/region', 'admin', { region: 'west', reason: '' }, 400, 'BAD_REQUEST'],
      ['POST', '/v1/regions/switch', 'admin', { region: 'west', reason: 'x', businessLine: '' }, 400, 'BAD_REQUEST'],
      ['POST', '/v1/regions/switch', 'admin', { region: 'west', reason: 'x', extra: 1 }, 400, 'BAD_REQUEST'],
      ['PUT', '/v1/agents/nobody/region', 'admin', { region: 'west', reason: 'x' }, 404, 'NOT_FOUND'],
    ];
    for (const [method, url, role, body, status, code] of cases) {
      const r = await call(method as 'PUT', url, role, body);
      expect(r, `${method} ${url} ${JSON.stringify(body)}`).toMatchObject({
        status,
        body: { code, message: expect.any(String) },
      });
    }
    const { rows: left } = await h.pool.query(`SELECT region FROM agents WHERE tenant = $1 AND agent_id = 'v-1'`, [
      h.tenant,
    ]);
    expect(left).toEqual([{ region: 'east' }]);
    // One agent, by itself: written with who and why; a second switch to the same region moves nothing.
    expect(await call('PUT', '/v1/agents/v-1/region', 'admin', { region: 'west', reason: 'drill one' })).toEqual({
      status: 200,
      body: { agentId: 'v-1', region: 'west', from: 'east', switched: 1, reached: 0 },
    });
    expect(
      (await call('PUT', '/v1/agents/v-1/region', 'admin', { region: 'west', reason: 'again' })).body,
    ).toMatchObject({
      switched: 0,
    });
    const { rows: log } = await h.pool.query(
      `SELECT from_region, to_region, actor, reason FROM agent_region_log WHERE tenant = $1 AND agent_id = 'v-1'`,
      [h.tenant],
    );
    expect(log).toEqual([{ from_region: 'east', to_region: 'west', actor: 'admin:admin-1', reason: 'drill one' }]);
  });

  it('switches a business line mid-window: one commit per window, by west after the switch', async () => {
    const sales = ['s-1', 's-2', 's-3', 's-4', 's-5', 's-6'];
    const support = ['p-1', 'p-2'];
    for (const id of sales) await call('PUT', `/v1/agents/${id}`, 'admin', { businessLine: 'sales' });
    for (const id of support) await call('PUT', `/v1/agents/${id}`, 'admin', { businessLine: 'support' });
    expect(await app.vigil.queues.queueFor(h.tenant, 's-1')).toBe(`${h.taskQueue}@east`);
    // Staggered starts: at the switch some agents wait for IDLE, some for ABNORMAL, some for OFFLINE.
    for (const id of [...support, ...sales]) {
      const handle = await start(id);
      if (id === 's-6') recorded.push(['region-switch-moved', id, handle.signaledRunId]);
      await new Promise((r) => setTimeout(r, 700));
    }
    for (const id of [...sales, ...support]) expect(await queueOf(id)).toBe(`${h.taskQueue}@east`);

    const switched = await call('POST', '/v1/regions/switch', 'admin', {
      region: 'west',
      businessLine: 'sales',
      reason: 'drill: east maintenance',
    });
    expect(switched).toEqual({
      status: 200,
      body: { region: 'west', businessLine: 'sales', switched: sales.length, reached: sales.length },
    });
    // Every commit written after this point was made after the switch.
    const { rows: maxRows } = await h.pool.query<{ max: string }>(
      'SELECT coalesce(max(id), 0)::text AS max FROM unified_work_status_log WHERE tenant = $1',
      [h.tenant],
    );
    const lastBefore = BigInt(maxRows[0]!.max);

    for (const id of [...sales, ...support])
      await eventually(async () => (await statusLog(h, id)).length === 3, 30_000, `${id} to reach OFFLINE`);
    // Nothing more is due: a duplicate would have had time to land.
    await new Promise((r) => setTimeout(r, 1500));

    const lateness: number[] = [];
    let before = 0;
    for (const id of sales) {
      const log = await rows(id);
      assertChain(log);
      expect(
        log.map((r) => r.to_status),
        id,
      ).toEqual(['IDLE', 'ABNORMAL', 'OFFLINE']);
      expect(new Set(log.map((r) => r.dedupe_key)).size).toBe(3);
      for (const r of log) {
        if (BigInt(r.id) > lastBefore) expect(r.region, `${id} ${r.to_status} after the switch`).toBe('west');
        else {
          expect(r.region).toBe('east');
          before++;
        }
        lateness.push(r.committed_at.getTime() - (r.window_start.getTime() + WINDOW_SEC[r.to_status]! * 1000));
      }
      expect(await queueOf(id)).toBe(`${h.taskQueue}@west`);
    }
    // The drill caught agents mid-way: some windows before the switch, most after.
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(sales.length * 3);
    // No gap: every window committed within moments of its deadline, across the switch too.
    expect(Math.max(...lateness), `lateness ms ${lateness.join(', ')}`).toBeLessThan(2500);
    console.log(
      `region drill: ${sales.length * 3 - before} of ${sales.length * 3} windows after the switch; lateness ms max ${Math.max(...lateness)}, median ${[...lateness].sort((a, b) => a - b)[Math.floor(lateness.length / 2)]}`,
    );
    // The line not switched stays in east.
    for (const id of support) {
      expect((await rows(id)).map((r) => r.region)).toEqual(['east', 'east', 'east']);
      expect(await queueOf(id)).toBe(`${h.taskQueue}@east`);
    }

    // The timeline shows the switch: HCM's record of it and the workflow's move.
    const t = await call('GET', '/v1/agents/s-6/timeline', 'supervisor');
    expect(t.status).toBe(200);
    const details = (t.body.timeline as { source: string; kind: string; detail: string }[]).map(
      (e) => `${e.source}/${e.kind}: ${e.detail}`,
    );
    expect(details).toContain('hcm/region: region east → west by admin:admin-1: drill: east maintenance');
    expect(details).toContain('workflow/route: region east → west');
    expect(details).toContain(`workflow/route: moves from task queue ${h.taskQueue}@east to ${h.taskQueue}@west`);
    expect(
      details.some((d) => /^hcm\/commit: v3 ABNORMAL→OFFLINE .* in west$/.test(d)),
      details.join('\n'),
    ).toBe(true);
  });

  it('a workflow that misses the refresh is refused by HCM at its next window, moves and commits it there once', async () => {
    const id = 'quiet-1';
    await call('PUT', `/v1/agents/${id}`, 'admin', { businessLine: 'sales' });
    recorded.push(['region-not-owner-moved', id, (await start(id)).signaledRunId]);
    await eventually(async () => (await live(h, id)).next?.action === 'IDLE', 10_000, 'the IDLE window');
    // Switched in Postgres only: no signal, so east learns it from HCM's refusal of its IDLE commit.
    await switchRegions(h.pool, h.tenant, { agentId: id, region: 'west', actor: 'admin:test', reason: 'no signal' });
    await eventually(async () => (await statusLog(h, id)).length === 3, 30_000, `${id} to reach OFFLINE`);
    await new Promise((r) => setTimeout(r, 1000));
    const log = await rows(id);
    assertChain(log);
    expect(log.map((r) => [r.to_status, r.region])).toEqual([
      ['IDLE', 'west'],
      ['ABNORMAL', 'west'],
      ['OFFLINE', 'west'],
    ]);
    const s = await live(h, id);
    const details = s.timeline.map((e) => `${e.kind}: ${e.detail}`);
    expect(details).toContain(`reject: ONLINE→IDLE: REGION_NOT_OWNER, redone on ${h.taskQueue}@west`);
    expect(await queueOf(id)).toBe(`${h.taskQueue}@west`);
  });

  it('a workflow started on a stale queue moves to its owner before deciding anything', async () => {
    const id = 'stale-1';
    await call('PUT', `/v1/agents/${id}`, 'admin', { businessLine: 'sales' });
    await switchRegions(h.pool, h.tenant, { agentId: id, region: 'west', actor: 'admin:test', reason: 'stale' });
    // As a gateway with an old route would: started on east's queue.
    await signalAgent(
      h.client,
      agentTaskQueue(h.taskQueue, { region: 'east', businessLine: 'sales' }, ROUTING),
      {
        tenant: h.tenant,
        agentId: id,
      },
      {},
    );
    await eventually(async () => (await queueOf(id)) === `${h.taskQueue}@west`, 10_000, 'the move to west');
    await eventually(async () => (await statusLog(h, id)).length === 1, 10_000, `${id} to go IDLE`);
    expect((await rows(id)).map((r) => r.region)).toEqual(['west']);
  });
});
