// Input health (README "Input health and degrade"): the verdict of a scope (gateway/input-judge.ts),
// which overrides win (db/input-health.ts holdOf), and how the workflow treats a held window
// (workflows/decide.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holdOf, INPUT_THRESHOLDS, type ScopeHealth } from '../../db/input-health.ts';
import { FRESH_SCOPE, judge, type JudgeState } from '../../gateway/input-judge.ts';
import { decide, initialState, nextDeadline } from '../../workflows/decide.ts';
import { DEFAULT_RULE, type AgentState, type Candidate, type Facts } from '../../workflows/model.ts';
import { factsOf } from './hcm-stand-in.ts';

const T = { ...INPUT_THRESHOLDS, minConnected: 2, minBaselineActions: 10, baselineSec: 100 };
const WINDOW = 60;
const DT = 10;

/** A scope fed `n` evaluations of steady traffic. */
function steady(actions: number, connected: number, n = 12): JudgeState {
  let s = FRESH_SCOPE;
  for (let i = 0; i < n; i++) s = judge(s, { actions, connected, storeErrors: 0 }, T, WINDOW, DT).next;
  return s;
}

describe('input health verdict', () => {
  it('degrades on a rate drop while agents stay connected, and recovers with hysteresis', () => {
    const s = steady(100, 20);
    expect(s.degraded).toBe(false);
    const cut = judge(s, { actions: 10, connected: 20, storeErrors: 0 }, T, WINDOW, DT);
    expect(cut).toMatchObject({ change: 'degraded', next: { degraded: true, reason: 'RATE_DROP' } });
    // Back to 30% of the baseline: above the drop ratio, below the recover ratio: still degraded.
    const partly = judge(cut.next, { actions: 30, connected: 20, storeErrors: 0 }, T, WINDOW, DT);
    expect(partly.next.degraded).toBe(true);
    expect(partly.change).toBeUndefined();
    const back = judge(partly.next, { actions: 60, connected: 20, storeErrors: 0 }, T, WINDOW, DT);
    expect(back).toMatchObject({ change: 'recovered', next: { degraded: false, reason: null } });
  });

  it('does not degrade when the agents left (end of shift), with too few agents, or before a baseline', () => {
    const s = steady(100, 20);
    expect(judge(s, { actions: 0, connected: 5, storeErrors: 0 }, T, WINDOW, DT).next.degraded).toBe(false);
    expect(judge(steady(100, 1), { actions: 0, connected: 1, storeErrors: 0 }, T, WINDOW, DT).next.degraded).toBe(
      false,
    );
    expect(judge(steady(100, 20, 2), { actions: 0, connected: 20, storeErrors: 0 }, T, WINDOW, DT).next.degraded).toBe(
      false,
    );
    expect(judge(steady(5, 20), { actions: 0, connected: 20, storeErrors: 0 }, T, WINDOW, DT).next.degraded).toBe(
      false,
    );
  });

  it('degrades on store errors whatever the rate', () => {
    expect(judge(FRESH_SCOPE, { actions: 0, connected: 0, storeErrors: 1 }, T, WINDOW, DT).next).toMatchObject({
      degraded: true,
      reason: 'STORE_ERRORS',
    });
  });

  it('property: the baseline stands still while degraded and stays within the samples it saw', () => {
    const sample = fc.record({
      actions: fc.integer({ min: 0, max: 1000 }),
      connected: fc.integer({ min: 0, max: 100 }),
      storeErrors: fc.constantFrom(0, 0, 0, 1),
    });
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 60 }), (samples) => {
        let s = FRESH_SCOPE;
        let lo = Infinity;
        let hi = -Infinity;
        for (const x of samples) {
          const j = judge(s, x, T, WINDOW, DT);
          if (j.next.degraded) {
            expect(j.next.baselineActions).toBe(s.baselineActions);
            expect(j.next.samples).toBe(s.samples);
          } else {
            lo = Math.min(lo, x.actions);
            hi = Math.max(hi, x.actions);
            expect(j.next.baselineActions!).toBeGreaterThanOrEqual(lo - 1e-9);
            expect(j.next.baselineActions!).toBeLessThanOrEqual(hi + 1e-9);
          }
          expect(j.change === 'degraded').toBe(j.next.degraded && !s.degraded);
          expect(j.change === 'recovered').toBe(!j.next.degraded && s.degraded);
          // Never degraded by the rate with fewer agents than the minimum.
          if (j.next.reason === 'RATE_DROP') expect(x.connected).toBeGreaterThanOrEqual(T.minConnected);
          s = j.next;
        }
      }),
    );
  });
});

describe('which verdict holds', () => {
  const NOW = 1_000_000;
  const row = (businessLine: string, o: Partial<ScopeHealth> = {}) => ({
    tenant: 't',
    businessLine,
    forced: null,
    degraded: false,
    reason: null,
    recoveredAt: null,
    holdRecheckSec: 5,
    recoveryGraceSec: 60,
    ...o,
  });

  it("a line's override beats the tenant's, an override beats the evaluator, and the grace follows a recovery", () => {
    expect(holdOf(row('a', { degraded: true, reason: 'RATE_DROP' }), undefined, NOW)).toEqual({
      scope: 't/a',
      reason: 'RATE_DROP',
      recheckSec: 5,
    });
    expect(holdOf(row('a', { degraded: true, forced: 'off' }), row('*', { forced: 'on' }), NOW)).toBeUndefined();
    expect(holdOf(row('a'), row('*', { forced: 'on' }), NOW)?.scope).toBe('t/*');
    expect(holdOf(row('a', { degraded: true }), row('*', { forced: 'off' }), NOW)).toBeUndefined();
    expect(holdOf(row('a', { recoveredAt: new Date(NOW - 59_000) }), undefined, NOW)?.reason).toBe('RECOVERING');
    expect(holdOf(row('a', { recoveredAt: new Date(NOW - 61_000) }), undefined, NOW)).toBeUndefined();
    expect(holdOf(undefined, undefined, NOW)).toBeUndefined();
  });
});

describe('a held window in the workflow (engine 2)', () => {
  const T0 = 1_763_900_000_000;
  const MIN = 60_000;
  const facts = (s: AgentState, f: Partial<Facts> = {}): Facts => factsOf(s, { lastActionAt: s.lastActionAt, ...f });
  const start = () => ({ ...initialState('t', 'a', T0, DEFAULT_RULE, 2), taskCount: 1 });

  it('comes due again when the hold ends, and any other answer ends the hold', () => {
    const due = T0 + 10 * MIN;
    const fired = decide({ ...start(), lastReminderAt: T0 + 8 * MIN }, { kind: 'timer', at: due });
    const candidate: Candidate = fired.candidates[0]!;
    expect(candidate).toMatchObject({ to: 'ABNORMAL' });
    expect(nextDeadline(fired.state)).toBeNull();

    const until = due + 30_000;
    const held = decide(fired.state, {
      kind: 'hcm',
      reply: {
        committed: false,
        candidate,
        reason: 'INPUT_DEGRADED',
        facts: facts(fired.state, { held: { scope: 't/x', reason: 'RATE_DROP', until } }),
      },
      at: due + 5,
    });
    expect(held.state.holdUntil).toBe(until);
    expect(held.next).toEqual({ at: until, action: 'ABNORMAL' });
    // At the hold's end the same window (same dedupe key) is proposed again.
    const again = decide(held.state, { kind: 'timer', at: until });
    expect(again.candidates[0]).toMatchObject({ to: 'ABNORMAL', dedupeKey: candidate.dedupeKey });

    // HCM answers otherwise (the agent acted meanwhile): the hold is over.
    const acted = decide(again.state, {
      kind: 'hcm',
      reply: {
        committed: false,
        candidate,
        reason: 'ACTIVITY_SINCE',
        facts: facts(again.state, { lastActionAt: until - 1000 }),
      },
      at: until + 5,
    });
    expect(acted.state.holdUntil).toBeUndefined();
    expect(acted.next).toEqual({ at: until - 1000 + 10 * MIN, action: 'ABNORMAL' });
  });

  it('engine 1 never holds (its histories replay as they ran)', () => {
    const s = { ...initialState('t', 'a', T0), taskCount: 1 };
    const fired = decide(s, { kind: 'timer', at: T0 + 10 * MIN });
    const c = fired.candidates[0]!;
    const d = decide(fired.state, {
      kind: 'hcm',
      reply: {
        committed: false,
        candidate: c,
        reason: 'INPUT_DEGRADED',
        facts: facts(fired.state, { held: { scope: 't/x', reason: 'FORCED', until: T0 + 11 * MIN } }),
      },
      at: T0 + 10 * MIN,
    });
    expect(d.state.holdUntil).toBeUndefined();
  });
});
