// Token buckets for the per-connection, per-tenant and per-caller limits.

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

  /** Takes `n` tokens if there are enough; otherwise takes none. */
  take(n = 1, now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerSec);
    this.at = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/** Buckets by key, dropping ones idle long enough to be full again. */
export class BucketMap {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, ratePerSec),
  ) {}

  take(key: string, n = 1, now = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.prune(now);
      b = { bucket: new TokenBucket(this.ratePerSec, this.burst, now), used: now };
      this.buckets.set(key, b);
    }
    b.used = now;
    return b.bucket.take(n, now);
  }

  private prune(now: number): void {
    const fullAfterMs = (this.burst / this.ratePerSec) * 1000;
    for (const [k, b] of this.buckets) if (now - b.used > fullAfterMs) this.buckets.delete(k);
  }
}
