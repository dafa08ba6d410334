import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { AGENT_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import type { Logger } from './log.ts';
import { freePort } from './ports.ts';

/** docs/PROTOCOL.md's search attributes, registered on the dev server at start: name → CLI type ('Keyword', …). */
export const SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  Object.values(AGENT_SEARCH_ATTRIBUTES).map((k) => [k.name, TypedSearchAttributes.toMetadataType(k.type)]),
);

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  /** Persistent store; undefined keeps everything in memory. */
  dbFilename?: string;
  /** On a file: SQLite in WAL with synchronous=normal (default true; false = SQLite's defaults, for comparison). */
  fastSqlite?: boolean;
  namespace: string;
  log: Logger;
}

export interface RunningTemporal {
  address: string;
  uiUrl: string | undefined;
  /** The server's Prometheus metrics (e.g. service_requests by operation). */
  metricsUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(o: DevServerOptions): Promise<RunningTemporal> {
  const metricsPort = await freePort();
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--namespace',
    o.namespace,
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(metricsPort),
    '--log-level',
    'warn',
  ];
  for (const [k, v] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${k}=${v}`);
  if (o.uiPort) args.push('--ui-port', String(o.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  // On a file (npm start): WAL with synchronous=normal, durable across any process crash (an OS
  // crash may lose the last commits, never the file); SQLite's default journal is several times
  // slower for the dev server's workflow tasks.
  if (o.dbFilename) args.push('--db-filename', o.dbFilename);
  if (o.dbFilename && o.fastSqlite !== false)
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');

  const child = spawn(o.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Never outlive the process that started it, even if that one is killed mid-shutdown.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const tail: string[] = [];
  const keep = (b: Buffer) => {
    for (const l of b.toString().split('\n').filter(Boolean)) {
      tail.push(l);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const state: { exited: number | null } = { exited: null };
  child.on('exit', (code) => {
    state.exited = code ?? -1;
  });

  const address = `127.0.0.1:${o.port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (state.exited !== null)
      throw new Error(`temporal server start-dev exited with ${state.exited}:\n${tail.join('\n')}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.describeNamespace({ namespace: o.namespace });
      await conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Temporal dev server not ready on ${address} after 90 s:\n${tail.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  o.log.info({ address, ui: o.uiPort }, 'temporal dev server ready');
  return {
    address,
    uiUrl: o.uiPort ? `http://127.0.0.1:${o.uiPort}` : undefined,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (state.exited !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
