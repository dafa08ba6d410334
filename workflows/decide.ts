// The agent's decision logic: (state, input) → new state, candidates, reminders, next deadline.
// Pure and deterministic (no I/O, clock or randomness): it runs inside the workflow sandbox.
import {
  DEFAULT_RULE,
  EventType,
  PROPOSED_KEYS_MAX,
  RECENT_REQ_IDS_MAX,
  closesTask,
  isAction,
  isClientEventType,
  isWorkStatus,
  opensTask,
  type Actor,
  type AgentEvent,
  type AgentState,
  type Candidate,
  type Cause,
  type Decision,
  type Facts,
  type HcmReply,
  type Input,
  type PlannedAction,
  type Reminder,
  type Rule,
  type Status,
} from './model.ts';

const SYSTEM: Actor = { kind: 'system', id: 'vigil' };
/** Statuses watched by the no-action windows (reminder, ABNORMAL). */
const WATCHED: readonly Status[] = ['ONLINE', 'IDLE', 'BUSY'];
/** Tie-break for deadlines due at the same instant, most severe first. */
const SEVERITY: readonly PlannedAction[] = ['OFFLINE', 'ABNORMAL', 'REMIND', 'IDLE', 'DEVICE_GONE'];

type StatusWindow = 'IDLE' | 'ABNORMAL' | 'OFFLINE';

interface Deadline {
  at: number;
  action: PlannedAction;
  windowStart: number;
  dedupeKey: string;
}

const ms = (sec: number): number => sec * 1000;
const bySeverity = (a: Deadline, b: Deadline): number =>
  a.at - b.at || SEVERITY.indexOf(a.action) - SEVERITY.indexOf(b.action);
const isStatusWindow = (action: PlannedAction): action is StatusWindow =>
  action === 'IDLE' || action === 'ABNORMAL' || action === 'OFFLINE';

export function initialState(
  tenant: string,
  agentId: string,
  now: number,
  rule: Rule = DEFAULT_RULE,
  engine?: 2,
): AgentState {
  return {
    ...(engine ? { engine } : {}),
    tenant,
    agentId,
    status: 'ONLINE',
    cause: 'INITIAL',
    since: now,
    version: 0,
    priorStatus: null,
    offlineByWindow: false,
    taskCount: 0,
    noTaskSince: now,
    devices: {},
    lastActionAt: now,
    lastHeartbeatAt: null,
    lastReminderAt: null,
    rule,
    recentReqIds: [],
    proposedKeys: [],
  };
}

/**
 * Takes HCM's facts as the truth. When HCM's open-task count drops to 0, HCM does not say when the
 * last task closed, so the IDLE window counts from the later of our own mark and the facts' since.
 * Engine 2 also takes HCM's last action and last reminder: they move the windows, not signals.
 */
export function adoptFacts(state: AgentState, facts: Facts): AgentState {
  const s = copy(state);
  // A reply overtaken by a newer commit must not roll the state back.
  if (facts.version < state.version) return s;
  const tasksCleared = state.taskCount > 0 && facts.taskCount === 0;
  const heard =
    state.engine === 2
      ? {
          ...(facts.lastActionAt !== undefined
            ? { lastActionAt: Math.max(state.lastActionAt, facts.lastActionAt) }
            : {}),
          ...(facts.lastReminderAt !== undefined ? { lastReminderAt: facts.lastReminderAt } : {}),
        }
      : {};
  return {
    ...s,
    status: facts.status,
    cause: facts.cause,
    since: facts.since,
    version: facts.version,
    priorStatus: facts.priorStatus,
    offlineByWindow: facts.offlineByWindow,
    taskCount: facts.taskCount,
    rule: facts.rule,
    noTaskSince: tasksCleared ? Math.max(state.noTaskSince, facts.since) : state.noTaskSince,
    // A new version is a new situation: every window may be proposed again.
    proposedKeys: facts.version === state.version ? s.proposedKeys : [],
    ...heard,
  };
}

export function decide(state: AgentState, input: Input): Decision {
  switch (input.kind) {
    case 'events':
      return onEvents(state, input.events, input.at);
    case 'device':
      return onDevice(state, input.deviceId, input.connected, input.at);
    case 'timer':
      return onTimer(state, input.at);
    case 'hcm': {
      const d = afterFacts(state, input.reply.facts, input.at);
      return state.engine === 2 ? afterHold(d, input.reply) : d;
    }
    case 'facts':
      return afterFacts(state, input.facts, input.at);
    case 'refresh':
      return decision(copy(state));
    case 'manual': {
      const s = copy(state);
      const cause: Cause = input.actor.kind === 'agent' ? 'AGENT_REQUEST' : 'SUPERVISOR';
      const candidate = propose(s, input.at, {
        to: input.status,
        cause,
        actor: input.actor,
        reason: input.reason,
        windowStart: input.at,
        dedupeKey: `manual:${input.requestId}`,
      });
      return decision(s, [candidate]);
    }
  }
}

export function nextDeadline(state: AgentState): { at: number; action: PlannedAction } | null {
  const first = deadlines(state).sort(bySeverity)[0];
  return first ? { at: first.at, action: first.action } : null;
}

/** On app = the union of devices: any connected, or one still inside its reconnect grace. */
export function isOnApp(state: AgentState, now: number): boolean {
  const grace = ms(state.rule.reconnectGraceSec);
  return Object.values(state.devices).some((d) => d.connected || now < d.since + grace);
}

function onEvents(state: AgentState, events: AgentEvent[], at: number): Decision {
  const seen = new Set(state.recentReqIds);
  const fresh: AgentEvent[] = [];
  const duplicates: string[] = [];
  for (const event of events) {
    if (seen.has(event.reqId)) duplicates.push(event.reqId);
    else {
      seen.add(event.reqId);
      fresh.push(event);
    }
  }
  const s = copy(state);
  const v2 = s.engine === 2;
  if (fresh.length === 0) return decision(s, [], [], duplicates);
  s.recentReqIds = [...s.recentReqIds, ...fresh.map((e) => e.reqId)].slice(-RECENT_REQ_IDS_MAX);

  let request: { to: Status; event: AgentEvent; t: number } | null = null;
  let actionAt: number | null = null;
  // Array.prototype.sort is stable, so equal (ts, index) keep their batch order.
  const ordered = [...fresh].sort((a, b) => a.ts - b.ts || (a.index ?? 0) - (b.index ?? 0));
  for (const event of ordered) {
    // Vigil-only types are rejected by the gateway; never let one move the state.
    if (!isClientEventType(event.type)) continue;
    if (event.deviceId !== undefined && !s.devices[event.deviceId]?.connected) {
      s.devices[event.deviceId] = { connected: true, since: at };
    }
    // Engine 2: the gateway's receipt time (HCM's clock); engine 1 trusted the client's clock,
    // clamped to the moment the workflow heard of the event.
    const t = v2 ? (event.receivedAt ?? at) : Math.min(event.ts, at);
    if (!isAction(event.type)) {
      s.lastHeartbeatAt = Math.max(s.lastHeartbeatAt ?? t, t);
      continue;
    }
    s.lastActionAt = Math.max(s.lastActionAt, t);
    actionAt = Math.max(actionAt ?? t, t);
    if (opensTask(event.type)) s.taskCount += 1;
    if (closesTask(event.type) && s.taskCount > 0) {
      s.taskCount -= 1;
      if (s.taskCount === 0) s.noTaskSince = v2 ? t : at;
    }
    const wanted = event.data?.['status'];
    const stale = v2 && event.ts < (s.lastRequestTs ?? -Infinity);
    // What an agent may ask for with a type-2 event: one of the work statuses.
    if (event.type === EventType.WORK_STATUS && isWorkStatus(wanted) && !stale) {
      request = { to: wanted, event, t };
      if (v2) s.lastRequestTs = event.ts;
    }
  }

  // One status candidate per call; the agent's explicit request (even a no-op one) wins.
  let candidate: Candidate | null = null;
  if (request) {
    if (request.to !== s.status) {
      candidate = propose(s, at, {
        to: request.to,
        cause: 'AGENT_REQUEST',
        actor: { kind: 'agent', id: s.agentId },
        windowStart: v2 ? request.t : Math.min(request.event.ts, at),
        dedupeKey: `req:${request.event.reqId}`,
      });
    }
  } else {
    candidate = afterActivity(s, actionAt, at);
    if (v2) candidate = once(s, candidate);
  }
  return decision(s, candidate ? [candidate] : [], [], duplicates);
}

/**
 * Engine 2, after HCM's facts were adopted (a reply, a wake-up read, a rule change): the facts may
 * imply a change on their own — an action HCM recorded after ABNORMAL began, a task while IDLE —
 * even when the signal that carried it is late or was never sent. Engine 1 waited for that signal.
 */
function afterFacts(state: AgentState, facts: Facts, at: number): Decision {
  const s = adoptFacts(state, facts);
  if (s.engine !== 2 || facts.version < state.version) return decision(s);
  // HCM's own last action, not ours: a workflow's starting mark is not an action.
  const acted = facts.lastActionAt !== undefined && facts.lastActionAt > facts.since ? facts.lastActionAt : null;
  const candidate = once(s, afterActivity(s, acted, at));
  return decision(s, candidate ? [candidate] : []);
}

/**
 * Engine 2: HCM held a window of absence because the agent's input looked broken (README "Input
 * health and degrade"). The window is not answered: it comes due again when the hold ends, and HCM
 * decides it then from the facts. Any other answer ends the hold.
 */
function afterHold(d: Decision, reply: HcmReply): Decision {
  const s = d.state;
  const held = !reply.committed && reply.reason === 'INPUT_DEGRADED' ? reply.facts.held : undefined;
  if (held) {
    s.holdUntil = held.until;
    s.proposedKeys = (s.proposedKeys ?? []).filter((k) => k !== reply.candidate.dedupeKey);
  } else if (s.holdUntil === undefined) return d;
  else delete s.holdUntil;
  return decision(s, d.candidates, d.reminders, d.duplicates);
}

/** Engine 2: a candidate HCM already answered at this version is not proposed again (no loops). */
function once(s: AgentState, c: Candidate | null): Candidate | null {
  if (!c) return null;
  const keys = s.proposedKeys ?? [];
  if (keys.includes(c.dedupeKey)) return null;
  s.proposedKeys = [...keys, c.dedupeKey].slice(-PROPOSED_KEYS_MAX);
  return c;
}

/** Window keys: engine 2 adds the rule version, so an edited rule's window is a new window. */
function ruleTag(s: AgentState): string {
  return s.engine === 2 ? `${s.rule.ruleId}@${s.rule.version}` : s.rule.ruleId;
}

/** The candidate an events batch implies without an explicit request, if any. */
function afterActivity(s: AgentState, actionAt: number | null, at: number): Candidate | null {
  const ruleId = ruleTag(s);
  const resume = (to: Status, windowStart: number): Candidate =>
    propose(s, at, {
      to,
      cause: 'ACTIVITY_RESUMED',
      actor: SYSTEM,
      windowStart,
      dedupeKey: `resume:${ruleId}:${windowStart}`,
    });
  if (actionAt !== null && s.status === 'ABNORMAL') {
    const prior = s.priorStatus && s.priorStatus !== 'ABNORMAL' ? s.priorStatus : 'ONLINE';
    // Going back to IDLE with a task open would only need a second hop to ONLINE.
    return resume(prior === 'IDLE' && s.taskCount > 0 ? 'ONLINE' : prior, actionAt);
  }
  if (actionAt !== null && s.status === 'OFFLINE' && s.offlineByWindow && s.rule.offlineRecovery === 'onActivity') {
    return resume('ONLINE', actionAt);
  }
  if (s.status === 'IDLE' && s.taskCount > 0) {
    return propose(s, at, {
      to: 'ONLINE',
      cause: 'TASK_ASSIGNED',
      actor: SYSTEM,
      windowStart: at,
      dedupeKey: `task:${ruleId}:${at}`,
    });
  }
  return null;
}

function onDevice(state: AgentState, deviceId: string, connected: boolean, at: number): Decision {
  const s = copy(state);
  // A disconnect of a device not counted as connected must not open a fresh grace period.
  if (connected || s.devices[deviceId]?.connected) s.devices[deviceId] = { connected, since: at };
  return decision(s);
}

function onTimer(state: AgentState, at: number): Decision {
  const s = copy(state);
  const grace = ms(s.rule.reconnectGraceSec);
  for (const [id, device] of Object.entries(s.devices)) {
    if (!device.connected && device.since + grace <= at) delete s.devices[id];
  }
  const due = deadlines(s).filter((d) => d.at <= at);
  const statusDue = due.filter((d) => isStatusWindow(d.action)).sort(bySeverity);
  const candidates: Candidate[] = [];
  const reminders: Reminder[] = [];
  const onApp = isOnApp(s, at);

  const worst = statusDue[0];
  if (worst && isStatusWindow(worst.action)) {
    candidates.push(
      propose(s, at, {
        to: worst.action,
        cause: windowCause(worst.action, onApp),
        actor: SYSTEM,
        windowStart: worst.windowStart,
        dedupeKey: worst.dedupeKey,
      }),
    );
  }
  const remind = due.find((d) => d.action === 'REMIND');
  // Engine 2: a reminder is asked of HCM once per silence and version; HCM's answer (sent, or the
  // newer action it knows of) comes back as facts, so it never stays due and wakes us again.
  if (remind && s.engine === 2)
    s.proposedKeys = [...(s.proposedKeys ?? []), remind.dedupeKey].slice(-PROPOSED_KEYS_MAX);
  if (remind && !statusDue.some((d) => d.action === 'ABNORMAL')) {
    reminders.push({
      tenant: s.tenant,
      agentId: s.agentId,
      cause: onApp ? 'NO_ACTION' : 'NOT_ON_APP',
      lastActionAt: s.lastActionAt,
      lockSec: s.rule.reminderLockSec,
      dedupeKey: remind.dedupeKey,
      at,
      ...(s.engine === 2 ? { ruleId: s.rule.ruleId, ruleVersion: s.rule.version } : {}),
    });
    s.lastReminderAt = at;
  }
  // Less severe windows due now are superseded, not postponed: mark them all, so none stays due.
  s.proposedKeys = [...(s.proposedKeys ?? []), ...statusDue.map((d) => d.dedupeKey)].slice(-PROPOSED_KEYS_MAX);
  return decision(s, candidates, reminders);
}

function windowCause(action: StatusWindow, onApp: boolean): Cause {
  if (action === 'IDLE') return 'NO_TASK';
  if (action === 'OFFLINE') return 'ABNORMAL_TIMEOUT';
  return onApp ? 'NO_ACTION' : 'NOT_ON_APP';
}

/** Every deadline that applies to the state, in no particular order. */
function deadlines(s: AgentState): Deadline[] {
  const { windows } = s.rule;
  const ruleId = ruleTag(s);
  const proposed = new Set(s.proposedKeys ?? []);
  // Windows of absence HCM holds (input degraded) come due again no earlier than the hold's end.
  const held = (at: number): number => Math.max(at, s.holdUntil ?? at);
  const out: Deadline[] = [];
  const add = (action: PlannedAction, at: number, windowStart: number, dedupeKey: string): void => {
    if (!proposed.has(dedupeKey)) out.push({ at, action, windowStart, dedupeKey });
  };

  if (s.status === 'ONLINE' && s.taskCount === 0) {
    const start = Math.max(s.since, s.noTaskSince);
    add('IDLE', start + ms(windows.idleAfterNoTaskSec), start, `IDLE:${ruleId}:${start}`);
  }
  if (WATCHED.includes(s.status)) {
    const abnormalAt = s.lastActionAt + ms(windows.abnormalAfterNoActionSec);
    const abnormalKey = `ABNORMAL:${ruleId}:${s.lastActionAt}`;
    add('ABNORMAL', held(abnormalAt), s.lastActionAt, abnormalKey);
    // One reminder per silence, none once ABNORMAL is proposed, and the lock may only delay it.
    const silenceReminded = s.lastReminderAt !== null && s.lastReminderAt >= s.lastActionAt;
    if (!silenceReminded && !proposed.has(abnormalKey)) {
      const lockEnd = s.lastReminderAt === null ? -Infinity : s.lastReminderAt + ms(s.rule.reminderLockSec);
      const remindAt = Math.max(s.lastActionAt + ms(windows.remindAfterNoActionSec), lockEnd);
      if (remindAt < abnormalAt) add('REMIND', remindAt, s.lastActionAt, `remind:${ruleId}:${s.lastActionAt}`);
    }
  }
  if (s.status === 'ABNORMAL') {
    add('OFFLINE', held(s.since + ms(windows.offlineAfterAbnormalSec)), s.since, `OFFLINE:${ruleId}:${s.since}`);
  }
  const grace = ms(s.rule.reconnectGraceSec);
  for (const [id, device] of Object.entries(s.devices)) {
    if (!device.connected) add('DEVICE_GONE', device.since + grace, device.since, `DEVICE_GONE:${id}`);
  }
  return out;
}

interface Proposal {
  to: Status;
  cause: Cause;
  actor: Actor;
  reason?: string | undefined;
  windowStart: number;
  dedupeKey: string;
}

function propose(s: AgentState, at: number, p: Proposal): Candidate {
  return {
    tenant: s.tenant,
    agentId: s.agentId,
    from: s.status,
    to: p.to,
    cause: p.cause,
    actor: p.actor,
    ...(p.reason !== undefined ? { reason: p.reason } : {}),
    basis: { lastActionAt: s.lastActionAt, taskCount: s.taskCount, onApp: isOnApp(s, at), version: s.version },
    ruleId: s.rule.ruleId,
    ruleVersion: s.rule.version,
    windowStart: p.windowStart,
    dedupeKey: p.dedupeKey,
    proposedAt: at,
  };
}

function decision(
  state: AgentState,
  candidates: Candidate[] = [],
  reminders: Reminder[] = [],
  duplicates: string[] = [],
): Decision {
  return { state, candidates, reminders, next: nextDeadline(state), duplicates };
}

/** A fresh state whose containers can be changed without touching the caller's. */
function copy(state: AgentState): AgentState {
  const devices: AgentState['devices'] = {};
  for (const [id, device] of Object.entries(state.devices)) devices[id] = { ...device };
  return {
    ...state,
    devices,
    recentReqIds: [...state.recentReqIds],
    proposedKeys: [...(state.proposedKeys ?? [])],
  };
}
