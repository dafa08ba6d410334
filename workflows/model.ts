// The agent's domain model: shared by the decision module, the workflow, HCM and the gateway.
// Pure types and constants only: this file is bundled into the workflow sandbox.

export const STATUSES = ['ONLINE', 'IDLE', 'BUSY', 'ABNORMAL', 'OFFLINE'] as const;
export type Status = (typeof STATUSES)[number];

export const STATUS_CODE: Record<Status, number> = {
  ONLINE: 1000,
  IDLE: 1001,
  BUSY: 1002,
  ABNORMAL: 1003,
  OFFLINE: 1004,
};

export type Cause =
  | 'INITIAL'
  | 'TASK_ASSIGNED'
  | 'NO_TASK'
  | 'NO_ACTION'
  | 'NOT_ON_APP'
  | 'ABNORMAL_TIMEOUT'
  | 'ACTIVITY_RESUMED'
  | 'AGENT_REQUEST'
  | 'SUPERVISOR'
  | 'POLICY';

/** Event types of docs/DESIGN.md: one table, shared with the workbench SDK (pure constants). */
import { EventType, LAST_TICKET_EVENT_TYPE } from '../sdk/protocol.ts';
export { EventType, LAST_TICKET_EVENT_TYPE };
/** The statuses an agent may set itself: a wire constant, so the workbench SDK has it too. */
export { WORK_STATUSES, isWorkStatus, type WorkStatus } from '../sdk/protocol.ts';

/** Types only Vigil produces; clients may not send them. */
export const INTERNAL_EVENT_TYPES: readonly number[] = [3001, 3002, 3003, 4000];

export function isClientEventType(type: number): boolean {
  return (
    (type >= EventType.HEARTBEAT && type <= LAST_TICKET_EVENT_TYPE) ||
    (type >= EventType.CLICK && type <= EventType.URL_CHANGE)
  );
}
/** Open tasks +1. */
export function opensTask(type: number): boolean {
  return type === EventType.TICKET_OPENED || type === EventType.TICKET_REOPENED;
}
/** Open tasks −1: completed, transferred, escalated, handed off. */
export function closesTask(type: number): boolean {
  return type >= EventType.TICKET_COMPLETED && type <= EventType.TICKET_HANDED_OFF;
}
/** Everything a client sends except a heartbeat is an action (work-status changes included). */
export function isAction(type: number): boolean {
  return type !== EventType.HEARTBEAT;
}

export interface RuleWindows {
  idleAfterNoTaskSec: number;
  remindAfterNoActionSec: number;
  abnormalAfterNoActionSec: number;
  offlineAfterAbnormalSec: number;
}

export interface Rule {
  ruleId: string;
  version: number;
  windows: RuleWindows;
  reminderLockSec: number;
  offlineRecovery: 'manual' | 'onActivity';
  reconnectGraceSec: number;
}

export const DEFAULT_RULE: Rule = {
  ruleId: 'default',
  version: 0,
  windows: {
    idleAfterNoTaskSec: 30,
    remindAfterNoActionSec: 480,
    abnormalAfterNoActionSec: 600,
    offlineAfterAbnormalSec: 600,
  },
  reminderLockSec: 840,
  offlineRecovery: 'manual',
  reconnectGraceSec: 60,
};

/** One event as a client sends it (docs/PROTOCOL.md), plus the device the gateway saw it on. */
export interface AgentEvent {
  reqId: string;
  type: number;
  ts: number;
  channel?: string;
  ticketId?: string;
  index?: number;
  data?: Record<string, unknown>;
  deviceId?: string;
  /**
   * ms, the gateway's clock: when the gateway accepted the event (stamped at intake, written to HCM
   * as the last action). Engine 2 measures windows from it; the client's `ts` only orders events.
   */
  receivedAt?: number;
}

export type ActorKind = 'agent' | 'supervisor' | 'admin' | 'service' | 'system';
export interface Actor {
  kind: ActorKind;
  id: string;
}

export interface DeviceState {
  connected: boolean;
  /** ms: when it last connected or disconnected. */
  since: number;
}

/** What the workflow knows about its agent. Plain JSON: carried across continue-as-new. */
export interface AgentState {
  tenant: string;
  agentId: string;
  status: Status;
  cause: Cause;
  /** ms: when the current status was committed. */
  since: number;
  /** HCM's per-agent version of the committed status. */
  version: number;
  /** The status before ABNORMAL, restored on any action. */
  priorStatus: Status | null;
  /** True when OFFLINE was set by a window (not by a request). */
  offlineByWindow: boolean;
  taskCount: number;
  /** ms: when the open-task count last became 0 (basis of the IDLE window). */
  noTaskSince: number;
  devices: Record<string, DeviceState>;
  /** ms: the latest action (basis of the reminder and ABNORMAL windows). */
  lastActionAt: number;
  lastHeartbeatAt: number | null;
  lastReminderAt: number | null;
  rule: Rule;
  /** Bounded, oldest first. */
  recentReqIds: string[];
  /**
   * Dedupe keys of window candidates already proposed at this HCM version, oldest first, so a
   * rejected or superseded window does not fire again and again. Cleared when the version changes.
   */
  proposedKeys?: string[];
  /**
   * Decision engine. Absent: engine 1 (windows from signal arrival and client time; kept only so
   * histories of workflows started before the upgrade replay). 2: facts first (README "Upgrading").
   */
  engine?: 2;
  /**
   * Engine 2: the client ts of the latest work-status request applied. A request the workflow hears
   * of later but that is older (a dead gateway's leftover, forwarded by the sweeper after the agent's
   * next request) must not undo the newer one: the client's ts orders an agent's events.
   */
  lastRequestTs?: number;
  /**
   * ms: HCM held an ABNORMAL/OFFLINE window because the agent's input looked broken (README "Input
   * health and degrade"); such windows come due again no earlier than this. Cleared by HCM's next answer.
   */
  holdUntil?: number;
}

export type Input =
  | { kind: 'events'; events: AgentEvent[]; at: number }
  | { kind: 'device'; deviceId: string; connected: boolean; at: number }
  | { kind: 'timer'; at: number }
  | { kind: 'hcm'; reply: HcmReply; at: number }
  /** HCM's facts read at a wake-up or on a rule change (engine 2). */
  | { kind: 'facts'; facts: Facts; at: number }
  /**
   * A rule changed, or an operator switched the agent's region (`why: 'region'`), or the workflow
   * just moved to its queue (`why: 'moved'`): it re-reads HCM's facts (engine 2); nothing for `decide` itself.
   */
  | { kind: 'refresh'; at: number; why?: 'region' | 'moved' }
  | { kind: 'manual'; status: Status; actor: Actor; reason?: string; requestId: string; at: number };

export interface Candidate {
  tenant: string;
  agentId: string;
  from: Status;
  to: Status;
  cause: Cause;
  actor: Actor;
  reason?: string;
  /** The facts as the workflow saw them when it proposed the change. */
  basis: { lastActionAt: number; taskCount: number; onApp: boolean; version: number };
  ruleId: string;
  ruleVersion: number;
  /** ms: start of the window (or the request time) this candidate answers. */
  windowStart: number;
  /** Unique per real-world transition: agent + rule + window start (+ target). */
  dedupeKey: string;
  proposedAt: number;
}

export interface Reminder {
  tenant: string;
  agentId: string;
  cause: 'NO_ACTION' | 'NOT_ON_APP';
  lastActionAt: number;
  lockSec: number;
  dedupeKey: string;
  at: number;
  /** Engine 2: the rule the reminder window was measured with (HCM answers RULE_CHANGED otherwise). */
  ruleId?: string;
  ruleVersion?: number;
}

/** What HCM knows; the workflow adopts it: the committed part of AgentState, and a few more. */
export interface Facts extends Pick<
  AgentState,
  'status' | 'cause' | 'since' | 'version' | 'priorStatus' | 'offlineByWindow' | 'taskCount' | 'rule'
> {
  /** ms, gateway clock: the latest action HCM recorded (absent in replies recorded by engine-1 workers). */
  lastActionAt?: number;
  /** ms: the last reminder HCM sent. */
  lastReminderAt?: number | null;
  /** Operator-facing attributes of the agent (search attributes). */
  businessLine?: string;
  skillGroups?: string[];
  /**
   * With an INPUT_DEGRADED rejection: the agent's input scope looks broken (or an operator said so),
   * so HCM holds windows of absence; ask again at `until` (ms, HCM's clock).
   */
  held?: { scope: string; reason: string; until: number };
  /** Present for an instance of a service or AI agent (README "Fleet mode"): its workflow runs workflows/service.ts. */
  kind?: 'service';
  /** The region that owns the agent (absent in replies recorded before regions could switch). */
  region?: string;
  /**
   * The task queue the agent's workflow belongs on, by the answering worker's routing
   * (workflows/routing.ts), and the queue of that worker, which is the one this workflow task ran
   * on (HCM calls are local activities). When they differ the workflow moves. Both are recorded in
   * the history, so a replay decides as the original did (workflowInfo().taskQueue is the replay
   * worker's own queue). Absent in older recorded replies.
   */
  taskQueue?: string;
  servedOn?: string;
}

export type HcmReply =
  | { committed: true; candidate: Candidate; facts: Facts }
  | { committed: false; candidate: Candidate; reason: string; facts: Facts };

export type PlannedAction = 'IDLE' | 'REMIND' | 'ABNORMAL' | 'OFFLINE' | 'DEVICE_GONE';

export interface Decision {
  state: AgentState;
  candidates: Candidate[];
  reminders: Reminder[];
  /** The earliest deadline and what happens then; null when no window is running. */
  next: { at: number; action: PlannedAction } | null;
  /** reqIds of this input already seen. */
  duplicates: string[];
}

export const RECENT_REQ_IDS_MAX = 512;
export const PROPOSED_KEYS_MAX = 16;
