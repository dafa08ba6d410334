// Entry point of the gateway process: `tsx gateway/main.ts` (npm start runs it for you).
import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool.ts';
import { loadConfig, requireSettings } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { onStopSignal } from '../platform/signals.ts';
import { temporalConnectionOptions, type TemporalConnectionOptions } from '../platform/temporal-connection.ts';
import { buildGateway } from './server.ts';

const cfg = loadConfig();
const log = createLogger('gateway', cfg.logLevel);
let temporalOptions: TemporalConnectionOptions;
try {
  requireSettings(cfg, 'databaseUrl', 'temporalAddress', 'jwtSecret');
  temporalOptions = temporalConnectionOptions(cfg);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(2);
}
const pool = createPool(cfg.databaseUrl, 20);
const connection = await Connection.connect(temporalOptions);
const app = buildGateway({
  pool,
  temporal: new Client({ connection, namespace: cfg.temporalNamespace }),
  namespace: cfg.temporalNamespace,
  taskQueue: cfg.taskQueue,
  jwtSecret: cfg.jwtSecret,
  tuning: cfg.gateway,
  allowedOrigins: cfg.allowedOrigins,
  region: cfg.region,
  routing: cfg.routing,
  webhookAllowPrivate: cfg.webhookAllowPrivate,
  temporalUiUrl: cfg.temporalUiUrl,
  log,
});
await app.listen({ port: cfg.port, host: '0.0.0.0' });
log.info({ port: cfg.port, gatewayId: app.vigil.gatewayId, digestMs: app.vigil.tuning.digestMs }, 'gateway listening');
onStopSignal(async () => {
  // Graceful: buffered activity is flushed; devices are left to reconnect elsewhere within the grace.
  await app.close();
  await pool.end();
  await connection.close();
  process.exit(0);
});
