// Postgres and Temporal for a benchmark, the way test/global-setup.ts brings them up: the given
// DATABASE_URL / TEMPORAL_ADDRESS, else embedded Postgres and the Temporal dev server on free ports,
// the dev server on a file with the SQLite settings `npm start` ships.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runMigrations } from '../db/migrate.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { freePort } from '../platform/ports.ts';
import { startEmbeddedPostgres } from '../platform/postgres.ts';
import { ensureTemporalCli } from '../platform/temporal-cli.ts';
import { startDevServer } from '../platform/temporal-server.ts';

export interface Stack {
  databaseUrl: string;
  temporalAddress: string;
  temporalCli: string;
  /** The dev server's Prometheus metrics; undefined for a given TEMPORAL_ADDRESS. */
  temporalMetricsUrl: string | undefined;
  scratch: string;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const log = createLogger('bench', 'warn');
  const cfg = loadConfig({ ...process.env, VIGIL_DATA_DIR: os.tmpdir() });
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-bench-'));
  await fs.chmod(scratch, 0o755); // as root, Postgres runs as the postgres user
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    await fs.rm(scratch, { recursive: true, force: true });
  };
  try {
    const cli = await ensureTemporalCli({ explicit: cfg.temporalCli, cacheDir: cfg.cacheDir });
    const pg = cfg.databaseUrl
      ? { url: cfg.databaseUrl, stop: async () => {} }
      : await startEmbeddedPostgres(path.join(scratch, 'pg'), await freePort(), log);
    stops.push(pg.stop);
    const temporal = cfg.temporalAddress
      ? { address: cfg.temporalAddress, metricsUrl: undefined, stop: async () => {} }
      : await devServer(cli, log, path.join(scratch, 'temporal.db'));
    stops.push(temporal.stop);
    await runMigrations(pg.url);
    return {
      databaseUrl: pg.url,
      temporalAddress: temporal.address,
      temporalCli: cli,
      temporalMetricsUrl: temporal.metricsUrl,
      scratch,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The dev server as `npm start` runs it (on a file, WAL, synchronous=normal; `fastSqlite: false` for
 * SQLite's defaults), on free ports; a port taken between pick and bind gets one retry.
 */
export async function devServer(
  cli: string,
  log: ReturnType<typeof createLogger>,
  dbFilename: string,
  fastSqlite = true,
) {
  try {
    return await startDevServer({ cli, port: await freePort(), namespace: 'default', log, dbFilename, fastSqlite });
  } catch (err) {
    process.stderr.write(
      `Temporal dev server did not start (${String(err).split('\n')[0]}); retrying on other ports\n`,
    );
    return startDevServer({ cli, port: await freePort(), namespace: 'default', log, dbFilename, fastSqlite });
  }
}
