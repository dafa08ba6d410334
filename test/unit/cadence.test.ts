import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHANGE_RATIO,
  CadenceAdvisor,
  LAG_HIGH_MS,
  nextAdvice,
  targetInterval,
  type CadenceConn,
  type CadenceInput,
} from '../../gateway/cadence.ts';
import { cadenceBounds, ConfigError, loadConfig } from '../../platform/config.ts';

const bounds = { baseMs: 30_000, minMs: 10_000, maxMs: 120_000 };
const calm: CadenceInput = { connections: 100, budgetPerSec: 200, lagMs: 5, nearDeadline: false, suspect: false };

describe('heartbeat cadence policy', () => {
  it('is the base interval for a small calm fleet, and grows with the fleet beyond the budget', () => {
    expect(targetInterval(bounds, calm)).toBe(30_000);
    expect(targetInterval(bounds, { ...calm, connections: 6_000 })).toBe(30_000);
    expect(targetInterval(bounds, { ...calm, connections: 12_000 })).toBe(60_000);
    expect(targetInterval(bounds, { ...calm, connections: 1_000_000 })).toBe(120_000);
  });

  it('stretches under load, shortens near a deadline and for a suspect, unless the gateway is loaded', () => {
    expect(targetInterval(bounds, { ...calm, lagMs: 2 * LAG_HIGH_MS })).toBe(60_000);
    expect(targetInterval(bounds, { ...calm, lagMs: 100 * LAG_HIGH_MS })).toBe(120_000);
    expect(targetInterval(bounds, { ...calm, nearDeadline: true })).toBe(15_000);
    expect(targetInterval(bounds, { ...calm, suspect: true })).toBe(10_000);
    expect(targetInterval(bounds, { ...calm, suspect: true, lagMs: 2 * LAG_HIGH_MS })).toBe(60_000);
  });

  const input = fc.record({
    connections: fc.nat({ max: 2_000_000 }),
    budgetPerSec: fc.double({ min: 1, max: 10_000, noNaN: true }),
    lagMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
    nearDeadline: fc.boolean(),
    suspect: fc.boolean(),
  });
  const anyBounds = fc
    .tuple(
      fc.integer({ min: 100, max: 600_000 }),
      fc.integer({ min: 100, max: 600_000 }),
      fc.integer({ min: 100, max: 600_000 }),
    )
    .map(([a, b, c]) => {
      const [minMs, baseMs, maxMs] = [a, b, c].sort((x, y) => x - y) as [number, number, number];
      return { minMs, baseMs, maxMs };
    });

  it('property: always within the bounds, never longer for more urgency, never shorter for more connections or lag', () => {
    fc.assert(
      fc.property(
        anyBounds,
        input,
        fc.nat({ max: 100_000 }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        (b, x, more, lag) => {
          const ms = targetInterval(b, x);
          expect(ms).toBeGreaterThanOrEqual(b.minMs);
          expect(ms).toBeLessThanOrEqual(b.maxMs);
          expect(targetInterval(b, { ...x, suspect: true })).toBeLessThanOrEqual(
            targetInterval(b, { ...x, suspect: false }),
          );
          expect(targetInterval(b, { ...x, nearDeadline: true })).toBeLessThanOrEqual(
            targetInterval(b, { ...x, nearDeadline: false }),
          );
          expect(targetInterval(b, { ...x, connections: x.connections + more })).toBeGreaterThanOrEqual(ms);
          // More lag never shortens, once the gateway counts as loaded (then urgency no longer applies).
          if (x.lagMs > LAG_HIGH_MS)
            expect(targetInterval(b, { ...x, lagMs: x.lagMs + lag })).toBeGreaterThanOrEqual(ms);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('property (hysteresis): no change within the hold or by a quarter or less; otherwise exactly the target', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 600_000 }),
        fc.integer({ min: 100, max: 600_000 }),
        fc.nat({ max: 10_000_000 }),
        fc.nat({ max: 10_000_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (cur, target, at, elapsed, holdMs) => {
          const got = nextAdvice({ ms: cur, at }, target, at + elapsed, holdMs);
          const big = Math.abs(target - cur) > CHANGE_RATIO * cur;
          expect(got).toBe(elapsed >= holdMs && big ? target : undefined);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('property (no flapping): a fleet wandering within ±10% of a size changes no advice after it settled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6_000, max: 40_000 }),
        fc.array(fc.double({ min: -0.1, max: 0.1, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (size, wobble) => {
          const ms = targetInterval(bounds, { ...calm, connections: size });
          let advice = { ms, at: 0 };
          let changes = 0;
          wobble.forEach((w, i) => {
            const t = targetInterval(bounds, { ...calm, connections: Math.round(size * (1 + w)) });
            const next = nextAdvice(advice, t, (i + 1) * 60_000, 60_000);
            if (next !== undefined) {
              changes++;
              advice = { ms: next, at: (i + 1) * 60_000 };
            }
          });
          expect(changes).toBe(0);
        },
      ),
    );
  });
});

describe('CadenceAdvisor', () => {
  const conn = (over: Partial<CadenceConn> = {}): CadenceConn & { sent: number[] } => {
    const sent: number[] = [];
    return {
      tenant: 't1',
      agentId: 'a1',
      advice: { ms: 1_000, at: 0 },
      heardAt: 0,
      nearDeadline: false,
      live: true,
      sent,
      send: (ms) => sent.push(ms),
      ...over,
    };
  };

  it('advises live connections when the fleet grows, holds, and leaves 1.0 clients alone', () => {
    let now = 0;
    let lag = 0;
    const a = new CadenceAdvisor({
      bounds: { baseMs: 1_000, minMs: 400, maxMs: 4_000 },
      budgetPerSec: 2,
      holdMs: 2_000,
      lagMs: () => lag,
      now: () => now,
    });
    expect(a.welcome(false)).toBe(1_000);
    const c = conn();
    const old = conn({ live: false });
    a.add(c);
    a.add(old);
    // Two connections at 2/s: base. Heard recently, so not suspect.
    now = 3_000;
    c.heardAt = old.heardAt = 2_900;
    a.evaluate();
    expect(c.sent).toEqual([]);
    for (let i = 0; i < 4; i++) a.add(conn({ live: false, heardAt: 1e12 }));
    // Six connections at 2/s: 3 s each.
    a.evaluate();
    expect(c.sent).toEqual([3_000]);
    expect(old.sent).toEqual([]);
    expect(c.advice).toEqual({ ms: 3_000, at: 3_000 });
    // Within the hold nothing changes, whatever happens.
    lag = 10 * LAG_HIGH_MS;
    now = 4_000;
    c.heardAt = 4_000;
    a.evaluate();
    expect(c.sent).toEqual([3_000]);
    now = 5_000;
    c.heardAt = 5_000;
    a.evaluate();
    expect(c.sent).toEqual([3_000, 4_000]);
    expect(a.stats.changes).toBe(2);
  });

  it('shortens for a connection whose frames are late, counted from its last advice', () => {
    let now = 0;
    const a = new CadenceAdvisor({
      bounds: { baseMs: 1_000, minMs: 400, maxMs: 4_000 },
      budgetPerSec: 100,
      holdMs: 1_000,
      lagMs: () => 0,
      now: () => now,
    });
    const c = conn({ advice: { ms: 1_000, at: 0 }, heardAt: 0 });
    a.add(c);
    now = 1_400; // 1.4 intervals: not late yet
    a.evaluate();
    expect(c.sent).toEqual([]);
    now = 1_600;
    a.evaluate();
    expect(c.sent).toEqual([400]);
    a.remove(c);
    now = 10_000;
    a.evaluate();
    expect(c.sent).toEqual([400]);
  });
});

describe('CadenceAdvisor with an outside suspicion (fleet health)', () => {
  it('advises the minimum to the agents the hook suspects, heard from or not', () => {
    const sent: Record<string, number[]> = { ok: [], sus: [] };
    const a = new CadenceAdvisor({
      bounds: { baseMs: 1_000, minMs: 400, maxMs: 4_000 },
      budgetPerSec: 100,
      holdMs: 1_000,
      lagMs: () => 0,
      now: () => 2_000,
      suspected: (c) => c.agentId === 'sus',
    });
    for (const agentId of ['ok', 'sus'])
      a.add({
        tenant: 't1',
        agentId,
        advice: { ms: 1_000, at: 0 },
        heardAt: 1_900,
        nearDeadline: false,
        live: true,
        send: (ms) => sent[agentId]!.push(ms),
      });
    a.evaluate();
    expect(sent).toEqual({ ok: [], sus: [400] });
  });
});

describe('cadence configuration', () => {
  it('defaults the bounds around the base and refuses bounds that leave it out', () => {
    expect(cadenceBounds(loadConfig({}).gateway)).toEqual({ baseMs: 30_000, minMs: 10_000, maxMs: 120_000 });
    expect(cadenceBounds(loadConfig({ VIGIL_HEARTBEAT_MS: '1000', VIGIL_HEARTBEAT_MAX_MS: '1500' }).gateway)).toEqual({
      baseMs: 1_000,
      minMs: 333,
      maxMs: 1_500,
    });
    // Tuning that moves only the base (tests shorten it) gets bounds that hold it.
    const g = { ...loadConfig({}).gateway, heartbeatMinMs: 10_000, heartbeatMaxMs: 120_000 };
    expect(cadenceBounds({ ...g, heartbeatMs: 200_000 })).toEqual({ baseMs: 200_000, minMs: 10_000, maxMs: 200_000 });
    expect(cadenceBounds({ ...g, heartbeatMs: 200 })).toEqual({ baseMs: 200, minMs: 200, maxMs: 120_000 });
    expect(() => loadConfig({ VIGIL_HEARTBEAT_MIN_MS: '40000' })).toThrow(ConfigError);
    expect(() => loadConfig({ VIGIL_HEARTBEAT_MAX_MS: '20000' })).toThrow(/VIGIL_HEARTBEAT_MAX_MS: 20000 is below/);
  });
});
