// The dispatcher's Prometheus metrics, served on VIGIL_DISPATCHER_METRICS_PORT (README "Propagation").
import http from 'node:http';
import client from 'prom-client';
import { laneHealth, type LaneHealth } from '../db/deliveries.ts';
import type { Pool } from '../db/pool.ts';
import type { LaneHooks } from './lanes/hooks.ts';

export interface DispatcherMetrics {
  registry: client.Registry;
  hooks: LaneHooks;
}

/** Lane labels say which handler: 'feed', 'push', 'webhook:<tenant>:<id>'. */
export function createDispatcherMetrics(pool: Pool): DispatcherMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const latency = new client.Histogram({
    name: 'vigil_dispatch_latency_seconds',
    help: 'From the HCM commit (outbox row created_at) to delivery, per lane',
    labelNames: ['lane'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const delivered = new client.Counter({
    name: 'vigil_deliveries_total',
    help: 'Rows delivered, per lane',
    labelNames: ['lane'],
    registers: [registry],
  });
  const errors = new client.Counter({
    name: 'vigil_delivery_errors_total',
    help: 'Failed delivery attempts, per lane',
    labelNames: ['lane'],
    registers: [registry],
  });
  const deadLettered = new client.Counter({
    name: 'vigil_dead_lettered_total',
    help: 'Rows moved to dead letter, per lane',
    labelNames: ['lane'],
    registers: [registry],
  });
  // Gauges read Postgres at scrape time (one query shared by the three), so every dispatcher
  // process reports the same truth. A failed read leaves the gauges empty rather than stale.
  let snapshot: { at: number; rows: Promise<LaneHealth[]> } | undefined;
  const readHealth = () => {
    if (!snapshot || Date.now() - snapshot.at > 250)
      snapshot = { at: Date.now(), rows: laneHealth(pool).catch(() => []) };
    return snapshot.rows;
  };
  const gauge = (name: string, help: string, pick: (r: LaneHealth) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['lane'],
      registers: [registry],
      async collect() {
        const rows = await readHealth();
        this.reset();
        for (const r of rows) this.set({ lane: r.lane }, pick(r));
      },
    });
  gauge('vigil_lane_lag_seconds', 'Age of the oldest pending row (commit to now), per lane', (r) => r.oldestPendingSec);
  gauge('vigil_lane_pending', 'Pending rows, per lane', (r) => r.pending);
  gauge('vigil_dead_letters', 'Dead-lettered rows, per lane', (r) => r.dead);
  return {
    registry,
    hooks: {
      delivered(laneName, committedAt) {
        const now = Date.now();
        delivered.inc({ lane: laneName }, committedAt.length);
        for (const at of committedAt) latency.observe({ lane: laneName }, Math.max(0, now - at.getTime()) / 1000);
      },
      failed(laneName, isDead) {
        errors.inc({ lane: laneName });
        if (isDead) deadLettered.inc({ lane: laneName });
      },
    },
  };
}

/** GET /metrics on `port` (0 = off); returns a closer. */
export async function serveMetrics(
  registry: client.Registry,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(503).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
