// The whole platform as separate processes that a fault scenario can kill, stop and restart: its
// own embedded Postgres and Temporal dev server (history on a file, so a restart keeps it), the
// worker, the dispatcher and gateways, and a load balancer in front of the gateways.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { runMigrations } from '../../db/migrate.ts';
import { createPool, type Pool } from '../../db/pool.ts';
import { upsertRule } from '../../db/rules.ts';
import { signToken, type Role } from '../../platform/auth.ts';
import { loadConfig } from '../../platform/config.ts';
import { createLogger } from '../../platform/log.ts';
import { freePort, waitForPort } from '../../platform/ports.ts';
import { startEmbeddedPostgres } from '../../platform/postgres.ts';
import { ensureTemporalCli } from '../../platform/temporal-cli.ts';
import { startDevServer } from '../../platform/temporal-server.ts';
import { QUIET_WINDOWS } from '../harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SECRET = 'fault-suite-secret-0123456789abcdef';
const log = createLogger('faults', 'warn');

export interface Proc {
  name: string;
  port?: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGKILL (a crash) or SIGTERM (a graceful stop), and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface FaultStack {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  pool: Pool;
  temporal: Client;
  /** One address in front of every gateway; it routes new connections to the ones alive. */
  lb: { url: string; ws: string; http: string; route(ports: number[]): void; dropAll(): void };
  token(tenant: string, sub: string, role?: Role): Promise<string>;
  /** A tenant of its own for a scenario, with the quiet rule. */
  tenant(name: string): Promise<string>;
  worker(env?: Record<string, string>): Promise<Proc>;
  dispatcher(env?: Record<string, string>): Promise<Proc>;
  gateway(env?: Record<string, string>): Promise<Proc>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  restartTemporal(downMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Windows long enough that only the scenario's own requests change an agent's status. */
export const QUIET_RULE = {
  windows: QUIET_WINDOWS,
  reconnectGraceSec: 60,
};

export async function startFaultStack(name: string): Promise<FaultStack> {
  const cfg = loadConfig({ ...process.env, VIGIL_DATA_DIR: os.tmpdir() });
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), `vigil-faults-${name}-`));
  await fs.chmod(scratch, 0o755); // as root, Postgres runs as another user
  const procs = new Set<Proc>();
  const cli = await ensureTemporalCli({ explicit: cfg.temporalCli, cacheDir: cfg.cacheDir });
  const pgDir = path.join(scratch, 'pg');
  const pgPort = await freePort();
  let pg = await startEmbeddedPostgres(pgDir, pgPort, log);
  const temporalPort = await freePort();
  const dbFilename = path.join(scratch, 'temporal.db');
  const devServer = () => startDevServer({ cli, port: temporalPort, namespace: 'default', log, dbFilename });
  let temporalServer = await devServer();
  await runMigrations(pg.url);
  const pool = createPool(pg.url, 10);
  pool.on('error', () => {});
  const connection = await Connection.connect({ address: temporalServer.address });
  const temporal = new Client({ connection });
  const taskQueue = `vigil-faults-${name}`;

  const lb = await loadBalancer();
  const base = {
    ...process.env,
    DATABASE_URL: pg.url,
    TEMPORAL_ADDRESS: temporalServer.address,
    VIGIL_JWT_SECRET: SECRET,
    VIGIL_TASK_QUEUE: taskQueue,
    LOG_LEVEL: 'error',
    TEMPORAL_LOG_LEVEL: 'ERROR',
    VIGIL_WORKER_METRICS_PORT: '0',
    VIGIL_DISPATCHER_METRICS_PORT: '0',
    VIGIL_GATEWAY_LEASE_SEC: '2',
    VIGIL_DRAIN_GRACE_SEC: '10',
  };
  const start = async (procName: string, script: string, env: Record<string, string>, port?: number): Promise<Proc> => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const p: Proc = {
      name: procName,
      port,
      child,
      exited,
      async kill(signal = 'SIGKILL') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        procs.delete(p);
      },
    };
    procs.add(p);
    if (port) await waitForPort('127.0.0.1', port, 60_000);
    return p;
  };

  return {
    databaseUrl: pg.url,
    temporalAddress: temporalServer.address,
    taskQueue,
    pool,
    temporal,
    lb,
    token: (tenant, sub, role = 'agent') => signToken(SECRET, { sub, tenant, role }),
    async tenant(scenario) {
      const tenant = `faults-${scenario}-${Date.now().toString(36)}`;
      await upsertRule(pool, tenant, 'quiet', QUIET_RULE);
      return tenant;
    },
    worker: (env = {}) => start('worker', 'workers/main.ts', env),
    dispatcher: (env = {}) => start('dispatcher', 'workers/dispatcher-main.ts', env),
    async gateway(env = {}) {
      const port = await freePort();
      return start('gateway', 'gateway/main.ts', { PORT: String(port), ...env }, port);
    },
    stopPostgres: () => pg.stop(),
    async startPostgres() {
      pg = await startEmbeddedPostgres(pgDir, pgPort, log);
    },
    async restartTemporal(downMs) {
      await temporalServer.stop();
      await new Promise((r) => setTimeout(r, downMs));
      temporalServer = await devServer();
    },
    async close() {
      for (const p of [...procs]) await p.kill('SIGKILL');
      lb.close();
      await connection.close().catch(() => {});
      await pool.end().catch(() => {});
      await temporalServer.stop().catch(() => {});
      await pg.stop().catch(() => {});
      await fs.rm(scratch, { recursive: true, force: true });
    },
  };
}

/** A TCP load balancer on one port: new connections go round-robin to the routed ports. */
async function loadBalancer() {
  let ports: number[] = [];
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const port = ports[next++ % Math.max(1, ports.length)];
    if (port === undefined) return inbound.destroy();
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/v1/ws`,
    http: `http://127.0.0.1:${port}`,
    route(to: number[]) {
      ports = to;
    },
    /** Every open connection ends at once (a network blip or an LB restart). */
    dropAll() {
      for (const s of sockets) s.destroy();
    },
    close() {
      this.dropAll();
      server.close();
    },
  };
}
