// The task queue a gateway starts an agent's workflow on (workflows/routing.ts), from the agent's
// region and business line. A running workflow gets signals and updates wherever it runs, so the
// queue only matters when one starts; a stale answer is corrected by the workflow itself, which
// moves to the queue HCM's facts name. Hence a small cache with a short, absolute lifetime.
import { agentRoute } from '../db/agents.ts';
import type { Pool } from '../db/pool.ts';
import { idKey } from '../platform/ids.ts';
import { agentTaskQueue, NO_ROUTING, type Routing } from '../workflows/routing.ts';
import { LruMap } from './rate-limit.ts';

const ROUTES_CACHED = 100_000;
export const ROUTE_TTL_MS = 30_000;

export interface QueueResolver {
  queueFor(tenant: string, agentId: string): Promise<string>;
  /** Forgets cached routes: one agent's, or every agent's of a tenant after a bulk switch. */
  forget(tenant: string, agentId?: string): void;
}

export function createQueueResolver(o: {
  pool: Pool;
  taskQueue: string;
  routing?: Routing;
  /** Where an agent not yet created will be created (the gateway's region). */
  region: string;
  ttlMs?: number;
}): QueueResolver {
  const routing = o.routing ?? NO_ROUTING;
  const ttl = o.ttlMs ?? ROUTE_TTL_MS;
  const trivial = !routing.regional && routing.isolatedLines.length === 0;
  const cache = new LruMap<string, { queue: string; at: number; tenant: string }>(ROUTES_CACHED);
  return {
    async queueFor(tenant, agentId) {
      if (trivial) return o.taskQueue;
      const k = idKey(tenant, agentId);
      const hit = cache.get(k);
      if (hit && Date.now() - hit.at < ttl) return hit.queue;
      const route = (await agentRoute(o.pool, tenant, agentId)) ?? { region: o.region, businessLine: '' };
      const queue = agentTaskQueue(o.taskQueue, route, routing);
      cache.set(k, { queue, at: Date.now(), tenant });
      return queue;
    },
    forget(tenant, agentId) {
      if (agentId !== undefined) cache.delete(idKey(tenant, agentId));
      else for (const [k, v] of [...cache.entries()]) if (v.tenant === tenant) cache.delete(k);
    },
  };
}
