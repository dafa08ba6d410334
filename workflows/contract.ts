// Temporal names and message shapes of the agent workflow (docs/PROTOCOL.md "Temporal names").
// Gateway, tests and operators import these; the workflow defines its handlers from them.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ServiceState } from './fleet.ts';
import type { Actor, AgentEvent, AgentState, Facts, HcmReply, Input, PlannedAction, Status } from './model.ts';

export const TASK_QUEUE = 'vigil-agents';

/** `agent:{tenant}:{agentId}` (workflows/ids.ts, which a browser bundle can import on its own). */
export { agentWorkflowId } from './ids.ts';

/** One signal carries a batch: client events and device connects/disconnects, in order. */
export interface EventsSignal {
  events?: AgentEvent[];
  devices?: { deviceId: string; connected: boolean; at: number }[];
  /**
   * A rule that may govern this agent changed (`true`), or an operator switched its region
   * (`'region'`): re-read HCM's facts now (a shortened window may be due; the workflow may move).
   */
  refresh?: boolean | 'region';
}

export interface SetStatusRequest {
  status: Status;
  actor: Actor;
  reason?: string;
  /** Idempotency key of the request; a repeated one gets the first answer. */
  requestId: string;
}

export type SetStatusResult = { committed: true; facts: Facts } | { committed: false; reason: string; facts: Facts };

export interface TimelineEntry {
  at: number;
  kind:
    | 'events'
    | 'device'
    | 'candidate'
    | 'commit'
    | 'reject'
    | 'reminder'
    | 'manual'
    | 'wake'
    | 'rule'
    | 'hcm'
    | 'held'
    | 'route';
  detail: string;
}

export interface LiveState {
  tenant: string;
  agentId: string;
  status: Status;
  cause: string;
  since: number;
  version: number;
  taskCount: number;
  onApp: boolean;
  devices: AgentState['devices'];
  lastActionAt: number;
  next: { at: number; action: PlannedAction } | null;
  rule: { ruleId: string; version: number };
  timeline: TimelineEntry[];
  runInputs: number;
  /** Decision engine: 1 until the workflow reached code with the facts-first patch, then 2. */
  engine: 1 | 2;
  /** null while HCM answers; else since when (ms) its calls fail, how many rounds, the last error. */
  hcmTrouble: { since: number; failures: number; lastError: string } | null;
}

export interface AgentWorkflowInput {
  tenant: string;
  agentId: string;
  /** Set by continue-as-new: the state, its unprocessed inputs and recent timeline. */
  carried?: {
    state: AgentState;
    inbox: Input[];
    timeline: TimelineEntry[];
    answered: [string, SetStatusResult][];
    /** Set when the run before moved here from another task queue (region switch, line routing). */
    moved?: { at: number; from: string };
  };
  /** Continue-as-new once the run's history is this long (Temporal's own suggestion also counts). */
  historyLimit?: number;
  /** Set by continue-as-new of an instance's workflow (README "Fleet mode"; workflows/service.ts). */
  service?: {
    state: ServiceState;
    inbox: Input[];
    timeline: TimelineEntry[];
    answered: [string, SetStatusResult][];
  };
}

export const eventsSignal = defineSignal<[EventsSignal]>('events');
export const setStatusUpdate = defineUpdate<SetStatusResult, [SetStatusRequest]>('setStatus');
export const stateQuery = defineQuery<LiveState>('state');

export type { HcmReply };

/** A rule simulation's progress (workflows/simulate.ts, README "Rule simulator"). */
export const simulationProgress = defineQuery<{ done: number; total: number }>('progress');
