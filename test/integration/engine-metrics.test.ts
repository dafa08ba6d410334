// The worker's Prometheus endpoint (README "Engine metrics") after real transitions on real Temporal
// and Postgres: decisions per kind, rejections by reason, commit latency, window lateness,
// reminders, Temporal's own worker metrics (continue-as-new, sticky cache) and the overdue gauge.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgent } from '../../db/agents.ts';
import { recordEvents } from '../../db/intake.ts';
import { serveMetrics } from '../../workers/metrics.ts';
import { createWorkerMetrics, type WorkerMetrics } from '../../workers/worker-metrics.ts';
import { setAgentStatus, signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { createHarness, eventually, setRule, type Harness } from '../harness.ts';
import { ev, waitForStatus } from './agent-helpers.ts';

/** `name{labels} value` lines of a metric in the Prometheus text, as label-text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}
const sum = (m: Map<string, number>, match: (labels: string) => boolean = () => true) =>
  [...m].filter(([l]) => match(l)).reduce((n, [, v]) => n + v, 0);
const one = (m: Map<string, number>, labels: string) => m.get(labels);

describe('engine metrics on the worker endpoint', () => {
  let h: Harness;
  let metrics: WorkerMetrics;
  let server: { port: number; close(): Promise<void> };
  // A region of its own: the overdue gauges read only this test's agents.
  const region = `m-${randomUUID().slice(0, 6)}`;
  const scrape = async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();

  beforeAll(async () => {
    h = await createHarness('engine-metrics');
    // Short windows: IDLE 1 s after the last task, a reminder at 2 s of silence, ABNORMAL at 4 s, OFFLINE 2 s later.
    await setRule(h, 'fast', {
      windows: {
        idleAfterNoTaskSec: 1,
        remindAfterNoActionSec: 2,
        abnormalAfterNoActionSec: 4,
        offlineAfterAbnormalSec: 2,
      },
    });
    metrics = createWorkerMetrics(undefined, { pool: h.pool, region, overdueEveryMs: 0 });
    server = await serveMetrics(metrics.registry, 0);
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('shows an undecided window as overdue until a worker decides it', async () => {
    // An agent HCM knows but no workflow decides yet (say, every worker of its queue is down).
    await ensureAgent(h.pool, h.tenant, 'ghost', region);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await scrape();
    const oldest = one(samples(before, 'vigil_overdue_deadline_seconds'), '{action="IDLE"}')!;
    // Created (ONLINE, no task) ≥ 3 s ago under a 1 s IDLE window: due ≥ 2 s ago.
    expect(oldest).toBeGreaterThanOrEqual(1.9);
    expect(oldest).toBeLessThan(30);
    expect(one(samples(before, 'vigil_overdue_agents'), '{action="IDLE"}')).toBe(1);
    expect(one(samples(before, 'vigil_overdue_deadline_seconds'), '{action="ABNORMAL"}')).toBe(0);

    await h.startWorker({ region, metrics });
    await signalAgent(h.client, h.taskQueue, { tenant: h.tenant, agentId: 'ghost' }, { refresh: true });
    await waitForStatus(h, 'ghost', 'IDLE', 10_000);
    await eventually(
      async () => one(samples(await scrape(), 'vigil_overdue_agents'), '{action="IDLE"}') === 0,
      10_000,
      'the IDLE window to be decided',
    );
  });

  it('counts decisions per kind, rejections by reason, reminders, window lateness, commit latency and continue-as-new', async () => {
    const agentId = 'm1';
    // A small history limit: the run rolls over (continue-as-new) as its windows fire.
    const events = await recordEvents(h.pool, h.tenant, agentId, [ev(101)]);
    await signalAgent(h.client, h.taskQueue, { tenant: h.tenant, agentId, historyLimit: 12 }, { events });
    // ONLINE → IDLE (1 s) → reminder (2 s) → ABNORMAL (4 s) → OFFLINE (6 s).
    await waitForStatus(h, agentId, 'OFFLINE', 20_000);

    // A supervisor's request HCM refuses: the agent's region is now another one's.
    await setAgentStatus(
      h.client,
      h.taskQueue,
      { tenant: h.tenant, agentId: 'm2' },
      { status: 'BUSY', requestId: randomUUID(), actor: { kind: 'supervisor', id: 'sup' } },
    );
    await h.pool.query(`UPDATE agents SET region = 'far' WHERE tenant = $1 AND agent_id = 'm2'`, [h.tenant]);
    const refused = await setAgentStatus(
      h.client,
      h.taskQueue,
      { tenant: h.tenant, agentId: 'm2' },
      { status: 'ONLINE', requestId: randomUUID(), actor: { kind: 'supervisor', id: 'sup' } },
    );
    expect(refused).toMatchObject({ committed: false, reason: 'REGION_NOT_OWNER' });

    const text = await eventually(
      async () => {
        const t = await scrape();
        return sum(samples(t, 'temporal_workflow_continue_as_new')) >= 1 ? t : undefined;
      },
      10_000,
      "Temporal's continue-as-new counter",
    );
    const decisions = samples(text, 'vigil_decisions_total');
    for (const kind of [
      '{to="IDLE",cause="NO_TASK",actor="system",outcome="committed"}',
      '{to="ABNORMAL",cause="NOT_ON_APP",actor="system",outcome="committed"}',
      '{to="OFFLINE",cause="ABNORMAL_TIMEOUT",actor="system",outcome="committed"}',
      '{to="BUSY",cause="SUPERVISOR",actor="supervisor",outcome="committed"}',
      '{to="ONLINE",cause="SUPERVISOR",actor="supervisor",outcome="rejected"}',
    ])
      expect(decisions.get(kind), kind).toBeGreaterThanOrEqual(1);
    expect(one(samples(text, 'vigil_hcm_rejections_total'), '{reason="REGION_NOT_OWNER"}')).toBeGreaterThanOrEqual(1);
    expect(one(samples(text, 'vigil_reminders_total'), '{outcome="sent",reason=""}')).toBeGreaterThanOrEqual(1);

    // Lateness per window, both stages; plausible on an idle machine: under a few seconds.
    const lateCount = samples(text, 'vigil_window_lateness_seconds_count');
    const lateSum = samples(text, 'vigil_window_lateness_seconds_sum');
    for (const w of ['IDLE', 'ABNORMAL', 'OFFLINE'])
      for (const stage of ['fired', 'committed']) {
        const labels = `{window="${w}",stage="${stage}"}`;
        expect(lateCount.get(labels), labels).toBeGreaterThanOrEqual(1);
        expect(lateSum.get(labels)! / lateCount.get(labels)!, labels).toBeLessThan(5);
      }
    const late = (w: string, stage: string) => lateSum.get(`{window="${w}",stage="${stage}"}`)!;
    // The commit follows the firing.
    expect(late('OFFLINE', 'committed')).toBeGreaterThanOrEqual(late('OFFLINE', 'fired'));

    const commitCount = samples(text, 'vigil_hcm_commit_seconds_count');
    const commitSum = samples(text, 'vigil_hcm_commit_seconds_sum');
    expect(commitCount.get('{outcome="committed"}')).toBeGreaterThanOrEqual(5);
    expect(commitSum.get('{outcome="committed"}')! / commitCount.get('{outcome="committed"}')!).toBeLessThan(1);
    expect(commitCount.get('{outcome="rejected"}')).toBeGreaterThanOrEqual(1);

    // Temporal's worker metrics on the same endpoint: the roll-over and the sticky cache.
    const cans = samples(text, 'temporal_workflow_continue_as_new');
    expect(sum(cans, (l) => l.includes('workflow_type="agentWorkflow"'))).toBeGreaterThanOrEqual(1);
    const runs = h.client.workflow.list({ query: `WorkflowId = '${agentWorkflowId(h.tenant, agentId)}'` });
    let closed = 0;
    for await (const r of runs) if (r.status.name === 'CONTINUED_AS_NEW') closed++;
    expect(closed).toBeGreaterThanOrEqual(1);
    expect(samples(text, 'temporal_sticky_cache_size').size).toBeGreaterThanOrEqual(1);
    expect(one(samples(text, 'vigil_worker_cached_workflows'), `{queue="${h.taskQueue}"}`)).toBeGreaterThanOrEqual(1);
    process.stdout.write(
      `engine metrics: lateness sum/count ${[...lateSum].map(([l, v]) => `${l}=${(v / lateCount.get(l)!).toFixed(3)}s`).join(' ')}; ` +
        `commit mean ${((commitSum.get('{outcome="committed"}')! / commitCount.get('{outcome="committed"}')!) * 1000).toFixed(1)} ms; ` +
        `continue-as-new ${sum(cans)}\n`,
    );
  });
});
