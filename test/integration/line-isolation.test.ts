// Business-line isolation (README "Regions and business lines"): two lines on task queues of their
// own, each served by its own worker. With line A's worker stopped, line B's agents still go IDLE on
// time; A's agents catch up once A's worker is back, each window committed once. The per-line
// decision metrics show both. Real gateway app, Postgres and Temporal.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAgent } from '../../db/agents.ts';
import { signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import type { Routing } from '../../workflows/routing.ts';
import { createWorkerMetrics, decisionTrigger } from '../../workers/worker-metrics.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { live, statusLog } from './agent-helpers.ts';
import { harnessGateway } from './gateway-helpers.ts';

const ROUTING: Routing = { regional: false, isolatedLines: ['line-a', 'line-b'] };
const IDLE_SEC = 4;

describe('business-line isolation', () => {
  let h: Harness;
  let app: FastifyInstance;
  let workerA: RunningWorker;
  const metrics = createWorkerMetrics(ROUTING);
  const decided: { agentId: string; line: string; latencyMs: number }[] = [];
  const startWorker = (lanes: string[]) =>
    h.startWorker({
      routing: ROUTING,
      lanes,
      onCommitted(c, facts, at) {
        metrics.onCommitted(c, facts, at);
        const t = decisionTrigger(c, facts);
        if (t) decided.push({ agentId: c.agentId, line: facts.businessLine ?? '', latencyMs: at - t.at });
      },
    });

  beforeAll(async () => {
    h = await createHarness('lines');
    workerA = await startWorker(['line-a']);
    await startWorker(['line-b', '*']);
    app = harnessGateway(h, undefined, { routing: ROUTING });
    await app.ready();
    for (const line of ['line-a', 'line-b'])
      await setRule(h, `r-${line}`, { scope: { businessLine: line }, windows: { idleAfterNoTaskSec: IDLE_SEC } });
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it("keeps line B's windows on time while line A's worker is stopped, and A catches up after", async () => {
    const a = ['a-1', 'a-2', 'a-3'];
    const b = ['b-1', 'b-2', 'b-3'];
    for (const id of a) await upsertAgent(h.pool, h.tenant, id, { businessLine: 'line-a' }, 'local');
    for (const id of b) await upsertAgent(h.pool, h.tenant, id, { businessLine: 'line-b' }, 'local');
    expect(workerA.queues).toEqual([`${h.taskQueue}/line-a`]);
    for (const id of [...a, ...b]) {
      const queue = await app.vigil.queues.queueFor(h.tenant, id);
      expect(queue).toBe(`${h.taskQueue}/${id.startsWith('a') ? 'line-a' : 'line-b'}`);
      await signalAgent(h.client, queue, { tenant: h.tenant, agentId: id }, {});
    }
    // Every window armed (A's worker answered its agents' queries), then A's worker goes away.
    for (const id of [...a, ...b])
      await eventually(async () => (await live(h, id)).next?.action === 'IDLE', 10_000, `${id}'s IDLE window`);
    const startedAt = Date.now();
    await workerA.stop();

    for (const id of b) await eventually(async () => (await statusLog(h, id)).length === 1, 15_000, `${id} IDLE`);
    const bLatency = decided.filter((d) => d.line === 'line-b').map((d) => d.latencyMs);
    expect(bLatency).toHaveLength(b.length);
    expect(Math.max(...bLatency), `B's decision latency ms ${bLatency.join(', ')}`).toBeLessThan(1500);

    // A's windows are due too, and nobody decides them.
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + (IDLE_SEC + 2) * 1000 - Date.now())));
    for (const id of a) expect(await statusLog(h, id), id).toEqual([]);

    const outageMs = Date.now() - startedAt;
    await startWorker(['line-a']);
    for (const id of a) await eventually(async () => (await statusLog(h, id)).length === 1, 20_000, `${id} IDLE`);
    await new Promise((r) => setTimeout(r, 1000));
    for (const id of [...a, ...b]) {
      expect(
        (await statusLog(h, id)).map((r) => r.to_status),
        id,
      ).toEqual(['IDLE']);
      const d = await h.client.workflow.getHandle(agentWorkflowId(h.tenant, id)).describe();
      expect(d.taskQueue).toBe(`${h.taskQueue}/${id.startsWith('a') ? 'line-a' : 'line-b'}`);
    }
    const aLatency = decided.filter((d) => d.line === 'line-a').map((d) => d.latencyMs);
    expect(aLatency).toHaveLength(a.length);
    // A's windows waited for the worker: their lag is the outage, not B's.
    expect(Math.min(...aLatency)).toBeGreaterThan(outageMs - IDLE_SEC * 1000 - 1000);
    console.log(
      `line isolation: B latency ms ${bLatency.join(', ')}; A latency ms ${aLatency.join(', ')} after a ${outageMs} ms outage`,
    );

    // The same split in the worker's Prometheus histograms, labelled by line.
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigil_decision_latency_seconds_count\{business_line="line-b",trigger="window"\} 3/);
    expect(text).toMatch(/vigil_decision_latency_seconds_count\{business_line="line-a",trigger="window"\} 3/);
    expect(text).toMatch(/vigil_decision_lag_seconds_bucket\{le="1",business_line="line-b",trigger="window"\} 3/);
    expect(text).toMatch(/vigil_decision_lag_seconds_bucket\{le="1",business_line="line-a",trigger="window"\} 0/);
  });
});
