import { describe, expect, it } from 'vitest';
import { adoptFacts, decide, initialState, isOnApp, nextDeadline } from '../../workflows/decide.ts';
import {
  DEFAULT_RULE,
  RECENT_REQ_IDS_MAX,
  type AgentEvent,
  type AgentState,
  type Decision,
  type Input,
  type Rule,
} from '../../workflows/model.ts';
import { commitReply } from './hcm-stand-in.ts';

const T0 = 1_763_900_000_000;
const sec = (n: number): number => n * 1000;
const at = (s: number): number => T0 + sec(s);

let reqSeq = 0;
function ev(type: number, tsSec: number, extra: Partial<AgentEvent> = {}): AgentEvent {
  return { reqId: `r${++reqSeq}`, type, ts: at(tsSec), ...extra };
}

/** Decides, then lets the fake HCM commit whatever was proposed. */
function step(state: AgentState, input: Input): { d: Decision; state: AgentState } {
  const d = decide(state, input);
  let s = d.state;
  for (const c of d.candidates) s = decide(s, commitReply(s, c)).state;
  return { d, state: s };
}

const events = (atSec: number, ...list: AgentEvent[]): Input => ({ kind: 'events', events: list, at: at(atSec) });
const timer = (atSec: number): Input => ({ kind: 'timer', at: at(atSec) });
const device = (atSec: number, deviceId: string, connected: boolean): Input => ({
  kind: 'device',
  deviceId,
  connected,
  at: at(atSec),
});

/** ONLINE with one open task (no IDLE window) and one connected device. */
function working(rule: Rule = DEFAULT_RULE): AgentState {
  let s = initialState('t1', 'a1', T0, rule);
  s = step(s, device(0, 'd1', true)).state;
  s = decide(s, events(0, ev(3, 0))).state;
  return { ...s, lastActionAt: T0 };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

describe('initialState', () => {
  it('starts ONLINE with nothing open and the IDLE window running', () => {
    const s = initialState('t1', 'a1', T0);
    expect(s).toMatchObject({
      status: 'ONLINE',
      cause: 'INITIAL',
      since: T0,
      version: 0,
      taskCount: 0,
      noTaskSince: T0,
      lastActionAt: T0,
      devices: {},
      recentReqIds: [],
      rule: DEFAULT_RULE,
    });
    expect(nextDeadline(s)).toEqual({ at: at(30), action: 'IDLE' });
  });
});

describe('IDLE window', () => {
  it('ONLINE with no open task for 30 s proposes IDLE (NO_TASK)', () => {
    const s = initialState('t1', 'a1', T0);
    expect(decide(s, timer(29.999)).candidates).toEqual([]);
    const d = decide(s, timer(30));
    expect(d.candidates).toEqual([
      {
        tenant: 't1',
        agentId: 'a1',
        from: 'ONLINE',
        to: 'IDLE',
        cause: 'NO_TASK',
        actor: { kind: 'system', id: 'vigil' },
        basis: { lastActionAt: T0, taskCount: 0, onApp: false, version: 0 },
        ruleId: 'default',
        ruleVersion: 0,
        windowStart: T0,
        dedupeKey: `IDLE:default:${T0}`,
        proposedAt: at(30),
      },
    ]);
    expect(d.next).toEqual({ at: at(480), action: 'REMIND' });
  });

  it('counts from the later of since and the last task closing', () => {
    let s = initialState('t1', 'a1', T0);
    s = decide(s, events(10, ev(3, 10))).state;
    expect(nextDeadline(s)?.action).not.toBe('IDLE');
    s = decide(s, events(100, ev(5, 100))).state;
    expect(s.noTaskSince).toBe(at(100));
    expect(nextDeadline(s)).toEqual({ at: at(130), action: 'IDLE' });
  });

  it('BUSY has no IDLE window', () => {
    const { state } = step(initialState('t1', 'a1', T0), events(1, ev(2, 1, { data: { status: 'BUSY' } })));
    expect(state.status).toBe('BUSY');
    expect(nextDeadline(state)).toEqual({ at: at(481), action: 'REMIND' });
  });

  it('IDLE and a task arrives: ONLINE at once (TASK_ASSIGNED)', () => {
    let s = step(initialState('t1', 'a1', T0), timer(30)).state;
    expect(s.status).toBe('IDLE');
    const d = decide(s, events(40, ev(3, 40)));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({
      from: 'IDLE',
      to: 'ONLINE',
      cause: 'TASK_ASSIGNED',
      windowStart: at(40),
      dedupeKey: `task:default:${at(40)}`,
      basis: { taskCount: 1, lastActionAt: at(40) },
    });
    s = step(s, events(40, ev(3, 40))).state;
    expect(s.status).toBe('ONLINE');
  });
});

describe('reminder window', () => {
  it('reminds after 8 min without action, and not again in the same silence', () => {
    const s = working();
    expect(nextDeadline(s)).toEqual({ at: at(480), action: 'REMIND' });
    const d = decide(s, timer(480));
    expect(d.candidates).toEqual([]);
    expect(d.reminders).toEqual([
      {
        tenant: 't1',
        agentId: 'a1',
        cause: 'NO_ACTION',
        lastActionAt: T0,
        lockSec: 840,
        dedupeKey: `remind:default:${T0}`,
        at: at(480),
      },
    ]);
    expect(d.state.lastReminderAt).toBe(at(480));
    expect(d.next).toEqual({ at: at(600), action: 'ABNORMAL' });
  });

  it('says NOT_ON_APP when no device is on app', () => {
    const s = { ...working(), devices: {} };
    expect(decide(s, timer(480)).reminders[0]?.cause).toBe('NOT_ON_APP');
  });

  it('sends at most one reminder per 840 s lock window', () => {
    const reminded = decide(working(), timer(480)).state;
    // Lock ends at 1320 s, after this silence's ABNORMAL (500 + 600): no second reminder.
    let s = decide(reminded, events(500, ev(4, 500))).state;
    expect(nextDeadline(s)).toEqual({ at: at(1100), action: 'ABNORMAL' });
    // Silence from 800 s would remind at 1280 s; the lock moves it to 1320 s, still before 1400 s.
    s = decide(reminded, events(800, ev(4, 800))).state;
    expect(nextDeadline(s)).toEqual({ at: at(1320), action: 'REMIND' });
    expect(decide(s, timer(1320)).reminders).toHaveLength(1);
    // Silence from 900 s reminds at 1380 s, past the lock.
    s = decide(reminded, events(900, ev(4, 900))).state;
    expect(nextDeadline(s)).toEqual({ at: at(1380), action: 'REMIND' });
  });
});

describe('ABNORMAL and OFFLINE windows', () => {
  it('10 min without action on app: ABNORMAL with NO_ACTION', () => {
    const s = decide(working(), timer(480)).state;
    const d = decide(s, timer(600));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({
      from: 'ONLINE',
      to: 'ABNORMAL',
      cause: 'NO_ACTION',
      windowStart: T0,
      dedupeKey: `ABNORMAL:default:${T0}`,
      basis: { onApp: true, lastActionAt: T0, taskCount: 1 },
    });
  });

  it('10 min without action and no device: ABNORMAL with NOT_ON_APP', () => {
    const s = { ...working(), devices: {} };
    const d = decide(s, timer(600));
    expect(d.candidates[0]).toMatchObject({ to: 'ABNORMAL', cause: 'NOT_ON_APP', basis: { onApp: false } });
  });

  it('a due ABNORMAL is not accompanied by the reminder', () => {
    const d = decide(working(), timer(700));
    expect(d.candidates.map((c) => c.to)).toEqual(['ABNORMAL']);
    expect(d.reminders).toEqual([]);
    expect(d.next).toBeNull();
  });

  it('ABNORMAL for another 10 min: OFFLINE (ABNORMAL_TIMEOUT)', () => {
    let s = step(decide(working(), timer(480)).state, timer(600)).state;
    expect(s).toMatchObject({ status: 'ABNORMAL', since: at(600), priorStatus: 'ONLINE' });
    expect(nextDeadline(s)).toEqual({ at: at(1200), action: 'OFFLINE' });
    const d = decide(s, timer(1200));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({
      from: 'ABNORMAL',
      to: 'OFFLINE',
      cause: 'ABNORMAL_TIMEOUT',
      windowStart: at(600),
      dedupeKey: `OFFLINE:default:${at(600)}`,
    });
    s = step(s, timer(1200)).state;
    expect(s).toMatchObject({ status: 'OFFLINE', offlineByWindow: true });
    expect(nextDeadline(s)).toBeNull();
  });

  it('ABNORMAL and any action: back to the status before ABNORMAL', () => {
    let s = step(working(), events(1, ev(2, 1, { data: { status: 'BUSY' } }))).state;
    s = step(s, timer(601)).state;
    expect(s).toMatchObject({ status: 'ABNORMAL', priorStatus: 'BUSY' });
    const d = decide(s, events(700, ev(101, 699)));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({
      from: 'ABNORMAL',
      to: 'BUSY',
      cause: 'ACTIVITY_RESUMED',
      actor: { kind: 'system', id: 'vigil' },
      windowStart: at(699),
      dedupeKey: `resume:default:${at(699)}`,
    });
  });

  it('a heartbeat does not bring ABNORMAL back', () => {
    const s = step(working(), timer(600)).state;
    expect(decide(s, events(700, ev(1, 700))).candidates).toEqual([]);
  });
});

describe('OFFLINE set by a window', () => {
  const offlineByWindow = (rule: Rule): AgentState => {
    let s = step(working(rule), timer(600)).state;
    s = step(s, timer(1200)).state;
    expect(s).toMatchObject({ status: 'OFFLINE', offlineByWindow: true });
    return s;
  };

  it("stays OFFLINE on activity with offlineRecovery 'manual'", () => {
    const s = offlineByWindow(DEFAULT_RULE);
    expect(decide(s, events(1300, ev(101, 1300))).candidates).toEqual([]);
  });

  it("recovers to ONLINE on activity with offlineRecovery 'onActivity'", () => {
    const s = offlineByWindow({ ...DEFAULT_RULE, offlineRecovery: 'onActivity' });
    const d = decide(s, events(1300, ev(101, 1300)));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({ from: 'OFFLINE', to: 'ONLINE', cause: 'ACTIVITY_RESUMED' });
  });

  it('a type-2 ONLINE brings it back either way', () => {
    const s = offlineByWindow(DEFAULT_RULE);
    const e = ev(2, 1300, { data: { status: 'ONLINE' } });
    const d = decide(s, events(1300, e));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({
      from: 'OFFLINE',
      to: 'ONLINE',
      cause: 'AGENT_REQUEST',
      actor: { kind: 'agent', id: 'a1' },
      windowStart: at(1300),
      dedupeKey: `req:${e.reqId}`,
    });
  });

  it('an OFFLINE the agent asked for is not left on activity', () => {
    const rule: Rule = { ...DEFAULT_RULE, offlineRecovery: 'onActivity' };
    const s = step(working(rule), events(1, ev(2, 1, { data: { status: 'OFFLINE' } }))).state;
    expect(s).toMatchObject({ status: 'OFFLINE', offlineByWindow: false });
    expect(decide(s, events(50, ev(101, 50))).candidates).toEqual([]);
    expect(nextDeadline(s)).toBeNull();
  });
});

describe('work-status requests (type 2)', () => {
  it('a request for the current status proposes nothing', () => {
    const s = initialState('t1', 'a1', T0);
    expect(decide(s, events(1, ev(2, 1, { data: { status: 'ONLINE' } }))).candidates).toEqual([]);
  });

  it('an explicit request wins over the derived candidate', () => {
    const s = step(working(), timer(600)).state;
    const d = decide(s, events(700, ev(101, 699), ev(2, 700, { data: { status: 'OFFLINE' } })));
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({ from: 'ABNORMAL', to: 'OFFLINE', cause: 'AGENT_REQUEST' });
  });

  it('a status an agent may not ask for is only an action', () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, events(5, ev(2, 5, { data: { status: 'ABNORMAL' } })));
    expect(d.candidates).toEqual([]);
    expect(d.state.lastActionAt).toBe(at(5));
  });
});

describe('devices and on app', () => {
  it('is the union of devices, with a 60 s reconnect grace', () => {
    let s = initialState('t1', 'a1', T0);
    s = decide(s, device(0, 'd1', true)).state;
    s = decide(s, device(0, 'd2', true)).state;
    s = decide(s, device(100, 'd1', false)).state;
    expect(isOnApp(s, at(500))).toBe(true);
    s = decide(s, device(200, 'd2', false)).state;
    expect(isOnApp(s, at(259.999))).toBe(true);
    expect(isOnApp(s, at(260))).toBe(false);
  });

  it('a device gone for good turns NO_ACTION into NOT_ON_APP', () => {
    let s = working();
    s = decide(s, device(0, 'd2', true)).state;
    s = decide(s, device(100, 'd1', false)).state;
    expect(decide(s, timer(600)).candidates[0]?.cause).toBe('NO_ACTION');

    // Both gone at 570 s: the grace still covers 600 s.
    const late = decide(s, device(570, 'd2', false)).state;
    expect(decide(late, timer(600)).candidates[0]?.cause).toBe('NO_ACTION');

    // Both gone at 470 s: the reminder at 480 s is still on app, the grace ends at 530 s.
    s = decide(s, device(470, 'd2', false)).state;
    const d = decide(s, timer(480));
    expect(d.reminders[0]?.cause).toBe('NO_ACTION');
    expect(Object.keys(d.state.devices)).toEqual(['d2']);
    expect(d.next).toEqual({ at: at(530), action: 'DEVICE_GONE' });
    const gone = decide(d.state, timer(530));
    expect(gone.candidates).toEqual([]);
    expect(gone.reminders).toEqual([]);
    expect(gone.state.devices).toEqual({});
    expect(gone.next).toEqual({ at: at(600), action: 'ABNORMAL' });
    expect(decide(gone.state, timer(600)).candidates[0]).toMatchObject({
      cause: 'NOT_ON_APP',
      basis: { onApp: false },
    });
  });

  it('a reconnect within the grace keeps the agent on app', () => {
    let s = working();
    s = decide(s, device(100, 'd1', false)).state;
    s = decide(s, device(130, 'd1', true)).state;
    expect(s.devices['d1']).toEqual({ connected: true, since: at(130) });
    expect(isOnApp(s, at(1000))).toBe(true);
    expect(nextDeadline(s)?.action).toBe('REMIND');
  });

  it('an event from a device marks it connected', () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, events(3, ev(1, 3, { deviceId: 'tab-1' })));
    expect(d.state.devices).toEqual({ 'tab-1': { connected: true, since: at(3) } });
    expect(isOnApp(d.state, at(3))).toBe(true);
  });

  it('a repeated disconnect does not extend the grace', () => {
    let s = decide(working(), device(100, 'd1', false)).state;
    s = decide(s, device(150, 'd1', false)).state;
    expect(s.devices['d1']).toEqual({ connected: false, since: at(100) });
    expect(decide(initialState('t1', 'a1', T0), device(5, 'ghost', false)).state.devices).toEqual({});
  });
});

describe('duplicates', () => {
  it('drops a reqId repeated within a batch', () => {
    const s = initialState('t1', 'a1', T0);
    const e = ev(3, 1);
    const d = decide(s, events(1, e, { ...e, ts: at(2) }));
    expect(d.duplicates).toEqual([e.reqId]);
    expect(d.state.taskCount).toBe(1);
    expect(d.state.lastActionAt).toBe(at(1));
    expect(d.state.recentReqIds).toEqual([e.reqId]);
  });

  it('drops a reqId seen in an earlier batch, with no effect at all', () => {
    const first = decide(initialState('t1', 'a1', T0), events(1, ev(3, 1), ev(4, 1)));
    const batch = [ev(3, 2), ...first.state.recentReqIds.map((reqId) => ({ reqId, type: 3, ts: at(2) }))];
    const d = decide(first.state, events(2, ...batch));
    expect(d.duplicates).toEqual(first.state.recentReqIds);
    expect(d.state.taskCount).toBe(2);

    const again = decide(d.state, events(9, ...batch));
    expect(again.duplicates).toEqual(batch.map((e) => e.reqId));
    expect(again.state).toEqual(d.state);
    expect(again.candidates).toEqual([]);
  });

  it(`remembers at most ${RECENT_REQ_IDS_MAX} reqIds, dropping the oldest`, () => {
    let s = initialState('t1', 'a1', T0);
    const sent: string[] = [];
    for (let b = 0; b < 7; b++) {
      const batch = Array.from({ length: 100 }, () => ev(101, b));
      sent.push(...batch.map((e) => e.reqId));
      s = decide(s, events(b, ...batch)).state;
    }
    expect(s.recentReqIds).toEqual(sent.slice(-RECENT_REQ_IDS_MAX));
  });
});

describe('events', () => {
  it('a heartbeat is not an action', () => {
    const s = working();
    const d = decide(s, events(300, ev(1, 300)));
    expect(d.state.lastActionAt).toBe(T0);
    expect(d.state.lastHeartbeatAt).toBe(at(300));
    expect(d.next).toEqual({ at: at(480), action: 'REMIND' });
    expect(decide(d.state, timer(600)).candidates[0]).toMatchObject({ to: 'ABNORMAL', cause: 'NO_ACTION' });
  });

  it('clamps client time ahead of now, and ignores time older than the last action', () => {
    const s = initialState('t1', 'a1', T0);
    const ahead = decide(s, events(10, ev(101, 3600)));
    expect(ahead.state.lastActionAt).toBe(at(10));
    const old = decide(ahead.state, events(20, ev(101, 5)));
    expect(old.state.lastActionAt).toBe(at(10));
  });

  it('processes a batch in (ts, index) order', () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, events(10, ev(5, 2), ev(3, 1)));
    expect(d.state.taskCount).toBe(0);
    expect(d.state.noTaskSince).toBe(at(10));
    const byIndex = decide(s, events(10, ev(5, 1, { index: 2 }), ev(3, 1, { index: 1 })));
    expect(byIndex.state.taskCount).toBe(0);
  });

  it('ignores types only Vigil produces', () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, events(10, ev(3002, 10)));
    expect(d.state.lastActionAt).toBe(T0);
    expect(d.candidates).toEqual([]);
  });
});

describe('manual requests', () => {
  it('a supervisor request is SUPERVISOR with the actor and reason', () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, {
      kind: 'manual',
      status: 'BUSY',
      actor: { kind: 'supervisor', id: 'sup-7' },
      reason: 'coaching',
      requestId: 'm1',
      at: at(5),
    });
    expect(d.candidates).toEqual([
      {
        tenant: 't1',
        agentId: 'a1',
        from: 'ONLINE',
        to: 'BUSY',
        cause: 'SUPERVISOR',
        actor: { kind: 'supervisor', id: 'sup-7' },
        reason: 'coaching',
        basis: { lastActionAt: T0, taskCount: 0, onApp: false, version: 0 },
        ruleId: 'default',
        ruleVersion: 0,
        windowStart: at(5),
        dedupeKey: 'manual:m1',
        proposedAt: at(5),
      },
    ]);
    expect(d.state).toEqual(s);
  });

  it("an agent's own request is AGENT_REQUEST, even for the current status", () => {
    const s = initialState('t1', 'a1', T0);
    const d = decide(s, {
      kind: 'manual',
      status: 'ONLINE',
      actor: { kind: 'agent', id: 'a1' },
      requestId: 'm2',
      at: at(5),
    });
    expect(d.candidates).toHaveLength(1);
    expect(d.candidates[0]).toMatchObject({ from: 'ONLINE', to: 'ONLINE', cause: 'AGENT_REQUEST' });
    expect(d.candidates[0]).not.toHaveProperty('reason');
  });
});

describe('HCM replies', () => {
  it('adopts committed facts, including the prior status of ABNORMAL', () => {
    const s = working();
    const c = decide(s, timer(600)).candidates[0]!;
    const d = decide(s, commitReply(s, c));
    expect(d.candidates).toEqual([]);
    expect(d.state).toMatchObject({
      status: 'ABNORMAL',
      priorStatus: 'ONLINE',
      since: at(600),
      version: s.version + 1,
    });
    expect(d.next).toEqual({ at: at(1200), action: 'OFFLINE' });
  });

  it('a rejected window does not fire again at the same version', () => {
    const s = initialState('t1', 'a1', T0);
    const fired = decide(s, timer(30));
    expect(fired.next).toEqual({ at: at(480), action: 'REMIND' });
    const c = fired.candidates[0]!;
    const rejected = decide(fired.state, {
      kind: 'hcm',
      at: at(30),
      reply: {
        committed: false,
        candidate: c,
        reason: 'STALE',
        facts: {
          status: 'ONLINE',
          cause: 'INITIAL',
          since: T0,
          version: 0,
          priorStatus: null,
          offlineByWindow: false,
          taskCount: 0,
          rule: DEFAULT_RULE,
        },
      },
    });
    expect(rejected.next).toEqual({ at: at(480), action: 'REMIND' });
  });

  it('a new version lets a rejected window be proposed again', () => {
    const s = working();
    const fired = decide(s, timer(600));
    const c = fired.candidates[0]!;
    const facts = { ...(commitReply(s, c) as Extract<Input, { kind: 'hcm' }>).reply.facts, status: 'ONLINE' as const };
    const rejected = decide(fired.state, {
      kind: 'hcm',
      at: at(600),
      reply: { committed: false, candidate: c, reason: 'STALE', facts: { ...facts, version: s.version } },
    }).state;
    expect(nextDeadline(rejected)).toBeNull();
    const supervisorOnline = adoptFacts(rejected, {
      ...facts,
      cause: 'SUPERVISOR',
      since: at(700),
      version: s.version + 1,
    });
    expect(nextDeadline(supervisorOnline)!.at).toBeLessThan(at(700));
    const again = decide(supervisorOnline, timer(700));
    expect(again.candidates.map((x) => [x.to, x.dedupeKey])).toEqual([['ABNORMAL', `ABNORMAL:default:${T0}`]]);
    expect(again.reminders).toEqual([]);
  });

  it('takes the open-task count from HCM and restarts the IDLE basis when it drops to 0', () => {
    let s = decide(initialState('t1', 'a1', T0), events(10, ev(3, 10))).state;
    const facts = {
      status: 'ONLINE' as const,
      cause: 'INITIAL' as const,
      since: at(50),
      version: 1,
      priorStatus: null,
      offlineByWindow: false,
      taskCount: 0,
      rule: DEFAULT_RULE,
    };
    s = adoptFacts(s, facts);
    expect(s).toMatchObject({ taskCount: 0, noTaskSince: at(50), version: 1 });
    expect(nextDeadline(s)).toEqual({ at: at(80), action: 'IDLE' });
    expect(adoptFacts(s, { ...facts, version: 0, status: 'BUSY' })).toEqual(s);
  });
});

describe('purity', () => {
  it('never mutates its input and is deterministic', () => {
    const s = deepFreeze(decide(working(), device(10, 'd2', true)).state);
    const inputs: Input[] = [
      events(20, ev(3, 20, { deviceId: 'd3' }), ev(1, 21)),
      device(30, 'd1', false),
      timer(700),
      { kind: 'manual', status: 'BUSY', actor: { kind: 'admin', id: 'x' }, requestId: 'm', at: at(40) },
    ];
    for (const input of inputs) {
      deepFreeze(input);
      expect(decide(s, input)).toEqual(decide(s, input));
      expect(decide(s, input).state).not.toBe(s);
    }
  });
});
