// Temporal's own worker metrics (SDK Core: workflow and activity task latencies, sticky cache,
// continue-as-new, slots, pollers, …) on the worker's Prometheus endpoint. The runtime records them
// into a MetricsBuffer (workers/agent-worker.ts `quietRuntime` installs it); this module drains the
// buffer every second into prom-client metrics named as Core names them (`temporal_*`), which
// `attachTemporalMetrics` exposes on a registry. No second port, one scrape.
import { MetricsBuffer, type BufferedMetricUpdate } from '@temporalio/worker';
import client from 'prom-client';

/** The buffer the runtime writes to; large enough for a busy second between drains. */
export const temporalMetricsBuffer = new MetricsBuffer({ maxBufferSize: 100_000, useSecondsForDurations: true });

const DRAIN_MS = 1000;
const PREFIX = 'temporal_';
/** Core's histograms are durations (seconds here) or counts; one bucket set serves both well enough. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type PromMetric = client.Counter | client.Gauge | client.Histogram;
const metrics = new Map<string, { name: string; prom: PromMetric; kind: string; labels: string[] }>();
const targets = new Set<client.Registry>();
let timer: NodeJS.Timeout | undefined;

/** A Prometheus label name from an attribute key (Core's are snake_case already). */
const labelName = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(\d)/, '_$1');

function promFor(u: BufferedMetricUpdate) {
  const name = u.metric.name.startsWith(PREFIX) ? u.metric.name : `${PREFIX}${u.metric.name}`;
  const key = `${name}|${u.metric.kind}`;
  let m = metrics.get(key);
  if (m) return m;
  const safe = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  // Another kind under a name already taken (never seen from Core): keep the first.
  if ([...metrics.values()].some((x) => x.name === safe)) return undefined;
  const labels = Object.keys(u.attributes).map(labelName);
  const o = { name: safe, help: u.metric.description || `Temporal SDK metric ${u.metric.name}`, labelNames: labels };
  const prom =
    u.metric.kind === 'counter'
      ? new client.Counter({ ...o, registers: [] })
      : u.metric.kind === 'histogram'
        ? new client.Histogram({ ...o, buckets: BUCKETS, registers: [] })
        : new client.Gauge({ ...o, registers: [] });
  for (const r of targets) r.registerMetric(prom);
  m = { name: safe, prom, kind: u.metric.kind, labels };
  metrics.set(key, m);
  return m;
}

/** Moves what the runtime buffered into the prom-client metrics. */
export function drainTemporalMetrics(): void {
  let updates: Iterable<BufferedMetricUpdate>;
  try {
    updates = temporalMetricsBuffer.retrieveUpdates();
  } catch {
    return; // no runtime (yet), or shut down
  }
  for (const u of updates) {
    const m = promFor(u);
    if (!m) continue;
    // Labels the metric was created without are dropped (prom-client fixes a metric's label names).
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(u.attributes)) {
      const l = labelName(k);
      if (m.labels.includes(l)) labels[l] = String(v);
    }
    if (m.kind === 'counter') (m.prom as client.Counter).inc(labels, u.value);
    else if (m.kind === 'histogram') (m.prom as client.Histogram).observe(labels, u.value);
    else if (m.kind === 'up-down-counter') (m.prom as client.Gauge).inc(labels, u.value);
    else (m.prom as client.Gauge).set(labels, u.value);
  }
}

/** Drains every second from now on (called when the runtime is installed with the buffer). */
export function startDrainingTemporalMetrics(): void {
  if (timer) return;
  timer = setInterval(drainTemporalMetrics, DRAIN_MS);
  timer.unref();
}

/** Exposes Temporal's worker metrics on `registry`: the ones seen so far and every later one. */
export function attachTemporalMetrics(registry: client.Registry): void {
  drainTemporalMetrics();
  targets.add(registry);
  for (const { name, prom } of metrics.values()) {
    if (!registry.getSingleMetric(name)) registry.registerMetric(prom);
  }
}
