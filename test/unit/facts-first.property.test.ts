// Engine 2 against a model of HCM: the real `decide` and the real `recheck`, with random actions,
// signals delayed by minutes or never sent, rule edits and timers that fire at their deadlines.
// Whatever the signals do, no ABNORMAL, OFFLINE or reminder is committed while an action lies inside
// its window, and none comes later than its true deadline (the workflow's wake-ups are instant here).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recheck, recheckReminder } from '../../activities/recheck.ts';
import type { RuleRow } from '../../db/rules.ts';
import { mustSignalNow } from '../../gateway/coalescer.ts';
import { mayBringDeadlinesForward } from '../../gateway/rule-changes.ts';
import { decide, initialState, nextDeadline } from '../../workflows/decide.ts';
import type {
  AgentState,
  Candidate,
  Decision,
  Facts,
  HcmReply,
  Input,
  Reminder,
  Rule,
  RuleWindows,
} from '../../workflows/model.ts';

const T0 = 1_000_000;
const END = T0 + 15 * 60_000;
const EPS = 1; // ms: timestamptz rounding in the real system; here times are exact

interface Edit {
  atMs: number;
  windows: RuleWindows;
  notifyDelayMs: number;
}
interface Scenario {
  actionGapsMs: number[];
  /** Per action: how late its signal reaches the workflow (urgent ones always arrive), or never. */
  signalDelaysMs: (number | null)[];
  edits: Edit[];
  firstWindows: RuleWindows;
}

const windowsOf = (idle: number, remind: number, extra: number, offline: number) =>
  fc
    .record({
      idle: fc.integer({ min: 1, max: idle }),
      remind: fc.integer({ min: 2, max: remind }),
      extra: fc.integer({ min: 0, max: extra }),
      offline: fc.integer({ min: 1, max: offline }),
    })
    .map((w): RuleWindows => ({
      idleAfterNoTaskSec: w.idle,
      remindAfterNoActionSec: w.remind,
      abnormalAfterNoActionSec: w.remind + w.extra,
      offlineAfterAbnormalSec: w.offline,
    }));
const windowsArb = windowsOf(60, 120, 120, 120);

interface Shape {
  maxGapMs: number;
  edits: number;
  editsWithinMs: number;
  maxNotifyDelayMs: number;
  windows: fc.Arbitrary<RuleWindows>;
}
const scenariosOf = (o: Shape): fc.Arbitrary<Scenario> =>
  fc
    .record({
      actionGapsMs: fc.array(fc.integer({ min: Math.min(100, o.maxGapMs), max: o.maxGapMs }), { maxLength: 25 }),
      signalDelays: fc.array(fc.option(fc.integer({ min: 0, max: 240_000 }), { nil: null }), {
        minLength: 25,
        maxLength: 25,
      }),
      edits: fc.array(
        fc.record({
          atMs: fc.integer({ min: 0, max: o.editsWithinMs }),
          windows: o.windows,
          notifyDelayMs: fc.integer({ min: 0, max: o.maxNotifyDelayMs }),
        }),
        { maxLength: o.edits },
      ),
      firstWindows: o.windows,
    })
    .map((s) => ({
      actionGapsMs: s.actionGapsMs,
      signalDelaysMs: s.signalDelays,
      edits: [...s.edits].sort((a, b) => a.atMs - b.atMs),
      firstWindows: s.firstWindows,
    }));

const scenarioArb = scenariosOf({
  maxGapMs: 200_000,
  edits: 4,
  editsWithinMs: 14 * 60_000,
  maxNotifyDelayMs: 1000,
  windows: windowsArb,
});
// Edits spread over 14 minutes rarely meet another edit's refresh in flight (a model that got
// that case wrong, seed -762406507, passed 200,000 runs of scenarioArb): here they crowd
// seconds-long windows.
const crowdedArb = scenariosOf({
  maxGapMs: 5_000,
  edits: 8,
  editsWithinMs: 10_000,
  maxNotifyDelayMs: 3000,
  windows: windowsOf(5, 6, 4, 5),
});

const rule = (version: number, windows: RuleWindows): Rule => ({
  ruleId: 'r',
  version,
  windows,
  reminderLockSec: 840,
  offlineRecovery: 'manual',
  reconnectGraceSec: 60,
});
const row = (r: Rule): RuleRow => ({
  ...r,
  tenant: 't',
  scope: {},
  enabled: true,
  updatedAt: new Date(0).toISOString(),
});

interface Committed {
  at: number;
  c: Candidate;
  lastActionAt: number;
  rule: Rule;
  effectiveAt: number;
  sinceBefore: number;
}

/** Runs the workflow loop (as workflows/agent.ts does, minus Temporal) against a model of HCM. */
function simulate(s: Scenario, engine: 1 | 2 = 2) {
  let now = T0;
  // HCM: the agent's first action at T0 started the workflow.
  const F = {
    status: 'ONLINE' as Facts['status'],
    cause: 'INITIAL' as Facts['cause'],
    since: T0,
    version: 0,
    priorStatus: null as Facts['priorStatus'],
    offlineByWindow: false,
    rule: rule(1, s.firstWindows),
    lastActionAt: T0,
    lastReminderAt: null as number | null,
    /** When the current rule can have reached the workflow: the refresh signals still under way. */
    effectiveAt: T0,
  };
  const facts = (): Facts => ({
    status: F.status,
    cause: F.cause,
    since: F.since,
    version: F.version,
    priorStatus: F.priorStatus,
    offlineByWindow: F.offlineByWindow,
    taskCount: 0,
    rule: F.rule,
    lastActionAt: F.lastActionAt,
    lastReminderAt: F.lastReminderAt,
  });
  const handled = new Set<string>();
  const commits: Committed[] = [];
  const reminders: { at: number; lastActionAt: number; rule: Rule }[] = [];

  const hcmCommit = (c: Candidate): HcmReply => {
    if (handled.has(c.dedupeKey)) return { committed: false, candidate: c, reason: 'ALREADY_HANDLED', facts: facts() };
    const why = recheck(c, facts(), 'local', 'local');
    if (why) return { committed: false, candidate: c, reason: why, facts: facts() };
    handled.add(c.dedupeKey);
    commits.push({
      at: now,
      c,
      lastActionAt: F.lastActionAt,
      rule: F.rule,
      effectiveAt: F.effectiveAt,
      sinceBefore: F.since,
    });
    Object.assign(F, {
      status: c.to,
      cause: c.cause,
      since: now,
      version: F.version + 1,
      priorStatus: c.to === 'ABNORMAL' ? c.from : null,
      offlineByWindow: c.to === 'OFFLINE' && c.actor.kind === 'system',
    });
    return { committed: true, candidate: c, facts: facts() };
  };
  const hcmRemind = (r: Reminder): Facts => {
    if (!recheckReminder(r, facts(), now) && !handled.has(r.dedupeKey)) {
      handled.add(r.dedupeKey);
      reminders.push({ at: now, lastActionAt: F.lastActionAt, rule: F.rule });
      F.lastReminderAt = now;
    }
    return facts();
  };

  let state: AgentState = initialState('t', 'a', T0, rule(1, s.firstWindows), engine === 2 ? 2 : undefined);
  const commit = (c: Candidate, hops: number) => {
    const reply = hcmCommit(c);
    const d = decide(state, { kind: 'hcm', reply, at: now });
    state = d.state;
    if (hops < 3) for (const next of d.candidates) commit(next, hops + 1);
  };
  const apply = (d: Decision) => {
    state = d.state;
    for (const r of d.reminders) {
      const f = hcmRemind(r);
      const after = decide(state, { kind: 'facts', facts: f, at: now });
      state = after.state;
      for (const c of after.candidates) commit(c, 1);
    }
    for (const c of d.candidates) commit(c, 0);
  };
  const input = (i: Input) => apply(decide(state, i));
  input({ kind: 'facts', facts: facts(), at: now });

  // External happenings in time order: actions (facts at once, a signal maybe later), rule edits
  // (facts at once, a refresh signal when the edit can bring a deadline forward), deliveries.
  type Happening = { at: number; seq: number; run: () => void };
  const queue: Happening[] = [];
  let seq = 0;
  const at = (t: number, run: () => void) => queue.push({ at: t, seq: seq++, run });
  let t = T0;
  s.actionGapsMs.forEach((gap, i) => {
    t += gap;
    at(t, () => {
      const urgent = mustSignalNow([{ reqId: 'x', type: 100, ts: now }], {
        status: F.status,
        offlineByWindow: F.offlineByWindow,
        tasksBefore: 0,
        tasksAfter: 0,
      });
      F.lastActionAt = now;
      const delay = s.signalDelaysMs[i] ?? (urgent ? 240_000 : null);
      const event = { reqId: `a${i}`, type: 100, ts: now - 11 * 60_000, receivedAt: now };
      if (delay !== null) at(now + delay, () => input({ kind: 'events', events: [event], at: now }));
    });
  });
  for (const e of s.edits) {
    at(T0 + e.atMs, () => {
      const before = F.rule;
      F.rule = rule(before.version + 1, e.windows);
      const notify = mayBringDeadlinesForward(row(before), row(F.rule));
      // An edit that is not signalled moves no deadline earlier than the rule before it, whose own
      // refresh may still be on its way: the workflow learns this rule no sooner than that signal
      // lands (the refresh reads the facts then, so it brings this rule).
      F.effectiveAt = notify ? now + e.notifyDelayMs : Math.max(F.effectiveAt, now);
      if (notify) at(now + e.notifyDelayMs, () => input({ kind: 'facts', facts: facts(), at: now }));
    });
  }

  let sameInstant = 0;
  for (;;) {
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const deadline = nextDeadline(state)?.at ?? Infinity;
    const next = queue[0]?.at ?? Infinity;
    const when = Math.max(now, Math.min(deadline, next));
    if (when > END) break;
    sameInstant = when === now ? sameInstant + 1 : 0;
    if (sameInstant > 50) throw new Error(`the workflow keeps waking at ${when - T0} ms without progress`);
    now = when;
    if (next <= deadline) queue.shift()!.run();
    else input({ kind: 'timer', at: now });
  }
  return { commits, reminders, F, state };
}

/** The property: no window commits early or after its true deadline, and none is missed. */
function expectOnTime(s: Scenario) {
  const run = simulate(s);
  const { commits, reminders, F } = run;
  const w = (r: Rule) => r.windows;
  for (const k of commits) {
    // The true deadline: the window's end, but never before the rule could reach the workflow,
    // nor before the status it leaves was committed (a resume whose signal was minutes late is
    // decided at the next wake-up: "plus one wake-up").
    const due = (sec: number, from: number) => Math.max(from + sec * 1000, k.effectiveAt, k.sinceBefore);
    if (k.c.to === 'ABNORMAL') {
      expect(
        k.lastActionAt + w(k.rule).abnormalAfterNoActionSec * 1000,
        'ABNORMAL inside its window',
      ).toBeLessThanOrEqual(k.at + EPS);
      expect(k.at, 'ABNORMAL late').toBeLessThanOrEqual(due(w(k.rule).abnormalAfterNoActionSec, k.lastActionAt) + EPS);
    }
    if (k.c.to === 'OFFLINE') {
      const abnormalSince = commits[commits.indexOf(k) - 1]!;
      expect(abnormalSince.c.to).toBe('ABNORMAL');
      expect(k.lastActionAt, 'OFFLINE after an action').toBeLessThanOrEqual(abnormalSince.at);
      expect(k.at).toBeGreaterThanOrEqual(abnormalSince.at + w(k.rule).offlineAfterAbnormalSec * 1000 - EPS);
      expect(k.at, 'OFFLINE late').toBeLessThanOrEqual(due(w(k.rule).offlineAfterAbnormalSec, abnormalSince.at) + EPS);
    }
  }
  for (const r of reminders) {
    expect(r.lastActionAt + w(r.rule).remindAfterNoActionSec * 1000, 'reminder while acting').toBeLessThanOrEqual(
      r.at + EPS,
    );
  }
  // Nothing missed: a silence that outlasted its window by the end was decided.
  const watched = F.status === 'ONLINE' || F.status === 'IDLE' || F.status === 'BUSY';
  if (watched)
    expect(END, 'ABNORMAL missed').toBeLessThan(
      Math.max(F.lastActionAt + w(F.rule).abnormalAfterNoActionSec * 1000, F.effectiveAt, F.since) + EPS,
    );
  if (F.status === 'ABNORMAL' && F.lastActionAt <= F.since) {
    expect(END, 'OFFLINE missed').toBeLessThan(
      Math.max(F.since + w(F.rule).offlineAfterAbnormalSec * 1000, F.effectiveAt) + EPS,
    );
  }
  return run;
}

describe('engine 2 with a model of HCM', () => {
  it('property: no window commits while an action is inside it, none later than its true deadline, nothing missed', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expectOnTime(s);
      }),
      { numRuns: 400 },
    );
  });

  it("property, edits crowded together: rules edited again while an earlier edit's refresh is on its way", () => {
    fc.assert(
      fc.property(crowdedArb, (s) => {
        expectOnTime(s);
      }),
      { numRuns: 400 },
    );
  });

  it('an edit that is not signalled is learned with the refresh of the edit before it (seed -762406507)', () => {
    // The shrunk counterexample: OFFLINE shortened from 2 s to 1 s at 2038 ms (signalled, 964 ms on
    // its way), then saved again unchanged at 2039 ms (nothing brought forward: not signalled).
    const w = (offline: number): RuleWindows => ({
      idleAfterNoTaskSec: 1,
      remindAfterNoActionSec: 2,
      abnormalAfterNoActionSec: 2,
      offlineAfterAbnormalSec: offline,
    });
    const s: Scenario = {
      actionGapsMs: [],
      signalDelaysMs: Array(25).fill(null),
      firstWindows: w(2),
      edits: [
        { atMs: 2038, windows: w(1), notifyDelayMs: 964 },
        { atMs: 2039, windows: w(1), notifyDelayMs: 0 },
      ],
    };
    const { commits } = expectOnTime(s);
    // The workflow plans OFFLINE at 4000 ms under rule 1 until the first edit's refresh lands at
    // 3002 ms; it reads the facts then (rule 3), is already past 3000 ms and commits at once.
    expect(commits.map((k) => [k.at - T0, k.c.to, k.c.ruleVersion])).toEqual([
      [1000, 'IDLE', 1],
      [2000, 'ABNORMAL', 1],
      [3002, 'OFFLINE', 3],
    ]);
    expect(commits[2]!.effectiveAt - T0).toBe(3002);
  });

  it('engine 1 on the same model misses the ABNORMAL that engine 2 decides on time (the bug this fixes)', () => {
    // Actions every 20 s for 400 s whose signals never arrive (pure activity), then silence.
    const s: Scenario = {
      actionGapsMs: Array(20).fill(20_000),
      signalDelaysMs: Array(25).fill(null),
      edits: [],
      firstWindows: {
        idleAfterNoTaskSec: 5,
        remindAfterNoActionSec: 20,
        abnormalAfterNoActionSec: 30,
        offlineAfterAbnormalSec: 600,
      },
    };
    const abnormal = (engine: 1 | 2) =>
      simulate(s, engine)
        .commits.filter((k) => k.c.to === 'ABNORMAL')
        .map((k) => k.at - T0);
    // Engine 1 proposed ABNORMAL at 30 s, HCM rejected it (ACTIVITY_SINCE) and it never re-planned.
    expect(abnormal(1)).toEqual([]);
    expect(abnormal(2)).toEqual([400_000 + 30_000]);
  });
});
