// Entry point of the dispatcher process: `tsx workers/dispatcher-main.ts` (npm start runs it).
import { createPool } from '../db/pool.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { runFeedLane } from './dispatcher.ts';

const log = createLogger('dispatcher');
const cfg = loadConfig();
if (!cfg.databaseUrl) {
  log.fatal('DATABASE_URL is required (npm start sets it)');
  process.exit(2);
}
const pool = createPool(cfg.databaseUrl, 4);
const lane = runFeedLane(pool, { onError: (err) => log.warn({ err }, 'feed lane batch failed; retrying') });
log.info('dispatcher running (feed lane)');
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, async () => {
    await lane.stop();
    await pool.end();
    process.exit(0);
  });
}
