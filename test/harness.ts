// Shared by integration tests: clients to the global Postgres and Temporal, and a real worker.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createPool, type Pool } from '../db/pool.ts';
import { upsertRule, type RuleInput } from '../db/rules.ts';
import { loadConfig } from '../platform/config.ts';
import { createAgentWorkers, quietRuntime, type AgentWorkerOptions } from '../workers/agent-worker.ts';
import type { WorkerMetrics } from '../workers/worker-metrics.ts';
import type { Routing } from '../workflows/routing.ts';

export interface Harness {
  pool: Pool;
  client: Client;
  taskQueue: string;
  tenant: string;
  /** A worker process's agent workers: by default region `local`, one worker on `taskQueue`. */
  startWorker(o?: WorkerOptions): Promise<RunningWorker>;
  close(): Promise<void>;
}

export interface WorkerOptions {
  region?: string;
  routing?: Routing;
  /** VIGIL_WORKER_LINES: isolated lines and `*` (the shared queue); default all. */
  lanes?: string[];
  onCommitted?: AgentWorkerOptions['onCommitted'];
  pushReconcile?: AgentWorkerOptions['pushReconcile'];
  /** The worker's metrics, wired as workers/main.ts wires them. */
  metrics?: WorkerMetrics;
}

export interface RunningWorker {
  /** The first (with no routing, the only) Temporal worker. */
  worker: Worker;
  /** The queues polled. */
  queues: string[];
  stop(): Promise<void>;
}

/** Each test file gets its own tenant and task queue, so files never see each other's agents. */
export async function createHarness(name: string): Promise<Harness> {
  quietRuntime(loadConfig().temporalLogLevel);
  const pool = createPool(inject('databaseUrl'), 10);
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection });
  const taskQueue = `vigil-test-${name}-${randomUUID().slice(0, 8)}`;
  const tenant = `t-${name}-${randomUUID().slice(0, 6)}`;
  const code = await fs.readFile(inject('workflowBundlePath'), 'utf8');
  const running: RunningWorker[] = [];

  return {
    pool,
    client,
    taskQueue,
    tenant,
    async startWorker(o: WorkerOptions = {}) {
      const nc = await NativeConnection.connect({ address: inject('temporalAddress') });
      const workers = await createAgentWorkers({
        connection: nc,
        namespace: 'default',
        taskQueue,
        workflowBundle: { code },
        pool,
        region: o.region ?? 'local',
        routing: o.routing,
        lanes: o.lanes,
        onCommitted: o.onCommitted ?? o.metrics?.onCommitted,
        onCall: o.metrics?.onCall,
        onAnswered: o.metrics?.onAnswered,
        pushReconcile: o.pushReconcile,
        onReminded: o.metrics?.onReminded,
        // Recovery hooks of fleet tests answer on 127.0.0.1.
        allowPrivate: true,
      });
      o.metrics?.watch(workers.workers);
      const done = workers.run();
      const rw: RunningWorker = {
        worker: workers.workers[0]!.worker,
        queues: workers.workers.map((w) => w.queue),
        async stop() {
          workers.shutdown();
          await done;
          await nc.close();
          running.splice(running.indexOf(rw), 1);
        },
      };
      running.push(rw);
      return rw;
    },
    async close() {
      for (const w of [...running]) await w.stop();
      await connection.close();
      await pool.end();
    },
  };
}

/**
 * With VIGIL_RECORD_HISTORIES=1 (README "Tests", replay): writes a workflow's history, as
 * `temporal workflow show -o json` prints it, to test/histories/<file>.json for replay.test.ts.
 * The run `runId`, or the latest. Does nothing without the variable.
 */
export async function recordHistory(workflowId: string, file: string, runId?: string): Promise<void> {
  if (!process.env.VIGIL_RECORD_HISTORIES) return;
  const dir = new URL('./histories/', import.meta.url);
  await fs.mkdir(dir, { recursive: true });
  const json = execFileSync(inject('temporalCli'), [
    'workflow',
    'show',
    '--address',
    inject('temporalAddress'),
    '--workflow-id',
    workflowId,
    ...(runId ? ['--run-id', runId] : []),
    '--output',
    'json',
  ]);
  await fs.writeFile(new URL(`${file}.json`, dir), json);
}

/** Windows long enough that nothing changes by itself while a test looks (an hour to IDLE and to the reminder). */
export const QUIET_WINDOWS = {
  idleAfterNoTaskSec: 3600,
  remindAfterNoActionSec: 3600,
  abnormalAfterNoActionSec: 7200,
  offlineAfterAbnormalSec: 3600,
} as const;

export function setRule(h: Harness, ruleId: string, rule: RuleInput) {
  return upsertRule(h.pool, h.tenant, ruleId, rule);
}

/** Polls `fn` until it returns a truthy value or the time is up (integration tests only). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
