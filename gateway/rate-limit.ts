// Token buckets and the bounded maps that hold them: per connection, per agent, per tenant and per
// HTTP caller. Every map keyed by something a caller chooses has a maximum size, so many distinct
// keys cost at most that many entries (README "Limits and retention").
import { idKey } from '../platform/ids.ts';

export class TokenBucket {
  private tokens: number;
  private at: number;

  /** `ratePerSec` refills continuously up to `burst` (default: one second's worth, at least 1). */
  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, ratePerSec),
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) / 1000) * this.ratePerSec);
    this.at = now;
  }

  /** Takes `n` tokens if there are enough; otherwise takes none. */
  take(n = 1, now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Takes `n` tokens even if there are not enough: the bucket goes into debt, at most one burst deep. */
  force(n: number, now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.max(-this.burst, this.tokens - n);
  }
}

/**
 * A Map with a maximum size that forgets its least recently used entry first (and, with `ttlMs`,
 * entries not used for that long). `get` and `set` count as use.
 */
export class LruMap<K, V> {
  private readonly m = new Map<K, { v: V; at: number }>();

  constructor(
    readonly maxSize: number,
    private readonly ttlMs = Infinity,
  ) {
    if (!(maxSize >= 1)) throw new Error('LruMap needs maxSize >= 1');
  }

  get size(): number {
    return this.m.size;
  }

  get(k: K, now = Date.now()): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    this.m.delete(k);
    if (now - e.at > this.ttlMs) return undefined;
    e.at = now;
    this.m.set(k, e); // re-inserted: Map order is use order
    return e.v;
  }

  set(k: K, v: V, now = Date.now()): void {
    this.m.delete(k);
    this.m.set(k, { v, at: now });
    while (this.m.size > this.maxSize) this.m.delete(this.m.keys().next().value as K);
  }

  delete(k: K): boolean {
    return this.m.delete(k);
  }

  clear(): void {
    this.m.clear();
  }

  /** Entries, least recently used first (no use recorded). */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, e] of this.m) yield [k, e.v];
  }
}

/**
 * Buckets by key, at most `maxKeys` of them: the least recently used goes first. A bucket that is
 * forgotten comes back full, which only ever matters for a key unused while `maxKeys` others were
 * used; callers key by verified identities (tenant, agent), never by raw client input.
 */
export class BucketMap {
  private readonly buckets: LruMap<string, TokenBucket>;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, ratePerSec),
    maxKeys = 10_000,
  ) {
    this.buckets = new LruMap(maxKeys);
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, now: number): TokenBucket {
    let b = this.buckets.get(key, now);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.ratePerSec, this.burst, now)), now);
    return b;
  }

  take(key: string, n = 1, now = Date.now()): boolean {
    return this.bucket(key, now).take(n, now);
  }

  force(key: string, n: number, now = Date.now()): void {
    this.bucket(key, now).force(n, now);
  }
}

/** Why an agent's events were refused; undefined = accepted. */
export type EventRefusal = 'AGENT_RATE' | 'TENANT_RATE';

export interface FairLimiterOptions {
  /** Per agent across all its connections and posts (per gateway), burst twice that. */
  agentEventsPerSec: number;
  /** Per tenant (per gateway), burst twice that. */
  tenantEventsPerSec: number;
  /** Agents tracked at most (least recently active forgotten first). */
  maxAgents?: number;
  /** Tenants tracked at most. */
  maxTenants?: number;
  /** Time constant of an agent's recent rate, and how long an agent counts as active. */
  windowMs?: number;
}

interface AgentStat {
  tenant: string;
  bucket: TokenBucket;
  /** Exponentially weighted events per second offered (accepted or not), as of `at`. */
  rate: number;
  at: number;
}

/**
 * Event limits that fall on whoever exceeds them:
 *
 * - each agent has its own budget (`agentEventsPerSec`, burst twice that);
 * - the tenant has a budget too (`tenantEventsPerSec`, burst twice that); when it is short, only
 *   agents whose own recent rate is above the tenant's fair share (tenant rate ÷ agents active in
 *   the last window) are refused. An agent at or under its fair share is accepted and the tenant
 *   bucket goes into debt (at most one burst), which keeps the heavy senders refused for longer.
 *   Since every such agent sends at most its share, what the tenant accepts stays under about
 *   twice its rate.
 */
export class FairLimiter {
  private readonly agents: LruMap<string, AgentStat>;
  private readonly tenants: BucketMap;
  /** Active agents per tenant, counted at most once per second and only while the tenant is short. */
  private readonly active: LruMap<string, { n: number; at: number }>;
  private readonly windowMs: number;

  constructor(private readonly o: FairLimiterOptions) {
    this.agents = new LruMap(o.maxAgents ?? 100_000);
    this.tenants = new BucketMap(o.tenantEventsPerSec, o.tenantEventsPerSec * 2, o.maxTenants ?? 10_000);
    this.active = new LruMap(o.maxTenants ?? 10_000);
    this.windowMs = o.windowMs ?? 5_000;
  }

  get trackedAgents(): number {
    return this.agents.size;
  }

  /** The agent's recent rate (events/s offered), decayed to `now`. */
  rateOf(tenant: string, agentId: string, now = Date.now()): number {
    const s = this.agents.get(idKey(tenant, agentId), now);
    return s ? decayed(s, now, this.windowMs) : 0;
  }

  /** Accounts `n` events of the agent and says whether to accept them. */
  take(tenant: string, agentId: string, n: number, now = Date.now()): EventRefusal | undefined {
    const k = idKey(tenant, agentId);
    let s = this.agents.get(k, now);
    if (!s) {
      s = {
        tenant,
        bucket: new TokenBucket(this.o.agentEventsPerSec, this.o.agentEventsPerSec * 2, now),
        rate: 0,
        at: now,
      };
      this.agents.set(k, s, now);
    }
    const before = decayed(s, now, this.windowMs);
    s.rate = before + (n * 1000) / this.windowMs;
    s.at = now;
    if (!s.bucket.take(n, now)) return 'AGENT_RATE';
    if (this.tenants.take(tenant, n, now)) return undefined;
    // The tenant is short: only agents above their fair share are refused.
    const share = this.o.tenantEventsPerSec / Math.max(1, this.activeAgents(tenant, now));
    if (before <= share) {
      this.tenants.force(tenant, n, now);
      return undefined;
    }
    return 'TENANT_RATE';
  }

  private activeAgents(tenant: string, now: number): number {
    const c = this.active.get(tenant, now);
    if (c && now - c.at < 1000) return c.n;
    let n = 0;
    for (const [, s] of this.agents.entries()) if (s.tenant === tenant && now - s.at < this.windowMs) n++;
    this.active.set(tenant, { n, at: now }, now);
    return n;
  }
}

function decayed(s: AgentStat, now: number, windowMs: number): number {
  return s.rate * Math.exp(-Math.max(0, now - s.at) / windowMs);
}

/** Open connections per agent on this gateway; an agent with none has no entry. */
export class ConnectionCounter {
  private readonly n = new Map<string, number>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.n.size;
  }

  /** Reserves a slot; false when the agent already has `max` open connections here. */
  acquire(tenant: string, agentId: string): boolean {
    const k = idKey(tenant, agentId);
    const c = this.n.get(k) ?? 0;
    if (c >= this.max) return false;
    this.n.set(k, c + 1);
    return true;
  }

  release(tenant: string, agentId: string): void {
    const k = idKey(tenant, agentId);
    const c = (this.n.get(k) ?? 0) - 1;
    if (c > 0) this.n.set(k, c);
    else this.n.delete(k);
  }
}
