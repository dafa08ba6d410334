// One benchmark phase: a fresh tenant with the mix's rule, fresh gateway processes (one per 15,000
// agents: a process may hold 20,000 files here), the fleet of simulated workbenches (bench/loadgen.ts)
// for a fixed time, then what it cost and whether every window fired right.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool.ts';
import { upsertRule } from '../db/rules.ts';
import { signToken } from '../platform/auth.ts';
import { freePort, waitForPort } from '../platform/ports.ts';
import { agentWorkflowId } from '../workflows/contract.ts';
import { completedWorkflowTasks, quiet, scrape } from './limit/measure.ts';
import { agentId, layout, runLoad } from './loadgen.ts';
import { MIXES, windowMs } from './mix.ts';
import { pssMiB, tree, watch, type ProcUsage } from './procstat.ts';
import { pct, round } from './stats.ts';

export const AGENTS_PER_GATEWAY = 15_000;

export interface Percentiles {
  p50: number | null;
  p99: number | null;
  max: number | null;
  n: number;
}

export interface PhaseResult {
  name: string;
  mode: 'coalesced' | 'naive';
  mix: keyof typeof MIXES;
  agents: number;
  durationSec: number;
  gateways: number;
  loadProcesses: number;
  peakConnected: number;
  /** Agents welcomed at least once (flaky ones drop out for a while, so the peak can be lower). */
  agentsConnected: number;
  connectFailures: number;
  closesByServer: number;
  frames: number;
  eventsSent: number;
  eventsAccepted: number;
  eventsPerSec: number;
  eventsPerAgentSec: number;
  receiptMs: Omit<Percentiles, 'n'>;
  /** From 10 s after the last agent connected: without the connect storm. */
  steadyReceiptMs: Percentiles;
  signals: number;
  signalsPerEvent: number;
  signalsPerAgentHour: number;
  /** Counted by the Temporal server over the phase (all agents), null if its metrics are unknown. */
  workflowTasksPerSec: number | null;
  workflowTasksPerAgentHour: number | null;
  workflowTasksPerEvent: number | null;
  historyEventsPerAgentHour: number | null;
  continuedAsNewRuns: number;
  e2eCommitMs: Omit<Percentiles, 'max'>;
  e2eFeedMs: Omit<Percentiles, 'max'>;
  latenessMs: Percentiles;
  /** Lateness of each window separately (IDLE, ABNORMAL, OFFLINE by window). */
  latenessByWindow: Record<string, Percentiles>;
  transitions: Record<string, number>;
  wrongTransitions: number;
  processes: Record<string, ProcUsage>;
  /** Memory the gateways and the worker grew by over the phase, per agent connected at the peak (KiB). */
  memoryPerAgentKiB: { gateway: number | null; worker: number | null };
  /** Event-loop delay of the load generator processes (ms): if high, the generator was the bottleneck. */
  loadLoopDelayMs: { p99: number; max: number };
}

export interface PhaseContext {
  pool: Pool;
  temporal: Client;
  secret: string;
  env: NodeJS.ProcessEnv;
  root: string;
  worker: ChildProcess;
  dispatcher: ChildProcess;
  temporalPid: number | undefined;
  postgresPid: number | undefined;
  temporalMetricsUrl: string | undefined;
  historySample: number;
  say(s: string): void;
}

export function child(root: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(t);
}

const percentiles = (xs: number[]): Percentiles => ({
  p50: pct(xs, 50),
  p99: pct(xs, 99),
  max: pct(xs, 100),
  n: xs.length,
});
const treePss = (pid: number | undefined) => (pid ? tree(pid).reduce((s, p) => s + pssMiB(p), 0) : 0);

export async function runPhase(
  ctx: PhaseContext,
  name: string,
  mode: 'coalesced' | 'naive',
  mixName: keyof typeof MIXES,
  agents: number,
  durationSec: number,
): Promise<PhaseResult> {
  const { pool, temporal, secret, say } = ctx;
  const mix = MIXES[mixName];
  if (ctx.temporalPid) await quiet(ctx.temporalPid, say); // nothing of the previous step still running
  const tenant = `bench-${name}-${randomBytes(3).toString('hex')}`;
  await upsertRule(pool, tenant, 'bench', mix.rule);
  const gatewayCount = Math.ceil(agents / AGENTS_PER_GATEWAY);
  const gateways: { proc: ChildProcess; http: string }[] = [];
  for (let g = 0; g < gatewayCount; g++) {
    const port = await freePort();
    const proc = child(ctx.root, 'gateway/main.ts', {
      ...ctx.env,
      PORT: String(port),
      VIGIL_COALESCE: mode === 'coalesced' ? 'on' : 'off',
      VIGIL_CONN_EVENTS_PER_SEC: '200',
      VIGIL_TENANT_EVENTS_PER_SEC: '100000',
    });
    gateways.push({ proc, http: `http://127.0.0.1:${port}` });
    await waitForPort('127.0.0.1', port, 60_000);
    for (;;) {
      if (
        (await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const http = gateways[0]!.http;

  // A downstream consumer of the status feed, to measure commit → feed.
  const feedSeen = new Map<string, number>();
  let feedOn = true;
  const service = await signToken(secret, { sub: 'bench', tenant, role: 'service' }, 4 * 3600);
  const feed = (async () => {
    let after = 0;
    while (feedOn) {
      const r = await fetch(`${http}/v1/status-changes?after=${after}&limit=1000&waitMs=2000`, {
        headers: { authorization: `Bearer ${service}` },
      }).catch(() => undefined);
      if (!r?.ok) {
        await new Promise((res) => setTimeout(res, 200));
        continue;
      }
      const body = (await r.json()) as { changes: { agentId: string; version: number }[]; next: number };
      const now = Date.now();
      for (const c of body.changes)
        if (!feedSeen.has(`${c.agentId}:${c.version}`)) feedSeen.set(`${c.agentId}:${c.version}`, now);
      after = body.next;
    }
  })();

  const gatewayPids = gateways.map((g) => g.proc.pid!);
  const baseline = { gateway: gatewayPids.reduce((s, p) => s + treePss(p), 0), worker: treePss(ctx.worker.pid) };
  const usage = watch({
    gateway: gatewayPids,
    worker: ctx.worker.pid,
    dispatcher: ctx.dispatcher.pid,
    temporal: ctx.temporalPid,
    postgres: ctx.postgresPid,
    'bench client!': process.pid,
  });
  let loadUsage: ReturnType<typeof watch> | undefined;
  const wft0 = ctx.temporalMetricsUrl ? await completedWorkflowTasks(ctx.temporalMetricsUrl) : 0;
  const { shards } = layout(agents);
  say(
    `${name}: ${agents} agents, ${mix.name} mix, ${mode}, ${durationSec} s, ${gatewayCount} gateway(s), ${shards} load process(es)`,
  );
  const t0 = Date.now();
  const load = await runLoad({
    wsUrls: gateways.map((g) => `${g.http.replace('http', 'ws')}/v1/ws`),
    secret,
    tenant,
    agents,
    durationSec,
    mix: mixName,
    onStarted: (pids) => {
      loadUsage = watch({ 'load generator': pids });
    },
    onProgress: (p) => {
      const rate = p.accepted / Math.max(1, p.elapsedSec);
      say(
        `${name}: ${p.elapsedSec.toFixed(0)}/${durationSec} s  connected ${p.connected}/${agents}  events ${p.accepted} (${rate.toFixed(0)}/s)  receipt p99 of the last 5 s ${p.recentP99 ?? '-'} ms`,
      );
    },
  });
  const wall = (Date.now() - t0) / 1000;
  const processes = { ...usage.stop(), ...(loadUsage?.stop() ?? {}) };
  const wft = ctx.temporalMetricsUrl ? (await completedWorkflowTasks(ctx.temporalMetricsUrl)) - wft0 : null;
  let signals = 0;
  for (const g of gateways) signals += await scrape(`${g.http}/metrics`, 'vigil_signals_total');
  await new Promise((r) => setTimeout(r, 3000)); // the feed catches up
  feedOn = false;
  await feed;
  for (const g of gateways) await stopChild(g.proc);

  // Window transitions: how late after the exact deadline, and whether the agent was acting.
  const { rows: log } = await pool.query<{
    agent_id: string;
    version: number;
    to_status: string;
    cause: string;
    window_start: Date;
    committed_at: Date;
  }>(
    `SELECT agent_id, version, to_status, cause, window_start, committed_at FROM unified_work_status_log WHERE tenant = $1`,
    [tenant],
  );
  const transitions: Record<string, number> = {};
  const lateness: number[] = [];
  const byWindow: Record<string, number[]> = {};
  let wrong = 0;
  const requestTs = new Set(load.requests.map((r) => `${r.agentId}:${r.ts}`));
  const e2eCommit: number[] = [];
  const e2eFeed: number[] = [];
  for (const r of log) {
    const key = `${r.to_status}:${r.cause}`;
    transitions[key] = (transitions[key] ?? 0) + 1;
    const T = r.committed_at.getTime();
    const ws = r.window_start.getTime();
    const isWindow =
      (r.to_status === 'IDLE' && r.cause === 'NO_TASK') ||
      r.to_status === 'ABNORMAL' ||
      (r.to_status === 'OFFLINE' && r.cause === 'ABNORMAL_TIMEOUT');
    if (isWindow) {
      const late = T - (ws + windowMs(mix, r.to_status)!);
      lateness.push(late);
      (byWindow[r.to_status] ??= []).push(late);
    }
    if (r.to_status === 'ABNORMAL' || (r.to_status === 'OFFLINE' && r.cause === 'ABNORMAL_TIMEOUT')) {
      const since = r.to_status === 'ABNORMAL' ? T - windowMs(mix, 'ABNORMAL')! : ws;
      if ((load.actions[r.agent_id] ?? []).some((a) => a.receiptAt < T && a.ts > since)) wrong++;
    }
    if (r.cause === 'AGENT_REQUEST' && requestTs.has(`${r.agent_id}:${ws}`)) {
      e2eCommit.push(T - ws);
      const seen = feedSeen.get(`${r.agent_id}:${r.version}`);
      if (seen) e2eFeed.push(seen - ws);
    }
  }

  // Histories of a sample of agents (every run, continued-as-new ones included).
  const sample = Array.from({ length: Math.min(agents, ctx.historySample) }, (_, i) =>
    agentId(Math.floor((i * agents) / Math.min(agents, ctx.historySample))),
  );
  let historyEvents = 0;
  let sampleTasks = 0;
  let runs = 0;
  let sampledAccepted = 0;
  for (const a of sample) {
    const wid = agentWorkflowId(tenant, a);
    for await (const ex of temporal.workflow.list({ query: `WorkflowId = '${wid}'` })) {
      const h = await temporal.workflow.getHandle(wid, ex.runId).fetchHistory();
      const evs = h.events ?? [];
      historyEvents += evs.length;
      sampleTasks += evs.filter((e) => e.workflowTaskCompletedEventAttributes).length;
      runs++;
    }
  }
  for (const a of sample) sampledAccepted += load.acceptedBy[a] ?? 0;
  const agentHours = (agents * durationSec) / 3600;
  const steady = load.allConnectedAt
    ? load.receiptMs.filter((_, i) => load.receiptAt[i]! >= load.allConnectedAt! + 10_000)
    : [];
  const peakGateway = processes.gateway?.peakPssMiB;
  const peakWorker = processes.worker?.peakPssMiB;
  const perAgent = (peak: number | undefined, base: number) =>
    peak && load.peakConnected > 0 ? round(((peak - base) * 1024) / load.peakConnected) : null;
  const result: PhaseResult = {
    name,
    mode,
    mix: mixName,
    agents,
    durationSec,
    gateways: gatewayCount,
    loadProcesses: shards,
    peakConnected: load.peakConnected,
    agentsConnected: load.everConnected,
    connectFailures: load.counts.connectFailures,
    closesByServer: load.counts.closesByServer,
    frames: load.counts.frames,
    eventsSent: load.counts.events,
    eventsAccepted: load.counts.accepted,
    eventsPerSec: round(load.counts.accepted / wall),
    eventsPerAgentSec: round(load.counts.accepted / wall / agents, 4),
    receiptMs: { p50: pct(load.receiptMs, 50), p99: pct(load.receiptMs, 99), max: pct(load.receiptMs, 100) },
    steadyReceiptMs: percentiles(steady),
    signals,
    signalsPerEvent: round(signals / Math.max(1, load.counts.accepted), 3),
    signalsPerAgentHour: round(signals / agentHours),
    workflowTasksPerSec: wft === null ? null : round(wft / wall),
    workflowTasksPerAgentHour: wft === null ? null : round(wft / agentHours),
    workflowTasksPerEvent:
      wft !== null
        ? round(wft / Math.max(1, load.counts.accepted), 3)
        : sampledAccepted > 0
          ? round(sampleTasks / sampledAccepted, 3)
          : null,
    historyEventsPerAgentHour:
      sample.length > 0 ? Math.round((historyEvents / sample.length) * (3600 / durationSec)) : null,
    continuedAsNewRuns: Math.max(0, runs - sample.length),
    e2eCommitMs: { p50: pct(e2eCommit, 50), p99: pct(e2eCommit, 99), n: e2eCommit.length },
    e2eFeedMs: { p50: pct(e2eFeed, 50), p99: pct(e2eFeed, 99), n: e2eFeed.length },
    latenessMs: percentiles(lateness),
    latenessByWindow: Object.fromEntries(Object.entries(byWindow).map(([k, v]) => [k, percentiles(v)])),
    transitions,
    wrongTransitions: wrong,
    processes,
    memoryPerAgentKiB: {
      gateway: perAgent(peakGateway, baseline.gateway),
      worker: perAgent(peakWorker, baseline.worker),
    },
    loadLoopDelayMs: {
      p99: round(Math.max(...load.loopDelayMs.map((d) => d.p99))),
      max: round(Math.max(...load.loopDelayMs.map((d) => d.max))),
    },
  };
  say(
    `${name}: done — ${JSON.stringify({ eventsPerSec: result.eventsPerSec, steadyReceiptMs: result.steadyReceiptMs, signalsPerEvent: result.signalsPerEvent, workflowTasksPerSec: result.workflowTasksPerSec, latenessMs: result.latenessMs, wrong, connected: result.agentsConnected })}`,
  );
  await retire(ctx, tenant, agents);
  return result;
}

/**
 * Ends a phase's agents so their leftover work cannot load the next phase: devices and leases go
 * (no sweeper will signal them), their workflows are terminated.
 */
async function retire(ctx: PhaseContext, tenant: string, agents: number): Promise<void> {
  await ctx.pool.query('DELETE FROM device_sessions WHERE tenant = $1', [tenant]);
  await ctx.pool.query('DELETE FROM intake_pending WHERE tenant = $1', [tenant]);
  await ctx.pool.query('DELETE FROM gateway_leases');
  const t = Date.now();
  for (let i = 0; i < agents; i += 100) {
    const batch = Array.from({ length: Math.min(100, agents - i) }, (_, j) => agentId(i + j));
    await Promise.all(
      batch.map((a) =>
        ctx.temporal.workflow
          .getHandle(agentWorkflowId(tenant, a))
          .terminate('benchmark phase over')
          .catch(() => {}),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, 5000));
  ctx.say(`retired ${agents} agents of ${tenant} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
}
