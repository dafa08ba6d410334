import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  type NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createFleetActivities } from '../activities/fleet.ts';
import { createHcmActivities, type HcmDeps } from '../activities/hcm.ts';
import { createReconcileActivities } from '../activities/reconcile.ts';
import { createRetentionActivities } from '../activities/retention.ts';
import { createSimulationActivities } from '../activities/simulate.ts';
import type { RetentionPolicy } from '../db/retention.ts';
import { loadConfig, type Config } from '../platform/config.ts';
import { agentTaskQueue, NO_ROUTING, workerTaskQueues, type Routing } from '../workflows/routing.ts';
import { startDrainingTemporalMetrics, temporalMetricsBuffer } from './temporal-metrics.ts';

export const WORKFLOWS_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'index.ts');

/** Bundles the workflow code once (webpack); pass the result to every worker of the process. */
export async function bundleWorkflows(): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return { code };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => process.stderr.write(`workflow bundle: ${m}\n`),
  error: (m: string) => process.stderr.write(`workflow bundle: ${m}\n`),
};

export interface AgentWorkerOptions extends HcmDeps {
  connection: NativeConnection;
  namespace: string;
  /** The base task queue: agents' queues derive from it by `routing` (workflows/routing.ts). */
  taskQueue: string;
  /** Default: every agent on `taskQueue`. */
  routing?: Routing;
  /** The queue this worker polls; default `taskQueue`. */
  pollQueue?: string;
  workflowBundle: WorkflowBundleOption;
  /** What the retention activity keeps; default the configuration's defaults. */
  retention?: Partial<RetentionPolicy>;
  /** Sticky cache size (VIGIL_WORKER_CACHED_WORKFLOWS); default 5000. */
  maxCachedWorkflows?: number;
  /** Push lane reconciliation's grace and bound (activities/reconcile.ts `PUSH_RECONCILE`); tests shorten them. */
  pushReconcile?: Parameters<typeof createReconcileActivities>[0]['pushReconcile'];
  /** Recovery hooks (README "Fleet mode") may go to private addresses (`VIGIL_WEBHOOK_ALLOW_PRIVATE`); default the configuration's. */
  allowPrivate?: boolean;
}

let runtimeInstalled = false;
/**
 * The SDK logs every worker state change at INFO; Vigil's processes want warnings only. The first
 * call installs the runtime: the worker process passes its TEMPORAL_LOG_LEVEL before anything else.
 * Core's worker metrics go to a buffer that workers/temporal-metrics.ts drains into the worker's
 * Prometheus registry (README "Engine metrics").
 */
export function quietRuntime(level: Config['temporalLogLevel'] = 'WARN') {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      telemetryOptions: { metrics: { buffer: temporalMetricsBuffer } },
    });
    startDrainingTemporalMetrics();
  } catch {
    // Already installed by the host process.
  }
}

export function createAgentWorker(o: AgentWorkerOptions): Promise<Worker> {
  quietRuntime();
  // HCM names each agent's queue in its facts: a workflow on another queue moves there.
  const route = (a: { region: string; businessLine: string }) => agentTaskQueue(o.taskQueue, a, o.routing);
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.pollQueue ?? o.taskQueue,
    workflowBundle: o.workflowBundle,
    activities: {
      ...createHcmActivities({ ...o, route, servedOn: o.pollQueue ?? o.taskQueue }),
      ...createFleetActivities({ ...o, allowPrivate: o.allowPrivate ?? loadConfig({}).webhookAllowPrivate }),
      ...createReconcileActivities(o),
      ...createRetentionActivities(o),
      ...createSimulationActivities(o),
    },
    // Agents are long-lived and mostly idle: keep many cached, poll modestly.
    maxCachedWorkflows: o.maxCachedWorkflows ?? 5000,
    // After a worker restart its agents' next tasks wait this long on the old sticky queue: keep
    // it short so a window that fires then lands on time.
    stickyQueueScheduleToStartTimeout: '2 seconds',
  });
}

export interface AgentWorkers {
  /** One Temporal worker per polled queue, with the lane it serves (`*` = the shared queue). */
  workers: { queue: string; lane: string; worker: Worker }[];
  /** Runs them all until shut down; rejects when one fails (the others are shut down). */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * The workers of one process: one per queue of its region and lanes (workflows/routing.ts
 * `workerTaskQueues`). With no routing that is one worker on `taskQueue`, as always.
 */
export async function createAgentWorkers(
  o: Omit<AgentWorkerOptions, 'pollQueue'> & { lanes?: readonly string[] },
): Promise<AgentWorkers> {
  const queues = workerTaskQueues(o.taskQueue, o.region, o.routing ?? NO_ROUTING, o.lanes);
  const workers: AgentWorkers['workers'] = [];
  for (const q of queues) workers.push({ ...q, worker: await createAgentWorker({ ...o, pollQueue: q.queue }) });
  const shutdown = () => {
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    workers,
    shutdown,
    async run() {
      const runs = workers.map(({ worker }) =>
        worker.run().catch((err: unknown) => {
          shutdown();
          throw err;
        }),
      );
      const results = await Promise.allSettled(runs);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed?.status === 'rejected') throw failed.reason;
    },
  };
}
