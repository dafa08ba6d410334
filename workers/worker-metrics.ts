// The agent worker's Prometheus metrics, served on VIGIL_WORKER_METRICS_PORT (README "Configuration").
import client from 'prom-client';
import type { HcmDeps } from '../activities/hcm.ts';
import type { Candidate, Facts } from '../workflows/model.ts';
import { lineLabel, NO_ROUTING, type Routing } from '../workflows/routing.ts';

/** What started a committed decision: a window's deadline, an agent's request, an action after ABNORMAL/OFFLINE. */
export type Trigger = 'window' | 'request' | 'resume';

/**
 * When the moment a committed change answers was (ms), and which kind it is; undefined for changes
 * whose moment only the workflow knows (a supervisor's request, a task while IDLE). A window's
 * deadline is its start plus the rule's window, the rule HCM committed it under.
 */
export function decisionTrigger(c: Candidate, facts: Facts): { at: number; trigger: Trigger } | undefined {
  const w = facts.rule.windows;
  if (c.actor.kind === 'system') {
    if (c.to === 'IDLE' && c.cause === 'NO_TASK')
      return { at: c.windowStart + w.idleAfterNoTaskSec * 1000, trigger: 'window' };
    if (c.to === 'ABNORMAL') return { at: c.windowStart + w.abnormalAfterNoActionSec * 1000, trigger: 'window' };
    if (c.to === 'OFFLINE' && c.cause === 'ABNORMAL_TIMEOUT')
      return { at: c.windowStart + w.offlineAfterAbnormalSec * 1000, trigger: 'window' };
    if (c.cause === 'ACTIVITY_RESUMED') return { at: c.windowStart, trigger: 'resume' };
    return undefined;
  }
  // An agent's request by event: its window starts when the gateway received it (engine 2).
  if (c.cause === 'AGENT_REQUEST' && c.dedupeKey.startsWith('req:')) return { at: c.windowStart, trigger: 'request' };
  return undefined;
}

export interface WorkerMetrics {
  registry: client.Registry;
  onCall: NonNullable<HcmDeps['onCall']>;
  onCommitted: NonNullable<HcmDeps['onCommitted']>;
}

/** `routing`: the isolated lines are the `business_line` label values; every other line is `other`. */
export function createWorkerMetrics(routing: Routing = NO_ROUTING): WorkerMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const calls = new client.Counter({
    name: 'vigil_hcm_calls_total',
    help: 'HCM calls by activity and outcome: committed, rejected, invalid_input (a data error, answered as a rejection), error (retried)',
    labelNames: ['activity', 'outcome'],
    registers: [registry],
  });
  const buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
  const latency = new client.Histogram({
    name: 'vigil_decision_latency_seconds',
    help: "From a decision's trigger (a window's deadline, the gateway's receipt of the agent's request or action) to HCM's commit, per business line",
    labelNames: ['business_line', 'trigger'],
    buckets,
    registers: [registry],
  });
  const lag = new client.Histogram({
    name: 'vigil_decision_lag_seconds',
    help: "From a decision's trigger to the workflow proposing it: time spent waiting for a worker (backlog, a stopped worker), per business line",
    labelNames: ['business_line', 'trigger'],
    buckets,
    registers: [registry],
  });
  return {
    registry,
    onCall: (activity, outcome) => calls.inc({ activity, outcome }),
    onCommitted(c, facts, committedAt) {
      const t = decisionTrigger(c, facts);
      if (!t) return;
      const labels = { business_line: lineLabel(facts.businessLine, routing), trigger: t.trigger };
      latency.observe(labels, Math.max(0, committedAt - t.at) / 1000);
      lag.observe(labels, Math.max(0, c.proposedAt - t.at) / 1000);
    },
  };
}
