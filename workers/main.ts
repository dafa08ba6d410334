// Entry point of the worker process: `tsx workers/main.ts` (npm start runs it for you).
import { NativeConnection } from '@temporalio/worker';
import { createPool } from '../db/pool.ts';
import { loadConfig, requireSettings } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { onStopSignal } from '../platform/signals.ts';
import { temporalConnectionOptions, type TemporalConnectionOptions } from '../platform/temporal-connection.ts';
import { bundleWorkflows, createAgentWorkers, quietRuntime } from './agent-worker.ts';
import { serveMetrics } from './metrics.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

const cfg = loadConfig();
const log = createLogger('worker', cfg.logLevel);
let temporalOptions: TemporalConnectionOptions;
try {
  requireSettings(cfg, 'databaseUrl', 'temporalAddress');
  temporalOptions = temporalConnectionOptions(cfg);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(2);
}
quietRuntime(cfg.temporalLogLevel);
const pool = createPool(cfg.databaseUrl, 20);
const connection = await NativeConnection.connect(temporalOptions);
const metrics = createWorkerMetrics(cfg.routing, { pool, region: cfg.region });
// A second worker on the same machine (a benchmark, a test) finds the port taken: it runs without.
const server = cfg.workerMetricsPort
  ? await serveMetrics(metrics.registry, cfg.workerMetricsPort).catch(
      (err: Error) => void log.warn({ err: err.message }, 'worker metrics off'),
    )
  : undefined;
// One Temporal worker per queue of this region and lanes (README "Regions and business lines").
const workers = await createAgentWorkers({
  maxCachedWorkflows: cfg.workerCachedWorkflows,
  onCall: metrics.onCall,
  onCommitted: metrics.onCommitted,
  onAnswered: metrics.onAnswered,
  onReminded: metrics.onReminded,
  connection,
  namespace: cfg.temporalNamespace,
  taskQueue: cfg.taskQueue,
  routing: cfg.routing,
  lanes: cfg.workerLines,
  workflowBundle: await bundleWorkflows(),
  pool,
  region: cfg.region,
  retention: cfg.retention,
  allowPrivate: cfg.webhookAllowPrivate,
});
metrics.watch(workers.workers);
onStopSignal(() => workers.shutdown());
log.info(
  { region: cfg.region, taskQueues: workers.workers.map((w) => w.queue), metricsPort: server?.port },
  'worker running',
);
await workers.run();
await server?.close();
await pool.end();
await connection.close();
log.info('worker stopped');
