// The agent list's `nextDeadline`: an estimate, from HCM's facts alone, of the next window an
// agent's workflow has running, computed with the engine's own pure functions (workflows/decide.ts)
// so it cannot drift from the engine's rules. The workflow's `state` query (`GET /v1/agents/:id/live`)
// has the exact answer, one agent at a time; this one costs no Temporal call, for a whole page.
import type { AgentListRow } from '../db/agents.ts';
import { adoptFacts, initialState, nextDeadline } from '../workflows/decide.ts';
import type { AgentState, Cause, Rule, Status } from '../workflows/model.ts';

export type DeadlineAction = 'IDLE' | 'REMIND' | 'ABNORMAL' | 'OFFLINE';
export interface NextDeadline {
  at: string;
  action: DeadlineAction;
}

/**
 * The workflow's state rebuilt from HCM's facts, as engine 2 builds it when it starts (initial
 * state, then HCM's facts adopted), with two facts HCM keeps only approximately:
 * - the workflow's start, which is where its windows count from until the agent acts or a task
 *   closes: HCM has the agent's creation (`agents.created_at`); an agent created by an admin long
 *   before it first logged in gets windows that look overdue;
 * - when the open-task count last became 0 (the IDLE window's start): HCM has when each task
 *   closed (`tasks.updated_at` of closed tasks; the workflow counts from the close event's receipt
 *   time, which is the same moment give or take the intake transaction); closed tasks older than
 *   their retention are gone, and the agent's `since` then bounds the window anyway.
 * What the workflow alone knows is left out: windows it already proposed and HCM refused at this
 * version (their deadline shows in the past here, while the workflow waits for the facts to
 * change), and devices gone but still inside their reconnect grace (HCM deletes a device's row when
 * it disconnects), so `DEVICE_GONE` never shows. An `at` in the past means the window is due.
 */
export function estimateState(a: AgentListRow, rule: Rule): AgentState {
  const f = a.deadlineFacts;
  const since = Date.parse(a.since);
  const lastActionAt = a.lastActionAt === null ? undefined : Date.parse(a.lastActionAt);
  const s = adoptFacts(initialState(a.tenant, a.agentId, f.createdAt, rule, 2), {
    status: a.status as Status,
    cause: a.cause as Cause,
    since,
    version: a.version,
    priorStatus: f.priorStatus,
    offlineByWindow: f.offlineByWindow,
    taskCount: a.taskCount,
    rule,
    ...(lastActionAt !== undefined ? { lastActionAt } : {}),
    lastReminderAt: f.lastReminderAt,
  });
  // Engine 2 moves noTaskSince to a close event's receipt time when it brings the count to 0.
  const noTaskSince =
    a.taskCount === 0 && f.lastTaskClosedAt !== null ? Math.max(s.noTaskSince, f.lastTaskClosedAt) : s.noTaskSince;
  // Connected devices have no deadline of their own; listed for a faithful state (onApp).
  const devices = Object.fromEntries(
    a.deviceSessions.map((d) => [d.deviceId, { connected: true, since: Date.parse(d.lastSeenAt) }]),
  );
  return { ...s, noTaskSince, devices };
}

/** The estimated next deadline of a listed agent under `rule` (the one pickRule resolves for it). */
export function estimateNextDeadline(a: AgentListRow, rule: Rule): NextDeadline | null {
  const next = nextDeadline(estimateState(a, rule));
  if (!next || next.action === 'DEVICE_GONE') return null;
  return { at: new Date(next.at).toISOString(), action: next.action };
}

export interface Overdue {
  /** How long ago the oldest due window fell due (seconds); 0 when none is due. */
  oldestSec: number;
  /** Agents whose estimated next window is due. */
  agents: number;
}

/**
 * Per action, the agents whose estimated next window (as `estimateNextDeadline`) is past `now`:
 * windows the engine has not decided yet (the worker's `vigil_overdue_deadline_seconds`). Agents
 * whose absence is `held` by input health are left out of ABNORMAL and OFFLINE: HCM holds those on purpose.
 */
export function overdueWindows(
  agents: readonly (AgentListRow & { held?: boolean })[],
  ruleOf: (a: AgentListRow) => Rule,
  now: number,
): Record<DeadlineAction, Overdue> {
  const out: Record<DeadlineAction, Overdue> = {
    IDLE: { oldestSec: 0, agents: 0 },
    REMIND: { oldestSec: 0, agents: 0 },
    ABNORMAL: { oldestSec: 0, agents: 0 },
    OFFLINE: { oldestSec: 0, agents: 0 },
  };
  for (const a of agents) {
    const next = estimateNextDeadline(a, ruleOf(a));
    if (!next) continue;
    const at = Date.parse(next.at);
    if (at > now || (a.held && (next.action === 'ABNORMAL' || next.action === 'OFFLINE'))) continue;
    const o = out[next.action];
    o.agents += 1;
    o.oldestSec = Math.max(o.oldestSec, (now - at) / 1000);
  }
  return out;
}
