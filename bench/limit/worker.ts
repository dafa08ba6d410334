// Worker process for the Temporal-limit measurement: the trivial workflow on its own task queue,
// with the same worker options as Vigil's agent worker (workers/agent-worker.ts).
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../platform/config.ts';
import { quietRuntime } from '../../workers/agent-worker.ts';

export const LIMIT_TASK_QUEUE = 'vigil-bench-limit';

if (process.argv[1]?.endsWith('worker.ts')) {
  const cfg = loadConfig();
  quietRuntime(cfg.temporalLogLevel);
  const connection = await NativeConnection.connect({ address: cfg.temporalAddress! });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: LIMIT_TASK_QUEUE,
    workflowsPath: new URL('./workflow.ts', import.meta.url).pathname,
    maxCachedWorkflows: 5000,
    stickyQueueScheduleToStartTimeout: '2 seconds',
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.send?.({ type: 'ready' });
  await worker.run();
  await connection.close();
}
