// Entry point of the dispatcher process: `tsx workers/dispatcher-main.ts` (npm start runs it).
// Runs every lane (feed, push, one per webhook subscription), serves its metrics, and makes sure
// the reconciliation and retention schedules exist.
import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool.ts';
import { loadConfig, requireSettings } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { onStopSignal } from '../platform/signals.ts';
import { temporalConnectionOptions, type TemporalConnectionOptions } from '../platform/temporal-connection.ts';
import { startDispatcher } from './dispatcher.ts';
import { DEFAULT_RETRY } from './lanes/retry.ts';
import { createDispatcherMetrics, serveMetrics } from './metrics.ts';
import { ensureReconcileSchedule, RECONCILE_SCHEDULE_ID } from './schedules.ts';
import { ensureRetentionSchedule, RETENTION_SCHEDULE_ID } from './schedules.ts';

const cfg = loadConfig();
const log = createLogger('dispatcher', cfg.logLevel);
// Temporal is optional here (webhooks deliver without it), but a TLS file that cannot be read is a
// configuration error like any other, not "Temporal unreachable".
let temporalOptions: TemporalConnectionOptions | undefined;
try {
  requireSettings(cfg, 'databaseUrl');
  if (cfg.temporalAddress) temporalOptions = temporalConnectionOptions(cfg);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(2);
}
const d = cfg.dispatcher;
const pool = createPool(cfg.databaseUrl, 12);
const metrics = createDispatcherMetrics(pool);
// Ctrl-C reaches Postgres too (one process group): errors while stopping are expected, not news.
let stopping = false;
const dispatcher = await startDispatcher({
  pool,
  databaseUrl: cfg.databaseUrl,
  retry: { ...DEFAULT_RETRY, maxAttempts: d.webhookMaxAttempts },
  webhook: { timeoutMs: d.webhookTimeoutMs, fault: d.fault, allowPrivate: cfg.webhookAllowPrivate },
  hooks: metrics.hooks,
  onError: (lane, err) => {
    if (!stopping) log.warn({ err, lane }, 'lane round failed; retrying');
  },
});
const server = d.metricsPort ? await serveMetrics(metrics.registry, d.metricsPort) : undefined;
log.info({ lanes: dispatcher.lanes(), metricsPort: server?.port, fault: d.fault }, 'dispatcher running');

if (temporalOptions) {
  try {
    const connection = await Connection.connect(temporalOptions);
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    try {
      const created = await ensureReconcileSchedule(client, {
        taskQueue: cfg.taskQueue,
        everySec: d.reconcileEverySec,
      });
      log.info({ scheduleId: RECONCILE_SCHEDULE_ID, created }, 'reconciliation schedule in place');
    } catch (err) {
      log.warn({ err }, 'could not ensure the reconciliation schedule; webhooks still deliver');
    }
    try {
      const created = await ensureRetentionSchedule(client, {
        taskQueue: cfg.taskQueue,
        everySec: d.retentionEverySec,
      });
      log.info({ scheduleId: RETENTION_SCHEDULE_ID, created }, 'retention schedule in place');
    } catch (err) {
      log.warn({ err }, 'could not ensure the retention schedule; old rows are kept until it exists');
    }
    await connection.close();
  } catch (err) {
    log.warn({ err }, 'could not reach Temporal: no reconciliation or retention schedule; webhooks still deliver');
  }
} else {
  log.warn('TEMPORAL_ADDRESS unset: no reconciliation or retention schedule');
}

onStopSignal(async () => {
  stopping = true;
  await dispatcher.stop();
  await server?.close();
  await pool.end();
  process.exit(0);
});
