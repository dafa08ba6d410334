// Measures propagation on this machine: commit-to-feed latency (p50/p99) at a steady rate and
// under saturation, how many commits paid for a NOTIFY, and dispatcher throughput per lane from
// a backlog. Real embedded Postgres, the real dispatcher in-process.
//   npm run bench:propagation            (or: npx tsx bench/propagation.ts)
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runMigrations } from '../db/migrate.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { putWebhook } from '../db/webhooks.ts';
import { createLogger } from '../platform/log.ts';
import { freePort } from '../platform/ports.ts';
import { startEmbeddedPostgres } from '../platform/postgres.ts';
import { startDispatcher } from '../workers/dispatcher.ts';
import { pct } from './stats.ts';

const payload = JSON.stringify({
  from: 'ONLINE',
  to: 'IDLE',
  status: 'IDLE',
  statusCode: 1001,
  cause: 'NO_TASK',
  actor: 'system:vigil',
  reason: null,
  since: new Date().toISOString(),
});

async function commitOne(
  pool: Pool,
  tenant: string,
  agent: string,
  version: number,
): Promise<{ eventId: string; committedAt: number }> {
  const { rows } = await pool.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload) VALUES ($1, $2, 'status', $3, $4, $5) RETURNING event_id`,
    [tenant, agent, version, `k${version}`, payload],
  );
  return { eventId: rows[0].event_id, committedAt: Date.now() };
}

const ms = (xs: number[], p: number) => (pct(xs, p) ?? NaN).toFixed(1);

/** Commit-to-feed latency: the feed row's delivery mark (clock_timestamp() in the feed transaction) minus the commit's return. */
async function feedLatencies(pool: Pool, commits: { eventId: string; committedAt: number }[]): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT o.event_id, extract(epoch FROM d.delivered_at) * 1000 AS at
       FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
      WHERE d.lane = 'feed' AND o.event_id = ANY($1::uuid[])`,
    [commits.map((c) => c.eventId)],
  );
  const at = new Map(rows.map((r) => [r.event_id, Number(r.at)]));
  return commits.map((c) => Math.max(0, (at.get(c.eventId) ?? NaN) - c.committedAt));
}

/** Waits until the lane has nothing pending (a cheap partial-index count, so polling does not steal the CPU). */
async function waitDrained(pool: Pool, lane: string, timeoutMs = 180_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM outbox_deliveries WHERE lane = $1 AND state = 'pending'`,
      [lane],
    );
    if (rows[0].n === 0) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${lane}: ${rows[0].n} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  const log = createLogger('bench', 'warn');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-bench-'));
  await fs.chmod(dir, 0o755);
  const pgServer = await startEmbeddedPostgres(path.join(dir, 'pg'), await freePort(), log);
  const results: [string, string][] = [];
  try {
    await runMigrations(pgServer.url);
    const pool = createPool(pgServer.url, 16);
    let notifies = 0;
    const listener = new pg.Client({ connectionString: pgServer.url });
    await listener.connect();
    listener.on('notification', (n) => {
      if (n.channel === 'vigil_outbox') notifies++;
    });
    await listener.query('LISTEN vigil_outbox');

    // 1. Steady rate: 200 commits/s from 4 writers for 5 s.
    let d = await startDispatcher({ pool, databaseUrl: pgServer.url, lanes: { webhooks: false } });
    const steady: { eventId: string; committedAt: number }[] = [];
    const rate = 200;
    const seconds = 5;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < (rate * seconds) / 4; i++) {
          const due = t0 + ((i * 4 + w) * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          steady.push(await commitOne(pool, 'steady', `a${w}`, i + 1));
        }
      }),
    );
    await waitDrained(pool, 'feed');
    const lat1 = await feedLatencies(pool, steady);
    results.push([
      `commit→feed latency at ${rate} commits/s (n=${steady.length})`,
      `p50 ${ms(lat1, 50)} ms, p99 ${ms(lat1, 99)} ms, max ${ms(lat1, 100)} ms`,
    ]);
    results.push(['commits that sent a NOTIFY (steady)', `${notifies} of ${steady.length}`]);

    // 1b. Sparse commits (dispatcher cold between them): the NOTIFY path.
    const sparse: { eventId: string; committedAt: number }[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 3_000));
      sparse.push(await commitOne(pool, 'sparse', 'a1', i + 1));
    }
    await waitDrained(pool, 'feed');
    const lat0 = await feedLatencies(pool, sparse);
    results.push([
      `commit→feed latency, idle dispatcher woken by NOTIFY (n=${sparse.length})`,
      `p50 ${ms(lat0, 50)} ms, p99 ${ms(lat0, 99)} ms`,
    ]);

    // 2. Saturation: 8 writers as fast as they can for 5 s.
    notifies = 0;
    const sat: { eventId: string; committedAt: number }[] = [];
    const t1 = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let v = 1; Date.now() - t1 < 5_000; v++) sat.push(await commitOne(pool, 'sat', `a${w}`, v));
      }),
    );
    const satSec = (Date.now() - t1) / 1000;
    await waitDrained(pool, 'feed');
    const lat2 = await feedLatencies(pool, sat);
    results.push([
      `commit→feed latency under saturation (${(sat.length / satSec).toFixed(0)} commits/s, n=${sat.length})`,
      `p50 ${ms(lat2, 50)} ms, p99 ${ms(lat2, 99)} ms`,
    ]);
    results.push(['commits that sent a NOTIFY (saturation)', `${notifies} of ${sat.length}`]);
    await d.stop();

    await waitDrained(pool, 'push');

    // 3. Throughput from a backlog: 50,000 committed rows, then the dispatcher drains the feed and
    //    push lanes concurrently.
    const N = 50_000;
    await pool.query(
      `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
       SELECT 'backlog', 'a' || (g % 500), 'status', g, 'k' || g, $1::jsonb FROM generate_series(1, $2) g`,
      [payload, N],
    );
    const t2 = Date.now();
    d = await startDispatcher({ pool, databaseUrl: pgServer.url, lanes: { webhooks: false } });
    const [feedMs, pushMs] = await Promise.all([
      waitDrained(pool, 'feed').then(() => Date.now() - t2),
      waitDrained(pool, 'push').then(() => Date.now() - t2),
    ]);
    await d.stop();
    results.push([
      `feed lane throughput (backlog ${N}, batch 500)`,
      `${((N / feedMs) * 1000).toFixed(0)} rows/s (${feedMs} ms)`,
    ]);
    results.push([
      `push lane throughput (same backlog, concurrently)`,
      `${((N / pushMs) * 1000).toFixed(0)} rows/s (${pushMs} ms)`,
    ]);

    // 4. One webhook lane alone, to a local receiver that answers 200 at once.
    const receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await putWebhook(pool, 'hooked', 'bench', {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
      secret: 'bench-secret-0123456789',
    });
    const H = 5_000;
    await pool.query(
      `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
       SELECT 'hooked', 'a' || (g % 500), 'status', g, 'k' || g, $1::jsonb FROM generate_series(1, $2) g`,
      [payload, H],
    );
    const t3 = Date.now();
    d = await startDispatcher({
      pool,
      databaseUrl: pgServer.url,
      lanes: { feed: false, push: false },
      webhook: { concurrency: 16, allowPrivate: true },
    });
    await waitDrained(pool, 'webhook:hooked:bench');
    const hookMs = Date.now() - t3;
    await d.stop();
    receiver.close();
    results.push([
      `one webhook lane, local 200 receiver, 16 in flight (${H} rows)`,
      `${((H / hookMs) * 1000).toFixed(0)} rows/s (${hookMs} ms)`,
    ]);

    await listener.end();
    await pool.end();
  } finally {
    await pgServer.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
  const w = Math.max(...results.map(([k]) => k.length));
  process.stdout.write(
    `\nPropagation on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), embedded Postgres\n\n`,
  );
  for (const [k, v] of results) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  process.stdout.write('\n');
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
