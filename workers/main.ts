// Entry point of the worker process: `tsx workers/main.ts` (npm start runs it for you).
import { NativeConnection } from '@temporalio/worker';
import { createPool } from '../db/pool.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { bundleWorkflows, createAgentWorker, quietRuntime } from './agent-worker.ts';

const log = createLogger('worker');
const cfg = loadConfig();
if (!cfg.databaseUrl || !cfg.temporalAddress) {
  log.fatal('DATABASE_URL and TEMPORAL_ADDRESS are required (npm start sets them)');
  process.exit(2);
}
quietRuntime();
const pool = createPool(cfg.databaseUrl, 20);
const connection = await NativeConnection.connect({ address: cfg.temporalAddress });
const worker = await createAgentWorker({
  connection,
  namespace: cfg.temporalNamespace,
  taskQueue: cfg.taskQueue,
  workflowBundle: await bundleWorkflows(),
  pool,
  region: cfg.region,
  retention: cfg.retention,
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => worker.shutdown());
log.info({ taskQueue: cfg.taskQueue }, 'worker running');
await worker.run();
await pool.end();
await connection.close();
log.info('worker stopped');
