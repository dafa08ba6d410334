// What one agent-hour looks like to the agent workflow after the gateway's coalescing, and a driver
// that replays it on a real Temporal server compressed in time. History length depends on the
// number of signals, timers and activities, not on wall time, so a compressed hour with windows
// compressed by the same factor produces the same history as a real one.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { recordEvents } from '../db/intake.ts';
import type { Pool } from '../db/pool.ts';
import type { RuleInput } from '../db/rules.ts';
import { agentWorkflowId, eventsSignal, stateQuery, type EventsSignal } from '../workflows/contract.ts';
import { DEFAULT_RULE, type AgentEvent } from '../workflows/model.ts';

export interface Mix {
  /** Gateway flush interval: at most one activity signal per agent per interval while it acts. */
  flushSec: number;
  heartbeatSec: number;
  /** The agent alternates bursts of activity with quiet stretches (reading, talking). */
  activeSec: number;
  quietSec: number;
  ticketsPerHour: number;
  /** Clicks and keys merged into one flush (they change the batch size, not the history). */
  eventsPerFlush: number;
}

/** Heartbeat every 30 s, activity half the time flushed every 5 s, a ticket every 5 minutes. */
export const REALISTIC: Mix = { flushSec: 5, heartbeatSec: 30, activeSec: 60, quietSec: 60, ticketsPerHour: 12, eventsPerFlush: 4 };

export type StepKind = 'device' | 'heartbeat' | 'activity' | 'ticket';
export interface Step {
  /** Seconds from the start of the stream (virtual time). */
  atSec: number;
  kind: StepKind;
  /** Event types and ticket ids; reqIds and timestamps are stamped when the step is sent. */
  events: { type: number; ticketId?: string }[];
}

/**
 * The signals the workflow hears in `hours` agent-hours: a device connect, state-changing ticket
 * events at once (open, reply, complete), coalesced activity flushes while the agent acts, and
 * heartbeats while it does not (during activity the heartbeat rides in the flush).
 */
export function agentStream(mix: Mix, hours: number): Step[] {
  const total = hours * 3600;
  const steps: Step[] = [{ atSec: 0, kind: 'device', events: [] }];
  const cycle = mix.activeSec + mix.quietSec;
  for (let t = 0; t < total; t += mix.flushSec) {
    if (t % cycle < mix.activeSec) {
      steps.push({ atSec: t + 1, kind: 'activity', events: Array.from({ length: mix.eventsPerFlush }, (_, i) => ({ type: i % 2 ? 102 : 101 })) });
    } else if (t % mix.heartbeatSec === 0) {
      steps.push({ atSec: t + 1, kind: 'heartbeat', events: [{ type: 1 }] });
    }
  }
  const period = 3600 / mix.ticketsPerHour;
  for (let k = 0; k * period < total; k++) {
    const id = `T-${k}`;
    const at = k * period + 3; // open, reply, complete; then no task until the next one (IDLE)
    steps.push({ atSec: at, kind: 'ticket', events: [{ type: 3, ticketId: id }] });
    steps.push({ atSec: at + period / 3, kind: 'ticket', events: [{ type: 4, ticketId: id }] });
    steps.push({ atSec: at + (2 * period) / 3, kind: 'ticket', events: [{ type: 5, ticketId: id }] });
  }
  return steps.sort((a, b) => a.atSec - b.atSec);
}

/** The default rule's windows divided by `scale` (whole seconds), for a stream compressed as much. */
export function compressedRule(scale: number): RuleInput {
  const w = DEFAULT_RULE.windows;
  const s = (sec: number) => {
    if (sec % scale !== 0) throw new Error(`window ${sec} s is not a whole number of seconds at scale ${scale}`);
    return sec / scale;
  };
  return {
    windows: {
      idleAfterNoTaskSec: s(w.idleAfterNoTaskSec),
      remindAfterNoActionSec: s(w.remindAfterNoActionSec),
      abnormalAfterNoActionSec: s(w.abnormalAfterNoActionSec),
      offlineAfterAbnormalSec: s(w.offlineAfterAbnormalSec),
    },
    reminderLockSec: s(DEFAULT_RULE.reminderLockSec),
    reconnectGraceSec: s(DEFAULT_RULE.reconnectGraceSec),
  };
}

export interface DriveOptions {
  pool: Pool;
  client: Client;
  taskQueue: string;
  tenant: string;
  agentId: string;
  steps: Step[];
  /** Virtual seconds per real second. */
  scale: number;
  historyLimit?: number;
}

export interface Driven {
  firstRunId: string;
  signals: number;
  events: number;
  lastActionTs: number;
  /** How far behind the compressed schedule the driver fell at worst (ms real time). */
  maxLagMs: number;
}

/**
 * Sends each step as the gateway would (facts to Postgres, then signalWithStart) at its compressed
 * time, and waits for the workflow to have processed it (a query is answered after pending
 * signals), so every signal gets its own workflow task as when signals are seconds apart.
 */
export async function driveAgent(o: DriveOptions): Promise<Driven> {
  const start = Date.now();
  const id = agentWorkflowId(o.tenant, o.agentId);
  const device = 'tab-1';
  let firstRunId = '';
  let events = 0;
  let lastActionTs = 0;
  let maxLagMs = 0;
  for (const step of o.steps) {
    const due = start + (step.atSec * 1000) / o.scale;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else maxLagMs = Math.max(maxLagMs, -wait);
    const ts = Date.now();
    const batch: EventsSignal = step.kind === 'device'
      ? { devices: [{ deviceId: device, connected: true, at: ts }] }
      : { events: step.events.map((e): AgentEvent => ({ reqId: randomUUID(), ts, deviceId: device, ...e })) };
    if (batch.events) {
      await recordEvents(o.pool, o.tenant, o.agentId, batch.events);
      events += batch.events.length;
      if (batch.events.some((e) => e.type !== 1)) lastActionTs = ts;
    }
    const handle = await o.client.workflow.signalWithStart('agentWorkflow', {
      workflowId: id,
      taskQueue: o.taskQueue,
      args: [{ tenant: o.tenant, agentId: o.agentId, ...(o.historyLimit ? { historyLimit: o.historyLimit } : {}) }],
      signal: eventsSignal,
      signalArgs: [batch],
    });
    firstRunId ||= handle.signaledRunId;
    await o.client.workflow.getHandle(id).query(stateQuery);
  }
  return { firstRunId, signals: o.steps.length, events, lastActionTs, maxLagMs };
}

export interface RunHistory {
  runId: string;
  events: number;
  continuedAsNew: boolean;
  signals: number;
  workflowTasks: number;
  timers: number;
  activities: number;
}

/** Every run of the workflow from `firstRunId` on, following the continue-as-new chain. */
export async function runHistories(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const last = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    const count = (has: (e: (typeof events)[number]) => unknown) => events.filter(has).length;
    runs.push({
      runId,
      events: events.length,
      continuedAsNew: !!last,
      signals: count((e) => e.workflowExecutionSignaledEventAttributes),
      workflowTasks: count((e) => e.workflowTaskCompletedEventAttributes),
      timers: count((e) => e.timerStartedEventAttributes),
      activities: count((e) => e.activityTaskScheduledEventAttributes),
    });
    const next: string | null | undefined = last?.newExecutionRunId;
    runId = next ?? undefined;
  }
  return runs;
}
