// Entry point of the gateway process: `tsx gateway/main.ts` (npm start runs it for you).
import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { onStopSignal } from '../platform/signals.ts';
import { buildGateway } from './server.ts';

const log = createLogger('gateway');
const cfg = loadConfig();
if (!cfg.databaseUrl || !cfg.temporalAddress || cfg.jwtSecretGenerated) {
  log.fatal('DATABASE_URL, TEMPORAL_ADDRESS and VIGIL_JWT_SECRET are required (npm start sets them)');
  process.exit(2);
}
const pool = createPool(cfg.databaseUrl, 20);
const connection = await Connection.connect({ address: cfg.temporalAddress });
const app = buildGateway({
  pool,
  temporal: new Client({ connection, namespace: cfg.temporalNamespace }),
  namespace: cfg.temporalNamespace,
  taskQueue: cfg.taskQueue,
  jwtSecret: cfg.jwtSecret,
  tuning: cfg.gateway,
  allowedOrigins: cfg.allowedOrigins,
  region: cfg.region,
  webhookAllowPrivate: cfg.webhookAllowPrivate,
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
