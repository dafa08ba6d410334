// The agent worker's Prometheus metrics, served on VIGIL_WORKER_METRICS_PORT (README "Configuration").
import client from 'prom-client';
import type { HcmDeps } from '../activities/hcm.ts';

export function createWorkerMetrics(): { registry: client.Registry; onCall: NonNullable<HcmDeps['onCall']> } {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const calls = new client.Counter({
    name: 'vigil_hcm_calls_total',
    help: 'HCM calls by activity and outcome: committed, rejected, invalid_input (a data error, answered as a rejection), error (retried)',
    labelNames: ['activity', 'outcome'],
    registers: [registry],
  });
  return { registry, onCall: (activity, outcome) => calls.inc({ activity, outcome }) };
}
