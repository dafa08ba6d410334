// Fleet mode's pure decisions (workflows/fleet.ts) and the heartbeat grammar (gateway/frames.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEvents } from '../../gateway/frames.ts';
import {
  DEFAULT_FLEET_RULE,
  decideService,
  deadline,
  initialService,
  type HealthFacts,
  type HealthState,
  type ServiceState,
} from '../../workflows/fleet.ts';

const T0 = 1_763_900_000_000;
const rule = { ruleId: 'r', version: 1, fleet: { ...DEFAULT_FLEET_RULE, heartbeatSec: 10, missingAfterBeats: 3 } };
const facts = (health: HealthState, version: number, since: number, f: Partial<HealthFacts> = {}): HealthFacts => ({
  health,
  cause: 'X',
  since,
  version,
  rule,
  ...f,
});
const start = () => initialService('t', 'i', facts('HEALTHY', 0, T0, { lastBeatAt: T0 }), T0);
/** HCM commits every candidate as proposed. */
function commitAll(s: ServiceState, d: ReturnType<typeof decideService>, at: number): ServiceState {
  let state = d.state;
  for (const c of d.candidates) {
    state = decideService(state, { kind: 'facts', facts: facts(c.to, state.version + 1, at), at }).state;
  }
  return state;
}

describe("an instance's health", () => {
  it('goes MISSING after the missed beats, then through the ladder to FAILED', () => {
    let s = start();
    expect(deadline(s)).toEqual({ at: T0 + 30_000, action: 'MISSING' });
    let d = decideService(s, { kind: 'timer', at: T0 + 30_000 });
    expect(d.candidates).toMatchObject([{ to: 'MISSING', cause: 'NO_HEARTBEAT', windowStart: T0 }]);
    s = commitAll(s, d, T0 + 30_000);
    expect(s.incident).toMatchObject({ done: 0, nextAt: T0 + 30_000 });
    // restart (with RECOVERING), replace after 120 s, alert after 120 more (with FAILED).
    d = decideService(s, { kind: 'timer', at: T0 + 30_000 });
    expect(d.steps).toMatchObject([{ step: 'restart', index: 0 }]);
    expect(d.candidates).toMatchObject([{ to: 'RECOVERING', cause: 'RECOVERY' }]);
    s = commitAll(s, d, T0 + 30_000);
    expect(deadline(s)).toEqual({ at: T0 + 150_000, action: 'replace' });
    d = decideService(s, { kind: 'timer', at: T0 + 150_000 });
    expect(d.steps).toMatchObject([{ step: 'replace', index: 1 }]);
    expect(d.candidates).toEqual([]);
    s = commitAll(s, d, T0 + 150_000);
    d = decideService(s, { kind: 'timer', at: T0 + 270_000 });
    expect(d.steps).toMatchObject([{ step: 'alert', index: 2 }]);
    expect(d.candidates).toMatchObject([{ to: 'FAILED', cause: 'RECOVERY_EXHAUSTED' }]);
    s = commitAll(s, d, T0 + 270_000);
    expect(s.health).toBe('FAILED');
    expect(deadline(s)).toBeNull();
  });

  it('abandons the recovery when the instance comes back', () => {
    let s = start();
    s = commitAll(s, decideService(s, { kind: 'timer', at: T0 + 30_000 }), T0 + 30_000);
    s = commitAll(s, decideService(s, { kind: 'timer', at: T0 + 30_000 }), T0 + 30_001);
    expect(s.health).toBe('RECOVERING');
    const d = decideService(s, { kind: 'beats', beats: [{ at: T0 + 40_000, seq: 1 }], at: T0 + 40_000 });
    expect(d.abandoned).toEqual({ incident: `inc-${T0 + 30_000}`, step: 'replace' });
    expect(d.candidates).toMatchObject([{ to: 'HEALTHY', cause: 'HEARTBEAT_RESUMED' }]);
    expect(d.state.incident).toBeNull();
  });

  it('is DEGRADED while a metric is at its limit, and says so on restarts and lost beats', () => {
    const s = start();
    let d = decideService(s, {
      kind: 'beats',
      beats: [{ at: T0 + 1000, seq: 5, metrics: { cpu: 0.99, queueDepth: 7 } }],
      at: T0 + 1000,
    });
    expect(d.candidates).toMatchObject([{ to: 'DEGRADED', cause: 'METRICS', basis: { over: ['cpu'] } }]);
    d = decideService(d.state, { kind: 'beats', beats: [{ at: T0 + 2000, seq: 9 }], at: T0 + 2000 });
    expect(d.notes).toEqual(['gap: 3 heartbeats lost (seq 5 → 9)']);
    d = decideService(d.state, { kind: 'beats', beats: [{ at: T0 + 3000, seq: 1 }], at: T0 + 3000 });
    expect(d.notes).toEqual(['restart: seq 9 → 1']);
  });

  it('property: an instance whose beats keep coming within the window is never proposed MISSING', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 29_999 }), { minLength: 1, maxLength: 40 }), (gaps) => {
        let s = start();
        let at = T0;
        let seq = 0;
        for (const g of gaps) {
          // The timer may fire at any deadline before the beat; none is due while beats keep coming.
          const next = deadline(s)!;
          expect(next.at).toBeGreaterThan(at + g - 1);
          at += g;
          const d = decideService(s, { kind: 'beats', beats: [{ at, seq: ++seq }], at });
          expect(d.candidates.filter((c) => c.to === 'MISSING')).toEqual([]);
          s = d.state;
        }
        expect(s.health).toBe('HEALTHY');
      }),
    );
  });
});

describe('heartbeat grammar', () => {
  const hb = (data: Record<string, unknown>) => ({ reqId: 'r1', type: 1, ts: T0, data });
  it('takes a sequence number and numeric metrics, refuses anything else per event', () => {
    expect(checkEvents([hb({ seq: 3, metrics: { cpu: 0.5, inFlight: 2 } })], 'd', T0).rejected).toEqual([]);
    for (const bad of [
      { seq: -1 },
      { seq: 1.5 },
      { seq: '3' },
      { metrics: [] },
      { metrics: { cpu: 'high' } },
      { metrics: { cpu: Number.POSITIVE_INFINITY } },
      { metrics: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i])) },
    ]) {
      const r = checkEvents([hb(bad)], 'd', T0);
      expect(r.rejected, JSON.stringify(bad)).toHaveLength(1);
    }
  });
});
