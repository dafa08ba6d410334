// Engine 2 (facts first), where it decides differently from engine 1 (decide.test.ts).
import { describe, expect, it } from 'vitest';
import { decide, initialState, nextDeadline } from '../../workflows/decide.ts';
import { DEFAULT_RULE, type AgentEvent, type AgentState } from '../../workflows/model.ts';
import { factsOf as facts } from './hcm-stand-in.ts';

const T0 = 1_763_900_000_000;
const MIN = 60_000;
let n = 0;
const ev = (type: number, receivedAt: number, extra: Partial<AgentEvent> = {}): AgentEvent => ({
  reqId: `r${++n}`,
  type,
  ts: receivedAt,
  receivedAt,
  ...extra,
});
const start = (): AgentState => initialState('t', 'a', T0, DEFAULT_RULE, 2);

describe('engine 2: windows from the gateway clock and HCM facts', () => {
  it('measures windows from receipt time, never from the client ts', () => {
    const s = decide(start(), {
      kind: 'events',
      events: [ev(101, T0 + MIN, { ts: T0 + MIN - 11 * MIN })],
      at: T0 + MIN + 5000,
    }).state;
    expect(s.lastActionAt).toBe(T0 + MIN);
    expect(nextDeadline({ ...s, taskCount: 1 })).toEqual({ at: T0 + MIN + 8 * MIN, action: 'REMIND' });
  });

  it('keys windows by rule and version, so an edited rule opens a new window', () => {
    const s = { ...start(), taskCount: 1 };
    const due = decide(s, { kind: 'timer', at: T0 + 10 * MIN });
    expect(due.candidates[0]!.dedupeKey).toBe(`ABNORMAL:default@0:${T0}`);
    const edited = decide(due.state, {
      kind: 'facts',
      facts: facts(due.state, { rule: { ...DEFAULT_RULE, version: 1 }, taskCount: 1 }),
      at: T0 + 10 * MIN,
    });
    // Overdue under the new version at once (its reminder too, which a due ABNORMAL suppresses).
    expect(nextDeadline(edited.state)!.at).toBeLessThanOrEqual(T0 + 10 * MIN);
    const again = decide(edited.state, { kind: 'timer', at: T0 + 10 * MIN });
    expect(again.candidates.map((c) => c.dedupeKey)).toEqual([`ABNORMAL:default@1:${T0}`]);
    expect(again.reminders).toEqual([]);
  });

  it("moves the window to HCM's newer last action instead of proposing again", () => {
    const s = { ...start(), taskCount: 1 };
    const wake = decide(s, { kind: 'timer', at: T0 + 10 * MIN });
    const [c] = wake.candidates;
    const reply = decide(wake.state, {
      kind: 'hcm',
      reply: {
        committed: false,
        candidate: c!,
        reason: 'ACTIVITY_SINCE',
        facts: facts(s, { lastActionAt: T0 + 7 * MIN }),
      },
      at: T0 + 10 * MIN,
    });
    expect(reply.candidates).toEqual([]);
    expect(reply.state.lastActionAt).toBe(T0 + 7 * MIN);
    expect(nextDeadline(reply.state)).toEqual({ at: T0 + 15 * MIN, action: 'REMIND' });
  });

  it('ends ABNORMAL from the facts alone: an action HCM recorded after it began', () => {
    const s: AgentState = { ...start(), status: 'ABNORMAL', since: T0 + 10 * MIN, priorStatus: 'BUSY', version: 3 };
    const d = decide(s, { kind: 'facts', facts: facts(s, { lastActionAt: T0 + 12 * MIN }), at: T0 + 20 * MIN });
    expect(d.candidates).toMatchObject([
      { from: 'ABNORMAL', to: 'BUSY', cause: 'ACTIVITY_RESUMED', windowStart: T0 + 12 * MIN },
    ]);
    // Asked once: the same facts again propose nothing more.
    expect(
      decide(d.state, { kind: 'facts', facts: facts(s, { lastActionAt: T0 + 12 * MIN }), at: T0 + 20 * MIN })
        .candidates,
    ).toEqual([]);
  });

  it("a fresh workflow's starting mark is not an action: no resume without one in HCM", () => {
    const s: AgentState = { ...start(), status: 'ABNORMAL', since: T0 - 30 * MIN, version: 2 };
    expect(decide(s, { kind: 'facts', facts: facts(s, { lastActionAt: T0 - 40 * MIN }), at: T0 }).candidates).toEqual(
      [],
    );
  });

  it('ignores a work-status request older than one already applied (a late leftover of a dead gateway)', () => {
    const busy = ev(2, T0 + MIN, { data: { status: 'BUSY' } });
    const online = ev(2, T0 + 2 * MIN, { data: { status: 'ONLINE' } });
    const first = decide({ ...start(), status: 'BUSY' }, { kind: 'events', events: [online], at: T0 + 2 * MIN });
    expect(first.candidates).toMatchObject([{ to: 'ONLINE' }]);
    const late = decide({ ...first.state, status: 'ONLINE' }, { kind: 'events', events: [busy], at: T0 + 3 * MIN });
    expect(late.candidates).toEqual([]);
    expect(late.state.lastRequestTs).toBe(T0 + 2 * MIN);
    expect(late.state.lastActionAt).toBe(T0 + 2 * MIN); // still an action, just not a request
  });
});
