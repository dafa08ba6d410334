// Bounded per-key state and fair event limits (gateway/rate-limit.ts), on a virtual clock.
import { describe, expect, it } from 'vitest';
import { BucketMap, ConnectionCounter, FairLimiter, LruMap, TokenBucket } from '../../gateway/rate-limit.ts';

describe('bounded per-key state', () => {
  it('an LRU map never holds more than its maximum, forgets the least recently used first, and expires by TTL', () => {
    const m = new LruMap<string, number>(1000, 60_000);
    for (let i = 0; i < 200_000; i++) {
      m.set(`k${i}`, i, 0);
      if (i % 500 === 0) m.get('k0', 0); // k0 stays in use
    }
    expect(m.size).toBe(1000);
    expect(m.get('k0', 0)).toBe(0);
    expect(m.get('k199999', 0)).toBe(199_999);
    expect(m.get('k1', 0)).toBeUndefined();
    expect(m.get('k199998', 60_001)).toBeUndefined();
    expect(m.size).toBe(999);
  });

  it('a bucket map keeps at most maxKeys buckets however many distinct keys arrive', () => {
    const b = new BucketMap(1, 1, 5000);
    for (let i = 0; i < 100_000; i++) b.take(`bearer-${Math.random()}`, 1, i);
    expect(b.size).toBe(5000);
    // A key in steady use keeps its (empty) bucket while strangers come and go.
    expect(b.take('me', 1, 0)).toBe(true);
    for (let i = 0; i < 100; i++) {
      b.take(`stranger-${i}`, 1, 0);
      expect(b.take('me', 1, 0)).toBe(false);
    }
  });

  it('the fair limiter tracks at most maxAgents agents', () => {
    const f = new FairLimiter({ agentEventsPerSec: 10, tenantEventsPerSec: 1000, maxAgents: 2000 });
    for (let i = 0; i < 50_000; i++) f.take(`t${i % 7}`, `a${i}`, 1, i);
    expect(f.trackedAgents).toBe(2000);
  });

  it('connection counts drop their key when an agent has none open', () => {
    const c = new ConnectionCounter(2);
    for (let i = 0; i < 10_000; i++) {
      expect(c.acquire('t', `a${i}`)).toBe(true);
      c.release('t', `a${i}`);
    }
    expect(c.size).toBe(0);
    expect(c.acquire('t', 'x')).toBe(true);
    expect(c.acquire('t', 'x')).toBe(true);
    expect(c.acquire('t', 'x')).toBe(false);
    c.release('t', 'x');
    expect(c.acquire('t', 'x')).toBe(true);
  });
});

describe('fair event limits', () => {
  it('a token bucket in debt refills from below zero', () => {
    const b = new TokenBucket(10, 20, 0);
    b.force(30, 0); // 20 - 30 = -10
    expect(b.take(1, 1000)).toBe(false); // -10 + 10 = 0
    expect(b.take(10, 2000)).toBe(true);
  });

  it('an agent is refused by its own budget before it can touch the tenant', () => {
    const f = new FairLimiter({ agentEventsPerSec: 100, tenantEventsPerSec: 300 });
    expect(f.take('t', 'flood', 200, 0)).toBeUndefined();
    expect(f.take('t', 'flood', 1, 0)).toBe('AGENT_RATE');
    // The tenant still has 600 - 200 for everyone else.
    for (let i = 0; i < 40; i++) expect(f.take('t', `calm-${i}`, 10, 0)).toBeUndefined();
  });

  it('when the tenant is short only agents above their fair share are refused', () => {
    const f = new FairLimiter({ agentEventsPerSec: 1e6, tenantEventsPerSec: 100, windowMs: 5000 });
    let now = 0;
    const refused = { greedy: 0, calm: 0 };
    // 10 s: greedy offers 1,000/s, calm 10/s; fair share with two active agents is 50/s.
    for (let tick = 0; tick < 1000; tick++, now += 10) {
      if (f.take('t', 'greedy', 10, now)) refused.greedy++;
      if (tick % 10 === 0 && f.take('t', 'calm', 1, now)) refused.calm++;
    }
    expect(refused.calm).toBe(0);
    expect(refused.greedy).toBeGreaterThan(800);
    expect(f.rateOf('t', 'greedy', now)).toBeGreaterThan(500);
    expect(f.rateOf('t', 'calm', now)).toBeLessThan(50);
  });

  it('a tenant of many equal agents over its rate is held to its rate (plus burst and bounded debt)', () => {
    const f = new FairLimiter({ agentEventsPerSec: 1e6, tenantEventsPerSec: 100, windowMs: 5000 });
    let accepted = 0;
    // 20 agents at 10/s each = 200/s, every one above the fair share (100/s ÷ 20 = 5/s).
    for (let now = 0; now < 20_000; now += 100) {
      for (let a = 0; a < 20; a++) if (!f.take('t', `a${a}`, 1, now)) accepted++;
    }
    // 20 s at the tenant's 100/s plus its burst of 200, and some debt drawn by agents under their share.
    expect(accepted).toBeLessThanOrEqual(2 * 100 * 20 + 200);
    expect(accepted).toBeGreaterThanOrEqual(100 * 20);
  });
});
