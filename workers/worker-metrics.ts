// The agent worker's Prometheus metrics, served on VIGIL_WORKER_METRICS_PORT (README "Configuration").
import type { Worker } from '@temporalio/worker';
import client from 'prom-client';
import type { HcmDeps } from '../activities/hcm.ts';
import { listDeadlineFacts } from '../db/agents.ts';
import type { Pool } from '../db/pool.ts';
import { listRules, pickRule, plainRule, type RuleRow } from '../db/rules.ts';
import { overdueWindows, type DeadlineAction, type Overdue } from '../gateway/next-deadline.ts';
import { DEFAULT_RULE, type Candidate, type Facts } from '../workflows/model.ts';
import { lineLabel, NO_ROUTING, type Routing } from '../workflows/routing.ts';
import { attachTemporalMetrics } from './temporal-metrics.ts';

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
  onAnswered: NonNullable<HcmDeps['onAnswered']>;
  onReminded: NonNullable<HcmDeps['onReminded']>;
  /** Workers whose sticky cache `vigil_worker_cached_workflows` reports, by the queue they poll. */
  watch(workers: readonly { queue: string; worker: Pick<Worker, 'getStatus'> }[]): void;
}

export interface WorkerMetricsOptions {
  /** With `region`: the overdue-deadline gauges read this region's agents from Postgres. */
  pool?: Pool;
  region?: string;
  /** How long one read of the overdue deadlines serves scrapes (default 15 s). */
  overdueEveryMs?: number;
  /** Most agents one read looks at (default 100,000). */
  overdueLimit?: number;
}

const WINDOW_OF: Record<string, 'IDLE' | 'ABNORMAL' | 'OFFLINE' | undefined> = {
  IDLE: 'IDLE',
  ABNORMAL: 'ABNORMAL',
  OFFLINE: 'OFFLINE',
};

/**
 * `routing`: the isolated lines are the `business_line` label values; every other line is `other`.
 * Every metric is documented in README "Engine metrics".
 */
export function createWorkerMetrics(routing: Routing = NO_ROUTING, o: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  attachTemporalMetrics(registry);
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
  const decisions = new client.Counter({
    name: 'vigil_decisions_total',
    help: 'Decisions (candidates) workflows proposed and HCM answered, by target status, cause, actor kind and outcome (committed, rejected)',
    labelNames: ['to', 'cause', 'actor', 'outcome'],
    registers: [registry],
  });
  const rejections = new client.Counter({
    name: 'vigil_hcm_rejections_total',
    help: 'Candidates HCM rejected, by reason (ALREADY_HANDLED, ACTIVITY_SINCE, INPUT_DEGRADED, REGION_NOT_OWNER, INVALID_INPUT, …)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const commitSeconds = new client.Histogram({
    name: 'vigil_hcm_commit_seconds',
    help: "Duration of HCM's commitTransition (its Postgres transaction, lock wait included), by outcome",
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const lateness = new client.Histogram({
    name: 'vigil_window_lateness_seconds',
    help: "How late a committed window was: its workflow timer's firing (stage fired: the proposal) and HCM's commit (stage committed) against the window's deadline, per window",
    labelNames: ['window', 'stage'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const reminders = new client.Counter({
    name: 'vigil_reminders_total',
    help: 'Reminders the workflows asked HCM for: sent, or suppressed with the reason (ACTIVITY_SINCE, REMINDER_LOCK, ALREADY_SENT, INVALID_INPUT)',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
  let watched: readonly { queue: string; worker: Pick<Worker, 'getStatus'> }[] = [];
  new client.Gauge({
    name: 'vigil_worker_cached_workflows',
    help: "Workflows in the worker's sticky cache, per polled queue (VIGIL_WORKER_CACHED_WORKFLOWS bounds it)",
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watched) this.set({ queue: w.queue }, w.worker.getStatus().numCachedWorkflows);
    },
  });
  if (o.pool && o.region !== undefined) {
    const readOverdue = overdueReader(o.pool, o.region, o.overdueEveryMs ?? 15_000, o.overdueLimit ?? 100_000);
    const gauge = (name: string, help: string, pick: (x: Overdue) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['action'],
        registers: [registry],
        async collect() {
          const read = await readOverdue();
          this.reset();
          if (!read) return; // Postgres out of reach: no value rather than a stale one
          for (const [action, x] of Object.entries(read)) this.set({ action }, pick(x));
        },
      });
    gauge(
      'vigil_overdue_deadline_seconds',
      "Age of the oldest window due and not decided, per action (IDLE, REMIND, ABNORMAL, OFFLINE): the agents of this worker's region whose next deadline, estimated from HCM's facts as the agent list does, is past",
      (x) => x.oldestSec,
    );
    gauge(
      'vigil_overdue_agents',
      'Agents of the region with a window due and not decided, per action',
      (x) => x.agents,
    );
  }

  return {
    registry,
    onCall: (activity, outcome) => calls.inc({ activity, outcome }),
    onCommitted(c, facts, committedAt) {
      const t = decisionTrigger(c, facts);
      if (!t) return;
      const labels = { business_line: lineLabel(facts.businessLine, routing), trigger: t.trigger };
      latency.observe(labels, Math.max(0, committedAt - t.at) / 1000);
      lag.observe(labels, Math.max(0, c.proposedAt - t.at) / 1000);
      const window = WINDOW_OF[c.to];
      if (t.trigger === 'window' && window) {
        lateness.observe({ window, stage: 'fired' }, Math.max(0, c.proposedAt - t.at) / 1000);
        lateness.observe({ window, stage: 'committed' }, Math.max(0, committedAt - t.at) / 1000);
      }
    },
    onAnswered(c, reply, ms) {
      const outcome = reply.committed ? 'committed' : 'rejected';
      decisions.inc({ to: c.to, cause: c.cause, actor: c.actor.kind, outcome });
      if (!reply.committed) rejections.inc({ reason: reply.reason });
      commitSeconds.observe({ outcome }, ms / 1000);
    },
    onReminded(_r, reply) {
      reminders.inc({ outcome: reply.sent ? 'sent' : 'suppressed', reason: reply.sent ? '' : (reply.reason ?? '') });
    },
    watch(workers) {
      watched = workers;
    },
  };
}

/** Reads the region's overdue windows at most once per `everyMs` (concurrent scrapes share a read). */
function overdueReader(pool: Pool, region: string, everyMs: number, limit: number) {
  let last: { at: number; read: Promise<Record<DeadlineAction, Overdue> | undefined> } | undefined;
  const read = async () => {
    const agents = await listDeadlineFacts(pool, region, limit);
    const rules = new Map<string, RuleRow[]>();
    for (const tenant of new Set(agents.map((a) => a.tenant))) rules.set(tenant, await listRules(pool, tenant));
    return overdueWindows(
      agents,
      (a) => {
        const picked = pickRule(rules.get(a.tenant) ?? [], { ...a, channels: a.deadlineFacts.channels });
        return picked ? plainRule(picked) : DEFAULT_RULE;
      },
      Date.now(),
    );
  };
  return () => {
    if (!last || Date.now() - last.at > everyMs) last = { at: Date.now(), read: read().catch(() => undefined) };
    return last.read;
  };
}
