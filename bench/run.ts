// `npm run bench -- [options]`: the whole stack on embedded defaults (or DATABASE_URL /
// TEMPORAL_ADDRESS), N simulated workbenches over real websockets, and the numbers of BENCHMARKS.md.
// Every phase gets a fresh tenant and a fresh gateway process; worker and dispatcher run throughout.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createPool, type Pool } from '../db/pool.ts';
import { upsertRule } from '../db/rules.ts';
import { signToken } from '../platform/auth.ts';
import { freePort, waitForPort } from '../platform/ports.ts';
import { agentWorkflowId } from '../workflows/contract.ts';
import { findPid, watch, type ProcUsage } from './procstat.ts';
import { pct } from './stats.ts';
import { writeReport } from './report.ts';
import { startStack } from './stack.ts';
import { Simulation } from './workbench.ts';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '500' },
    duration: { type: 'string', default: '180' },
    mode: { type: 'string', default: 'both' },
    ramp: { type: 'boolean', default: false },
    'ramp-start': { type: 'string', default: '250' },
    'ramp-max': { type: 'string', default: '8000' },
    'ramp-duration': { type: 'string', default: '160' },
    'max-receipt-p99': { type: 'string', default: '250' },
    'max-lateness-p99': { type: 'string', default: '2000' },
    'history-sample': { type: 'string', default: '100' },
    out: { type: 'string', default: 'bench/results' },
    'no-markdown': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`npm run bench -- [--agents 500] [--duration 180] [--mode both|coalesced|naive]
                [--ramp --ramp-start 250 --ramp-max 8000 --ramp-duration 160 --max-receipt-p99 250 --max-lateness-p99 2000]
                [--history-sample 100] [--out bench/results] [--no-markdown]
`);
  process.exit(0);
}

const MAX_AGENTS = 50_000;
for (const k of ['agents', 'ramp-start', 'ramp-max'] as const) {
  const v = Number(args[k]);
  if (!Number.isInteger(v) || v < 1 || v > MAX_AGENTS) {
    process.stderr.write(`--${k} must be a whole number from 1 to ${MAX_AGENTS} (load stays bounded)\n`);
    process.exit(2);
  }
}
for (const k of ['duration', 'ramp-duration'] as const) {
  const v = Number(args[k]);
  if (!(v >= 10 && v <= 3600)) {
    process.stderr.write(`--${k} must be between 10 and 3600 seconds\n`);
    process.exit(2);
  }
}
if (!['both', 'coalesced', 'naive'].includes(args.mode!)) {
  process.stderr.write('--mode must be both, coalesced or naive\n');
  process.exit(2);
}

/** Windows compressed so that IDLE, reminders, ABNORMAL and OFFLINE all fire within a phase. */
export const BENCH_RULE = {
  windows: { idleAfterNoTaskSec: 10, remindAfterNoActionSec: 40, abnormalAfterNoActionSec: 60, offlineAfterAbnormalSec: 30 },
  reminderLockSec: 840,
  reconnectGraceSec: 20,
};
/** Agents log in over this many seconds (a shift starting), not all in the same second. */
const LOGIN_SPREAD_SEC = 45;
const WINDOW_MS: Record<string, number> = { IDLE: 10_000, ABNORMAL: 60_000, OFFLINE: 30_000 };

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const say = (s: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function child(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
}
async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(t);
}

export interface PhaseResult {
  name: string;
  mode: 'coalesced' | 'naive';
  agents: number;
  durationSec: number;
  peakConnected: number;
  /** Agents welcomed at least once (flaky ones drop out for a while, so the peak can be lower). */
  agentsConnected: number;
  connectFailures: number;
  closesByServer: number;
  frames: number;
  eventsSent: number;
  eventsAccepted: number;
  eventsPerSec: number;
  receiptMs: { p50: number | null; p99: number | null; max: number | null };
  /** From 10 s after the last agent connected: without the connect storm. */
  steadyReceiptMs: { p50: number | null; p99: number | null; max: number | null; n: number };
  signals: number;
  signalsPerEvent: number;
  workflowTasksPerEvent: number | null;
  historyEventsPerAgentHour: number | null;
  continuedAsNewRuns: number;
  e2eCommitMs: { p50: number | null; p99: number | null; n: number };
  e2eFeedMs: { p50: number | null; p99: number | null; n: number };
  latenessMs: { p50: number | null; p99: number | null; max: number | null; n: number };
  transitions: Record<string, number>;
  wrongTransitions: number;
  processes: Record<string, ProcUsage>;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function main() {
  const t0 = Date.now();
  say('starting Postgres and Temporal…');
  const stack = await startStack();
  const secret = randomBytes(24).toString('base64url');
  const pool: Pool = createPool(stack.databaseUrl, 5);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection });
  const env = { ...process.env, DATABASE_URL: stack.databaseUrl, TEMPORAL_ADDRESS: stack.temporalAddress, VIGIL_JWT_SECRET: secret, LOG_LEVEL: 'warn', VIGIL_HEARTBEAT_MS: '30000' };
  const worker = child('workers/main.ts', env);
  const dispatcher = child('workers/dispatcher-main.ts', { ...env, VIGIL_DISPATCHER_METRICS_PORT: '0' });
  const temporalPid = findPid('start-dev', stack.temporalAddress.split(':')[1]!);
  const pgPort = new URL(stack.databaseUrl).port;
  const postgresPid = findPid('postgres', '-p', pgPort) ?? findPid('postgres', pgPort);
  const results: PhaseResult[] = [];
  const stopAll = async () => {
    await stopChild(worker);
    await stopChild(dispatcher);
    await connection.close();
    await pool.end();
    await stack.stop();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  async function phase(name: string, mode: 'coalesced' | 'naive', agents: number, durationSec: number): Promise<PhaseResult> {
    const tenant = `bench-${name}-${randomBytes(3).toString('hex')}`;
    await upsertRule(pool, tenant, 'bench', BENCH_RULE);
    const port = await freePort();
    const gateway = child('gateway/main.ts', { ...env, PORT: String(port), VIGIL_COALESCE: mode === 'coalesced' ? 'on' : 'off', VIGIL_CONN_EVENTS_PER_SEC: '200', VIGIL_TENANT_EVENTS_PER_SEC: '100000' });
    await waitForPort('127.0.0.1', port, 60_000);
    const http = `http://127.0.0.1:${port}`;
    for (;;) {
      if ((await fetch(`${http}/readyz`).then((r) => r.status, () => 0)) === 200) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const ids = Array.from({ length: agents }, (_, i) => `a${i}`);
    const tokens = new Map<string, string>();
    for (const a of ids) tokens.set(a, await signToken(secret, { sub: a, tenant, role: 'agent' }, 3600));

    // A downstream consumer of the status feed, to measure commit → feed.
    const feedSeen = new Map<string, number>();
    let feedOn = true;
    const service = await signToken(secret, { sub: 'bench', tenant, role: 'service' }, 3600);
    const feed = (async () => {
      let after = 0;
      while (feedOn) {
        const r = await fetch(`${http}/v1/status-changes?after=${after}&limit=1000&waitMs=2000`, { headers: { authorization: `Bearer ${service}` } }).catch(() => undefined);
        if (!r?.ok) {
          await new Promise((res) => setTimeout(res, 200));
          continue;
        }
        const body = (await r.json()) as { changes: { agentId: string; version: number }[]; next: number };
        const now = Date.now();
        for (const c of body.changes) if (!feedSeen.has(`${c.agentId}:${c.version}`)) feedSeen.set(`${c.agentId}:${c.version}`, now);
        after = body.next;
      }
    })();

    const localAddresses = agents > 20_000 ? Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`) : ['127.0.0.1'];
    const sim = new Simulation({
      wsUrl: `ws://127.0.0.1:${port}/v1/ws`, token: async (a) => tokens.get(a)!, agents: ids, durationSec,
      heartbeatSec: 30, maxGapSec: 35, localAddresses, connectPerSec: Math.max(20, agents / LOGIN_SPREAD_SEC),
    });
    const gatewayPid = gateway.pid;
    const usage = watch({ gateway: gatewayPid, worker: worker.pid, dispatcher: dispatcher.pid, temporal: temporalPid, postgres: postgresPid, 'bench client!': process.pid });
    say(`${name}: ${agents} agents, ${mode}, ${durationSec} s`);
    await sim.run((s, el) => {
      const rate = s.counts.accepted / Math.max(1, el);
      say(`${name}: ${el.toFixed(0)} s  connected ${s.connected}  events ${s.counts.accepted} (${rate.toFixed(0)}/s)  receipt p99 of the last 5 s ${pct(s.receiptsSince(Date.now() - 5000), 99) ?? '-'} ms`);
    });
    const processes = usage.stop();
    const signals = await metric(`${http}/metrics`, 'vigil_signals_total{');
    await new Promise((r) => setTimeout(r, 3000)); // the feed catches up
    feedOn = false;
    await feed;
    await stopChild(gateway);

    // Window transitions: how late after the exact deadline, and whether the agent was acting.
    const { rows: log } = await pool.query<{ agent_id: string; version: number; to_status: string; cause: string; window_start: Date; committed_at: Date }>(
      `SELECT agent_id, version, to_status, cause, window_start, committed_at FROM unified_work_status_log WHERE tenant = $1`, [tenant]);
    const transitions: Record<string, number> = {};
    const lateness: number[] = [];
    let wrong = 0;
    const requestTs = new Set(sim.requests.map((r) => `${r.agentId}:${r.ts}`));
    const e2eCommit: number[] = [];
    const e2eFeed: number[] = [];
    for (const r of log) {
      const key = `${r.to_status}:${r.cause}`;
      transitions[key] = (transitions[key] ?? 0) + 1;
      const T = r.committed_at.getTime();
      const ws = r.window_start.getTime();
      const byWindow = (r.to_status === 'IDLE' && r.cause === 'NO_TASK') || r.to_status === 'ABNORMAL' || (r.to_status === 'OFFLINE' && r.cause === 'ABNORMAL_TIMEOUT');
      if (byWindow) lateness.push(T - (ws + WINDOW_MS[r.to_status]!));
      if (r.to_status === 'ABNORMAL' || (r.to_status === 'OFFLINE' && r.cause === 'ABNORMAL_TIMEOUT')) {
        const since = r.to_status === 'ABNORMAL' ? T - WINDOW_MS.ABNORMAL! : ws;
        if ((sim.actions.get(r.agent_id) ?? []).some((a) => a.receiptAt < T && a.ts > since)) wrong++;
      }
      if (r.cause === 'AGENT_REQUEST' && requestTs.has(`${r.agent_id}:${ws}`)) {
        e2eCommit.push(T - ws);
        const seen = feedSeen.get(`${r.agent_id}:${r.version}`);
        if (seen) e2eFeed.push(seen - ws);
      }
    }

    // Histories of a sample of agents (every run, continued-as-new ones included).
    const sample = ids.slice(0, Number(args['history-sample']));
    let historyEvents = 0;
    let wfTasks = 0;
    let runs = 0;
    let sampledAccepted = 0;
    for (const a of sample) {
      const wid = agentWorkflowId(tenant, a);
      for await (const ex of temporal.workflow.list({ query: `WorkflowId = '${wid}'` })) {
        const h = await temporal.workflow.getHandle(wid, ex.runId).fetchHistory();
        const evs = h.events ?? [];
        historyEvents += evs.length;
        wfTasks += evs.filter((e) => e.workflowTaskCompletedEventAttributes).length;
        runs++;
      }
    }
    for (const a of sample) sampledAccepted += sim.acceptedBy.get(a) ?? 0;
    const wallSec = durationSec;
    const steady = sim.allConnectedAt ? sim.receiptsSince(sim.allConnectedAt + 10_000) : [];
    const result: PhaseResult = {
      name, mode, agents, durationSec,
      peakConnected: sim.peakConnected, agentsConnected: sim.everConnected.size, connectFailures: sim.counts.connectFailures, closesByServer: sim.counts.closesByServer,
      frames: sim.counts.frames, eventsSent: sim.counts.events, eventsAccepted: sim.counts.accepted,
      eventsPerSec: round(sim.counts.accepted / wallSec),
      receiptMs: { p50: pct(sim.receiptMs, 50), p99: pct(sim.receiptMs, 99), max: pct(sim.receiptMs, 100) },
      steadyReceiptMs: { p50: pct(steady, 50), p99: pct(steady, 99), max: pct(steady, 100), n: steady.length },
      signals, signalsPerEvent: round(signals / Math.max(1, sim.counts.accepted), 3),
      workflowTasksPerEvent: sampledAccepted > 0 ? round(wfTasks / sampledAccepted, 3) : null,
      historyEventsPerAgentHour: sample.length > 0 ? Math.round((historyEvents / sample.length) * (3600 / durationSec)) : null,
      continuedAsNewRuns: Math.max(0, runs - sample.length),
      e2eCommitMs: { p50: pct(e2eCommit, 50), p99: pct(e2eCommit, 99), n: e2eCommit.length },
      e2eFeedMs: { p50: pct(e2eFeed, 50), p99: pct(e2eFeed, 99), n: e2eFeed.length },
      latenessMs: { p50: pct(lateness, 50), p99: pct(lateness, 99), max: pct(lateness, 100), n: lateness.length },
      transitions, wrongTransitions: wrong, processes,
    };
    say(`${name}: done — ${JSON.stringify({ eventsPerSec: result.eventsPerSec, receiptMs: result.receiptMs, signalsPerEvent: result.signalsPerEvent, latenessMs: result.latenessMs, wrong })}`);
    await retire(tenant, ids);
    return result;
  }

  /**
   * Ends a phase's agents so their leftover work cannot load the next phase: devices and leases go
   * (no sweeper will signal them), their workflows are terminated.
   */
  async function retire(tenant: string, ids: string[]): Promise<void> {
    await pool.query('DELETE FROM device_sessions WHERE tenant = $1', [tenant]);
    await pool.query('DELETE FROM intake_pending WHERE tenant = $1', [tenant]);
    await pool.query('DELETE FROM gateway_leases');
    const t = Date.now();
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((a) => temporal.workflow.getHandle(agentWorkflowId(tenant, a)).terminate('benchmark phase over').catch(() => {})));
    }
    await new Promise((r) => setTimeout(r, 5000));
    say(`retired ${ids.length} agents of ${tenant} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }

  try {
    const agents = Number(args.agents);
    const duration = Number(args.duration);
    if (args.mode === 'both' || args.mode === 'coalesced') results.push(await phase('coalesced', 'coalesced', agents, duration));
    if (args.mode === 'both' || args.mode === 'naive') results.push(await phase('naive', 'naive', agents, duration));
    let knee: number | null = null;
    if (args.ramp) {
      for (let n = Number(args['ramp-start']); n <= Number(args['ramp-max']); n *= 2) {
        const r = await phase(`ramp-${n}`, 'coalesced', n, Number(args['ramp-duration']));
        results.push(r);
        const ok = (r.steadyReceiptMs.p99 ?? Infinity) <= Number(args['max-receipt-p99'])
          && (r.latenessMs.p99 ?? 0) <= Number(args['max-lateness-p99'])
          && r.wrongTransitions === 0 && r.agentsConnected === n && r.connectFailures === 0;
        say(`ramp ${n}: ${ok ? 'within thresholds' : 'over a threshold — stopping'}`);
        if (!ok) break;
        knee = n;
      }
    }
    await fs.mkdir(args.out!, { recursive: true });
    const file = path.join(args.out!, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const doc = { at: new Date().toISOString(), args, rule: BENCH_RULE, knee, results };
    await fs.writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
    say(`results: ${file}`);
    if (!args['no-markdown']) {
      const md = await writeReport(file, path.join(ROOT, 'BENCHMARKS.md'), path.join(args.out!, 'chart.png'));
      say(`updated ${md}`);
    }
    say(`finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await stopAll();
  }
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
