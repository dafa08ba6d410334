// History length per agent-hour under a steady heartbeat and activity stream, and proof that
// continue-as-new bounds each run. `npx tsx bench/history.ts [--agents 2] [--hours 2] [--scale 30]
// [--history-limit N]`. Uses DATABASE_URL / TEMPORAL_ADDRESS when set, else starts embedded
// Postgres and the Temporal dev server like the tests do. Time is compressed by --scale (default
// 30: an agent-hour takes 2 minutes) and so are the rule's windows (30 s idle → 1 s).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createPool } from '../db/pool.ts';
import { upsertRule } from '../db/rules.ts';
import { bundleWorkflows, createAgentWorker } from '../workers/agent-worker.ts';
import { agentWorkflowId } from '../workflows/contract.ts';
import { REALISTIC, agentStream, compressedRule, driveAgent, runHistories } from './agent-hour.ts';
import { startStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '2' },
    hours: { type: 'string', default: '2' },
    scale: { type: 'string', default: '30' },
    'history-limit': { type: 'string' },
  },
});
const agents = Number(values.agents);
const hours = Number(values.hours);
const scale = Number(values.scale);
const historyLimit = values['history-limit'] ? Number(values['history-limit']) : undefined;
if (![agents, hours, scale].every((n) => Number.isFinite(n) && n > 0))
  throw new Error('--agents, --hours and --scale must be positive numbers');

const say = (l: string) => process.stdout.write(`${l}\n`);
const t0 = Date.now();
const stack = await startStack();
const pool = createPool(stack.databaseUrl, 10);
const connection = await Connection.connect({ address: stack.temporalAddress });
const client = new Client({ connection });
const nc = await NativeConnection.connect({ address: stack.temporalAddress });
const tenant = `bench-${randomUUID().slice(0, 6)}`;
const taskQueue = `vigil-bench-${randomUUID().slice(0, 8)}`;
const worker = await createAgentWorker({
  connection: nc,
  namespace: 'default',
  taskQueue,
  workflowBundle: await bundleWorkflows(),
  pool,
  region: 'local',
});
const running = worker.run();

try {
  await upsertRule(pool, tenant, 'bench', compressedRule(scale));
  const steps = await agentStream(REALISTIC, hours);
  const byKind = new Map<string, number>();
  for (const s of steps) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(', ');
  say(
    `stack ready in ${Date.now() - t0} ms; ${agents} agent(s) × ${hours} h at ${scale}× (≈ ${Math.round((hours * 3600) / scale)} s real each)`,
  );
  say(
    `mix: heartbeat ${REALISTIC.heartbeatSec} s, an action every ${REALISTIC.actionEverySec} s during ${REALISTIC.activeSec} s of every ${REALISTIC.activeSec + REALISTIC.quietSec} s, ${REALISTIC.ticketsPerHour} tickets/h (open, reply, complete), coalesced by the gateway's Coalescer with the default rule: ${steps.length} signals`,
  );
  say(
    `signals per agent: ${steps.length} (${kinds})${historyLimit ? `; historyLimit ${historyLimit}` : "; continue-as-new on Temporal's suggestion"}`,
  );

  const ids = Array.from({ length: agents }, (_, i) => `agent-${i + 1}`);
  const driven = await Promise.all(
    ids.map((agentId) => driveAgent({ pool, client, taskQueue, tenant, agentId, steps, scale, historyLimit })),
  );
  await new Promise((r) => setTimeout(r, 1000));

  let total = 0;
  let maxRun = 0;
  let completedRuns = 0;
  let signals = 0;
  for (const [i, agentId] of ids.entries()) {
    const runs = await runHistories(client, agentWorkflowId(tenant, agentId), driven[i]!.firstRunId);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2`,
      [tenant, agentId],
    );
    say(`${agentId}: ${runs.length} run(s), ${rows[0].n} commits, driver lag ≤ ${driven[i]!.maxLagMs} ms`);
    for (const r of runs) {
      say(
        `  run ${r.runId.slice(0, 8)}: ${r.events} events (${r.signals} signals, ${r.workflowTasks} workflow tasks, ${r.timers} timers, ${r.activities} activities)${r.continuedAsNew ? ' → continued as new' : ' (running)'}`,
      );
      total += r.events;
      maxRun = Math.max(maxRun, r.events);
      signals += r.signals;
      if (r.continuedAsNew) completedRuns++;
    }
  }
  const agentHours = agents * hours;
  say('');
  say(`history events per agent-hour: ${Math.round(total / agentHours)}`);
  say(`signals per agent-hour:        ${Math.round(signals / agentHours)}`);
  say(`max events in one run:         ${maxRun}`);
  say(
    `continue-as-new per agent-hour: ${(completedRuns / agentHours).toFixed(2)} (${completedRuns} in ${agentHours} agent-hours)`,
  );
} finally {
  worker.shutdown();
  await running;
  await nc.close();
  await connection.close();
  await pool.end();
  await stack.stop();
}
