// `npm run bench -- [options]`: the whole stack on embedded defaults (or DATABASE_URL /
// TEMPORAL_ADDRESS), the Temporal dev server configured as `npm start` ships it, Temporal's own limit
// on this box, then phases of simulated workbenches over real websockets (bench/phase.ts) and the
// numbers of BENCHMARKS.md. The worker and dispatcher run throughout; each phase has a fresh tenant
// and fresh gateways.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createLogger } from '../platform/log.ts';
import { createPool } from '../db/pool.ts';
import { measureTemporalLimit } from './limit/measure.ts';
import { MIXES } from './mix.ts';
import { child, runPhase, stopChild, type PhaseContext, type PhaseResult } from './phase.ts';
import { findPid } from './procstat.ts';
import { writeReport, type BenchDoc } from './report.ts';
import { devServer, startStack } from './stack.ts';

export type { PhaseResult } from './phase.ts';

const { values: args } = parseArgs({
  options: {
    mix: { type: 'string', default: 'production' },
    agents: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '750' },
    mode: { type: 'string', default: 'coalesced' },
    ramp: { type: 'boolean', default: false },
    'ramp-steps': { type: 'string', default: '2500,5000,10000,20000,40000' },
    'ramp-duration': { type: 'string', default: '750' },
    'budget-min': { type: 'string', default: '120' },
    'max-receipt-p99': { type: 'string', default: '100' },
    'max-lateness-p99': { type: 'string', default: '1000' },
    limit: { type: 'boolean', default: true },
    'no-limit': { type: 'boolean', default: false },
    'limit-compare-journal': { type: 'boolean', default: false },
    'history-sample': { type: 'string', default: '100' },
    'worker-cache': { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    'no-markdown': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout
    .write(`npm run bench -- [--mix production|stress] [--agents 1000] [--duration 750] [--mode coalesced|naive|both]
                [--ramp --ramp-steps 2500,5000,10000,20000,40000 --ramp-duration 750 --budget-min 120]
                [--max-receipt-p99 100 --max-lateness-p99 1000] [--no-limit] [--limit-compare-journal]
                [--history-sample 100] [--worker-cache N] [--out bench/results] [--no-markdown]

The first phase runs --agents for --duration seconds; with --ramp each further step runs its agents
for --ramp-duration seconds, stopping at the first step over a threshold, and skipping steps that
would end after --budget-min minutes from the start. The production mix needs phases of at least
12 minutes (720 s) for reminders (8 min) and ABNORMAL (10 min) to fire. --worker-cache sets the
worker's VIGIL_WORKER_CACHED_WORKFLOWS (default 5000) for the whole run.
`);
  process.exit(0);
}

const MAX_AGENTS = 50_000;
const fail = (msg: string) => {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
};
const steps = args['ramp-steps'].split(',').map(Number);
for (const v of [Number(args.agents), ...steps]) {
  if (!Number.isInteger(v) || v < 1 || v > MAX_AGENTS)
    fail(`agent counts must be whole numbers from 1 to ${MAX_AGENTS} (load stays bounded)`);
}
for (const k of ['duration', 'ramp-duration'] as const) {
  const v = Number(args[k]);
  if (!(v >= 10 && v <= 3600)) fail(`--${k} must be between 10 and 3600 seconds`);
}
if (!(Number(args['budget-min']) > 0)) fail('--budget-min must be a positive number of minutes');
if (!['both', 'coalesced', 'naive'].includes(args.mode)) fail('--mode must be both, coalesced or naive');
if (!(args.mix in MIXES)) fail(`--mix must be one of ${Object.keys(MIXES).join(', ')}`);
const mixName = args.mix as keyof typeof MIXES;

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const say = (s: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function withinThresholds(r: PhaseResult): string | null {
  if ((r.steadyReceiptMs.p99 ?? Infinity) > Number(args['max-receipt-p99']))
    return `steady receipt p99 ${r.steadyReceiptMs.p99} ms > ${args['max-receipt-p99']} ms`;
  if ((r.latenessMs.p99 ?? 0) > Number(args['max-lateness-p99']))
    return `window lateness p99 ${r.latenessMs.p99} ms > ${args['max-lateness-p99']} ms`;
  if (r.wrongTransitions > 0) return `${r.wrongTransitions} wrong transitions`;
  if (r.agentsConnected < r.agents || r.connectFailures > 0)
    return `${r.agentsConnected}/${r.agents} agents connected, ${r.connectFailures} connect failures`;
  return null;
}

async function main() {
  const t0 = Date.now();
  say('starting Postgres and Temporal (the dev server on a file, WAL, synchronous=normal, as npm start runs it)…');
  const stack = await startStack();
  const secret = randomBytes(24).toString('base64url');
  const pool = createPool(stack.databaseUrl, 5);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection });
  const env = {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    VIGIL_JWT_SECRET: secret,
    LOG_LEVEL: 'warn',
    VIGIL_HEARTBEAT_MS: '30000',
    VIGIL_WORKER_METRICS_PORT: '0',
    ...(args['worker-cache'] ? { VIGIL_WORKER_CACHED_WORKFLOWS: args['worker-cache'] } : {}),
  };
  const worker = child(ROOT, 'workers/main.ts', env);
  const dispatcher = child(ROOT, 'workers/dispatcher-main.ts', { ...env, VIGIL_DISPATCHER_METRICS_PORT: '0' });
  const temporalPid = findPid('start-dev', stack.temporalAddress.split(':')[1]!);
  const pgPort = new URL(stack.databaseUrl).port;
  const postgresPid = findPid('postgres', '-p', pgPort) ?? findPid('postgres', pgPort);
  const stopAll = async () => {
    await stopChild(worker);
    await stopChild(dispatcher);
    await connection.close();
    await pool.end();
    await stack.stop();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  const ctx: PhaseContext = {
    pool,
    temporal,
    secret,
    env,
    root: ROOT,
    worker,
    dispatcher,
    temporalPid,
    postgresPid,
    temporalMetricsUrl: stack.temporalMetricsUrl,
    historySample: Number(args['history-sample']),
    say,
  };
  await fs.mkdir(args.out, { recursive: true });
  const file = path.join(args.out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const doc: BenchDoc = {
    at: new Date().toISOString(),
    args,
    mix: mixName,
    rule: MIXES[mixName].rule,
    knee: null,
    stoppedBy: null,
    limits: [],
    results: [],
  };
  // Written after every step, so an interrupted run keeps what it measured.
  const save = () => fs.writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);

  try {
    if (args.limit && !args['no-limit'] && stack.temporalMetricsUrl) {
      say('Temporal limit: the trivial signal-and-timer workflow on the same dev server');
      doc.limits.push(
        await measureTemporalLimit({
          label: 'dev server as npm start runs it (WAL, synchronous=normal)',
          address: stack.temporalAddress,
          metricsUrl: stack.temporalMetricsUrl,
          temporalPid,
          say,
        }),
      );
      await save();
      if (args['limit-compare-journal']) {
        const plain = await devServer(
          stack.temporalCli,
          createLogger('bench', 'warn'),
          path.join(stack.scratch, 'temporal-plain.db'),
          false,
        );
        try {
          doc.limits.push(
            await measureTemporalLimit({
              label: "dev server on a file with SQLite's default journal",
              address: plain.address,
              metricsUrl: plain.metricsUrl,
              temporalPid: plain.process.pid,
              say,
            }),
          );
        } finally {
          await plain.stop();
        }
        await save();
      }
    }
    const agents = Number(args.agents);
    const duration = Number(args.duration);
    const first: PhaseResult[] = [];
    if (args.mode !== 'naive')
      first.push(await runPhase(ctx, `${mixName}-${agents}`, 'coalesced', mixName, agents, duration));
    if (args.mode !== 'coalesced')
      first.push(await runPhase(ctx, `${mixName}-${agents}-naive`, 'naive', mixName, agents, duration));
    doc.results.push(...first);
    await save();
    const firstMiss = first[0] ? withinThresholds(first[0]) : 'no coalesced phase';
    if (first[0]) say(`${agents} agents: ${firstMiss ?? 'within thresholds'}`);
    if (firstMiss === null) doc.knee = agents;
    else if (first[0]) doc.stoppedBy = firstMiss;
    if (args.ramp && firstMiss === null) {
      for (const n of steps.filter((s) => s > agents)) {
        const endsAt = Date.now() + (Number(args['ramp-duration']) + 120) * 1000;
        if (endsAt > t0 + Number(args['budget-min']) * 60_000) {
          doc.stoppedBy = `time budget (--budget-min ${args['budget-min']}): step ${n} would end after it`;
          say(`ramp: ${doc.stoppedBy}`);
          break;
        }
        const r = await runPhase(ctx, `ramp-${n}`, 'coalesced', mixName, n, Number(args['ramp-duration']));
        doc.results.push(r);
        const why = withinThresholds(r);
        say(`ramp ${n}: ${why ?? 'within thresholds'}`);
        await save();
        if (why) {
          doc.stoppedBy = `${n} agents: ${why}`;
          break;
        }
        doc.knee = n;
      }
      doc.stoppedBy ??= 'the last step';
    }
    await save();
    say(`results: ${file}`);
    if (!args['no-markdown']) {
      const md = await writeReport(file, path.join(ROOT, 'BENCHMARKS.md'), path.join(args.out, 'chart.png'));
      say(`updated ${md}`);
    }
    say(`finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await stopAll();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
