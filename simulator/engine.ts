// The rule simulator's engine (README "Rule simulator"): one agent's recorded activity replayed
// through the real decision module (workflows/decide.ts) and the real HCM rechecks
// (activities/recheck.ts), against a model of HCM's facts, the way workflows/agent.ts runs them —
// minus Temporal. Pure and deterministic: the same record and rule give the same transitions.
import { recheck, recheckReminder } from '../activities/recheck.ts';
import { mustSignalNow } from '../gateway/coalescer.ts';
import { adoptFacts, decide, initialState, nextDeadline } from '../workflows/decide.ts';
import {
  closesTask,
  opensTask,
  type Actor,
  type AgentEvent,
  type AgentState,
  type Candidate,
  type Decision,
  type Facts,
  type HcmReply,
  type Input,
  type Reminder,
  type Rule,
  type Status,
} from '../workflows/model.ts';

/** What the agent was at the start of the simulated range (HCM's facts then). */
export interface SimStart {
  status: Status;
  cause: Facts['cause'];
  since: number;
  priorStatus: Status | null;
  offlineByWindow: boolean;
  openTickets: string[];
  /** The latest action before the range (or the workflow's start). */
  lastActionAt: number;
  /** When the simulated workflow starts: windows count from here until the agent acts. */
  at: number;
}

export type SimInput =
  | { at: number; kind: 'action' }
  | { at: number; kind: 'event'; type: number; ts: number; ticketId?: string; data?: Record<string, unknown> }
  | { at: number; kind: 'device'; deviceId: string; connected: boolean }
  | { at: number; kind: 'manual'; status: Status; actor: Actor; reason?: string };

export interface SimTransition {
  at: number;
  from: Status;
  to: Status;
  cause: string;
}

export interface SimResult {
  transitions: SimTransition[];
  reminders: number[];
}

/** Guards against a loop in the model: this many wake-ups at one instant is a bug. */
const MAX_SAME_INSTANT = 50;

export function simulateAgent(
  agentId: string,
  rule: Rule,
  start: SimStart,
  inputs: readonly SimInput[],
  end: number,
): SimResult {
  let now = start.at;
  const tickets = new Set(start.openTickets);
  const F = {
    status: start.status,
    cause: start.cause,
    since: start.since,
    version: 0,
    priorStatus: start.priorStatus,
    offlineByWindow: start.offlineByWindow,
    lastActionAt: start.lastActionAt,
    lastReminderAt: null as number | null,
  };
  const facts = (): Facts => ({
    status: F.status,
    cause: F.cause,
    since: F.since,
    version: F.version,
    priorStatus: F.priorStatus,
    offlineByWindow: F.offlineByWindow,
    taskCount: tickets.size,
    rule,
    lastActionAt: F.lastActionAt,
    lastReminderAt: F.lastReminderAt,
  });
  const handled = new Set<string>();
  const transitions: SimTransition[] = [];
  const reminders: number[] = [];

  const hcmCommit = (c: Candidate): HcmReply => {
    if (handled.has(c.dedupeKey)) return { committed: false, candidate: c, reason: 'ALREADY_HANDLED', facts: facts() };
    const why = recheck(c, facts(), 'sim', 'sim');
    if (why) return { committed: false, candidate: c, reason: why, facts: facts() };
    handled.add(c.dedupeKey);
    transitions.push({ at: now, from: c.from, to: c.to, cause: c.cause });
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
      reminders.push(now);
      F.lastReminderAt = now;
    }
    return facts();
  };

  let state: AgentState = initialState('sim', agentId, start.at, rule, 2);
  const commit = (c: Candidate, hops: number) => {
    const reply = hcmCommit(c);
    const d = decide(state, { kind: 'hcm', reply, at: now });
    state = d.state;
    if (hops < 3) for (const next of d.candidates) commit(next, hops + 1);
  };
  const apply = (d: Decision) => {
    state = d.state;
    for (const r of d.reminders) {
      const after = decide(state, { kind: 'facts', facts: hcmRemind(r), at: now });
      state = after.state;
      for (const c of after.candidates) commit(c, 1);
    }
    for (const c of d.candidates) commit(c, 0);
  };
  const input = (i: Input) => apply(decide(state, i));
  input({ kind: 'facts', facts: facts(), at: now });

  let n = 0;
  /** What the intake does with an event (facts at once), and whether the workflow hears of it now. */
  const intake = (e: AgentEvent): boolean => {
    const before = tickets.size;
    F.lastActionAt = Math.max(F.lastActionAt, now);
    if (e.ticketId && opensTask(e.type)) tickets.add(e.ticketId);
    if (e.ticketId && closesTask(e.type)) tickets.delete(e.ticketId);
    return mustSignalNow([e], {
      status: F.status,
      offlineByWindow: F.offlineByWindow,
      tasksBefore: before,
      tasksAfter: tickets.size,
    });
  };

  let i = 0;
  let sameInstant = 0;
  for (;;) {
    const deadline = nextDeadline(state)?.at ?? Infinity;
    const next = inputs[i]?.at ?? Infinity;
    const when = Math.max(now, Math.min(deadline, next));
    if (when >= end) break;
    sameInstant = when === now ? sameInstant + 1 : 0;
    if (sameInstant > MAX_SAME_INSTANT)
      throw new Error(`${agentId}: the model keeps waking at ${when} without progress`);
    now = when;
    // An input at the very instant of a deadline goes first: recorded actions are known to the
    // second, and an agent who acted in the second its window closed is given the benefit.
    if (deadline < next) {
      input({ kind: 'timer', at: now });
      continue;
    }
    // Pure actions before the next deadline, while no action would be signalled (the agent is not
    // ABNORMAL or OFFLINE by a window), only move HCM's last action: take them in one step.
    if (inputs[i]!.kind === 'action' && F.status !== 'ABNORMAL' && !(F.status === 'OFFLINE' && F.offlineByWindow)) {
      const first = i;
      while (inputs[i]?.kind === 'action' && inputs[i]!.at < deadline && inputs[i]!.at < end) {
        F.lastActionAt = Math.max(F.lastActionAt, inputs[i]!.at);
        i++;
      }
      if (i > first) {
        now = Math.max(now, F.lastActionAt);
        continue;
      }
    }
    const x = inputs[i++]!;
    switch (x.kind) {
      case 'action':
      case 'event': {
        const e: AgentEvent =
          x.kind === 'action'
            ? { reqId: `s${++n}`, type: 100, ts: now, receivedAt: now }
            : {
                reqId: `s${++n}`,
                type: x.type,
                ts: x.ts,
                receivedAt: now,
                ...(x.ticketId ? { ticketId: x.ticketId } : {}),
                ...(x.data ? { data: x.data } : {}),
              };
        // Pure activity the workflow does not hear of now only moves HCM's last action: the
        // wake-up's recheck reads it (a later digest signal changes no decision).
        if (!intake(e)) break;
        input({ kind: 'events', events: [e], at: now });
        if (opensTask(e.type) || closesTask(e.type)) state = adoptFacts(state, facts());
        break;
      }
      case 'device':
        input({ kind: 'device', deviceId: x.deviceId, connected: x.connected, at: now });
        break;
      case 'manual':
        input({
          kind: 'manual',
          status: x.status,
          actor: x.actor,
          ...(x.reason ? { reason: x.reason } : {}),
          requestId: `m${++n}`,
          at: now,
        });
        break;
    }
  }
  return { transitions, reminders };
}

/** Minutes spent in each status over [from, end), given the status at `from` and the transitions. */
export function minutesIn(first: Status, from: number, transitions: readonly SimTransition[], end: number) {
  const out: Partial<Record<Status, number>> = {};
  let status = first;
  let since = from;
  for (const t of [...transitions, { at: end, from: status, to: status, cause: '' }]) {
    const a = Math.max(since, from);
    const b = Math.min(t.at, end);
    if (b > a) out[status] = (out[status] ?? 0) + (b - a) / 60_000;
    status = t.to;
    since = t.at;
  }
  return out;
}
