import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, initialState, nextDeadline } from '../../workflows/decide.ts';
import {
  DEFAULT_RULE,
  RECENT_REQ_IDS_MAX,
  STATUSES,
  type ActorKind,
  type AgentEvent,
  type AgentState,
  type Decision,
  type Input,
  type Rule,
  type Status,
} from '../../workflows/model.ts';
import { commitReply } from './hcm-stand-in.ts';

const T0 = 1_763_900_000_000;
const MIN = 60_000;

interface EventSpec {
  type: number;
  skew: number;
  status?: Status;
  deviceId?: string;
  index?: number;
}
type Op =
  | { kind: 'events'; gap: number; events: EventSpec[] }
  | { kind: 'device'; gap: number; deviceId: string; connected: boolean }
  | { kind: 'manual'; gap: number; status: Status; actor: ActorKind }
  | { kind: 'resend'; gap: number; pick: number };

interface Step {
  input: Input;
  before: AgentState;
  decision: Decision;
}

interface Hooks {
  /** After a timer at a due deadline, and after HCM answered what it proposed. */
  afterTimer?: (d: Decision, settled: AgentState, at: number) => void;
  afterResend?: (d: Decision, before: AgentState, batch: AgentEvent[]) => void;
}

/**
 * Drives decide like the workflow does: timers fire at every deadline up to the next input,
 * every candidate is committed at once, and time only moves forward.
 */
function simulate(ops: Op[], rule: Rule, hooks: Hooks = {}): Step[] {
  const steps: Step[] = [];
  const batches: AgentEvent[][] = [];
  let state = initialState('t1', 'a1', T0, rule);
  let now = T0;
  let seq = 0;
  const apply = (input: Input): Decision => {
    const decision = decide(state, input);
    steps.push({ input, before: state, decision });
    state = decision.state;
    for (const c of decision.candidates) {
      const reply = commitReply(state, c);
      const answered = decide(state, reply);
      steps.push({ input: reply, before: state, decision: answered });
      state = answered.state;
    }
    return decision;
  };

  for (const op of ops) {
    const target = now + op.gap;
    for (let fired = 0; ; fired++) {
      const next = nextDeadline(state);
      if (!next || next.at > target) break;
      if (fired > 1000) throw new Error(`deadline loop at ${next.at}: ${next.action}`);
      now = Math.max(now, next.at);
      const d = apply({ kind: 'timer', at: now });
      hooks.afterTimer?.(d, state, now);
    }
    now = target;
    if (op.kind === 'events') {
      const batch = op.events.map((e): AgentEvent => ({
        reqId: `r${++seq}`,
        type: e.type,
        ts: now + e.skew,
        ...(e.status !== undefined ? { data: { status: e.status } } : {}),
        ...(e.deviceId !== undefined ? { deviceId: e.deviceId } : {}),
        ...(e.index !== undefined ? { index: e.index } : {}),
      }));
      batches.push(batch);
      apply({ kind: 'events', events: batch, at: now });
    } else if (op.kind === 'device') {
      apply({ kind: 'device', deviceId: op.deviceId, connected: op.connected, at: now });
    } else if (op.kind === 'manual') {
      apply({
        kind: 'manual',
        status: op.status,
        actor: { kind: op.actor, id: op.actor === 'agent' ? 'a1' : 'x1' },
        requestId: `m${++seq}`,
        at: now,
      });
    } else {
      const batch = batches[op.pick % Math.max(1, batches.length)];
      if (!batch) continue;
      const before = state;
      const d = apply({ kind: 'events', events: batch, at: now });
      hooks.afterResend?.(d, before, batch);
    }
  }
  return steps;
}

const ACTION_TYPES = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 100, 101, 102, 103, 104, 105];
const deviceId = fc.constantFrom('d1', 'd2', 'd3');

const eventSpec = (types: number[]): fc.Arbitrary<EventSpec> =>
  fc.record(
    {
      type: fc.constantFrom(...types),
      skew: fc.integer({ min: -5_000, max: 5_000 }),
      status: fc.constantFrom<Status>('ONLINE', 'BUSY', 'OFFLINE', 'IDLE'),
      deviceId,
      index: fc.nat(3),
    },
    { requiredKeys: ['type', 'skew'] },
  );

const gap = fc.oneof(fc.integer({ min: 0, max: 2 * MIN }), fc.integer({ min: 0, max: 25 * MIN }));

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('events' as const),
      gap,
      events: fc.array(eventSpec([1, ...ACTION_TYPES, 3001]), { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('device' as const), gap, deviceId, connected: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('manual' as const),
      gap,
      status: fc.constantFrom(...STATUSES),
      actor: fc.constantFrom<ActorKind>('agent', 'supervisor', 'admin'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), gap, pick: fc.nat() }) },
);

/** Rules with short, often equal windows, so deadlines collide. */
const rule: fc.Arbitrary<Rule> = fc.oneof(
  fc.constant(DEFAULT_RULE),
  fc.record({
    ruleId: fc.constantFrom('r1', 'r2'),
    version: fc.nat(5),
    windows: fc.record({
      idleAfterNoTaskSec: fc.integer({ min: 1, max: 120 }),
      remindAfterNoActionSec: fc.integer({ min: 1, max: 700 }),
      abnormalAfterNoActionSec: fc.integer({ min: 1, max: 700 }),
      offlineAfterAbnormalSec: fc.integer({ min: 1, max: 700 }),
    }),
    reminderLockSec: fc.integer({ min: 0, max: 1000 }),
    offlineRecovery: fc.constantFrom<Rule['offlineRecovery']>('manual', 'onActivity'),
    reconnectGraceSec: fc.integer({ min: 0, max: 120 }),
  }),
);

const ops = fc.array(op, { maxLength: 40 });

describe('decide properties', () => {
  it('(a) an action at least every 60 s never yields an ABNORMAL candidate', () => {
    // Every tick is a batch with at least one action; heartbeats and device flips ride along.
    const tick = fc.record({
      gap: fc.integer({ min: 0, max: MIN }),
      action: eventSpec(ACTION_TYPES).map((e) => ({ ...e, skew: -Math.abs(e.skew) % 1000 })),
      extra: fc.array(eventSpec([1, ...ACTION_TYPES]), { maxLength: 3 }),
      flip: fc.option(fc.record({ deviceId, connected: fc.boolean() }), { nil: undefined }),
    });
    // Windows just above 60 s (plus client skew) make a missed action show up quickly.
    const patient = fc
      .tuple(rule, fc.integer({ min: 62, max: 130 }), fc.boolean())
      .map(([r, abnormal, tight]) =>
        tight || r.windows.abnormalAfterNoActionSec <= 62
          ? { ...r, windows: { ...r.windows, abnormalAfterNoActionSec: abnormal } }
          : r,
      );
    fc.assert(
      fc.property(patient, fc.array(tick, { maxLength: 60 }), (r, ticks) => {
        const script: Op[] = ticks.flatMap((t): Op[] => [
          { kind: 'events', gap: t.gap, events: [t.action, ...t.extra] },
          ...(t.flip ? [{ kind: 'device' as const, gap: 0, ...t.flip }] : []),
        ]);
        const candidates = simulate(script, r).flatMap((s) => s.decision.candidates);
        expect(candidates.filter((c) => c.to === 'ABNORMAL')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('(b) every candidate has a cause, and window-driven ones change the status', () => {
    fc.assert(
      fc.property(rule, ops, (r, script) => {
        for (const { decision } of simulate(script, r)) {
          for (const c of decision.candidates) {
            expect(typeof c.cause === 'string' && c.cause.length > 0).toBe(true);
            if (c.actor.kind === 'system' || c.dedupeKey.startsWith('req:')) expect(c.to).not.toBe(c.from);
          }
        }
      }),
    );
  });

  it('(c) replaying the same inputs gives deep-equal outputs', () => {
    fc.assert(
      fc.property(rule, ops, (r, script) => {
        const first = simulate(script, r);
        expect(simulate(script, r)).toEqual(first);
        // And decide alone, fed the recorded inputs, reproduces every decision.
        for (const { input, before, decision } of first) expect(decide(before, input)).toEqual(decision);
      }),
    );
  });

  it('(d) re-sending a processed batch changes nothing but reports duplicates', () => {
    fc.assert(
      fc.property(rule, ops, (r, script) => {
        simulate(script, r, {
          afterResend(d, before, batch) {
            expect(d.duplicates).toEqual(batch.map((e) => e.reqId));
            expect(d.state).toEqual(before);
            expect(d.candidates).toEqual([]);
            expect(d.reminders).toEqual([]);
            expect(d.next).toEqual(nextDeadline(before));
          },
        });
      }),
    );
  });

  it('(e) after a due timer is processed, the next deadline is in the future', () => {
    fc.assert(
      fc.property(rule, ops, (r, script) => {
        simulate(script, r, {
          afterTimer(d, settled, at) {
            if (d.next) expect(d.next.at).toBeGreaterThan(at);
            const next = nextDeadline(settled);
            if (next) expect(next.at).toBeGreaterThan(at);
          },
        });
      }),
    );
  });

  it(`(f) recentReqIds never exceeds ${RECENT_REQ_IDS_MAX} and forgets the oldest first`, () => {
    const batch = fc.array(
      fc.nat(1500).map((n) => `r${n}`),
      { minLength: 1, maxLength: 100 },
    );
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 15 }), (reqIdBatches) => {
        let state = initialState('t1', 'a1', T0);
        let remembered: string[] = [];
        reqIdBatches.forEach((reqIds, i) => {
          const at = T0 + i * 1000;
          const d = decide(state, {
            kind: 'events',
            events: reqIds.map((reqId) => ({ reqId, type: 101, ts: at })),
            at,
          });
          const seen = new Set(remembered);
          const fresh = reqIds.filter((id) => !seen.has(id) && (seen.add(id), true));
          remembered = [...remembered, ...fresh].slice(-RECENT_REQ_IDS_MAX);
          expect(d.state.recentReqIds.length).toBeLessThanOrEqual(RECENT_REQ_IDS_MAX);
          expect(d.state.recentReqIds).toEqual(remembered);
          expect(d.duplicates.length).toBe(reqIds.length - fresh.length);
          state = d.state;
        });
      }),
    );
  });
});
