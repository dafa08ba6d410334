// What one agent-hour looks like to the agent workflow after the gateway's coalescing, and a driver
// that replays it on a real Temporal server compressed in time. History length depends on the
// number of signals, timers and activities, not on wall time, so a compressed hour with windows
// compressed by the same factor produces the same history as a real one.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { recordEvents } from '../db/intake.ts';
import type { Pool } from '../db/pool.ts';
import type { RuleInput } from '../db/rules.ts';
import { signalAgent } from '../workflows/client.ts';
import { agentWorkflowId, stateQuery, type EventsSignal } from '../workflows/contract.ts';
import { Coalescer, mustSignalNow } from '../gateway/coalescer.ts';
import { loadConfig } from '../platform/config.ts';
import { DEFAULT_RULE, closesTask, opensTask, type AgentEvent } from '../workflows/model.ts';

export interface Mix {
  heartbeatSec: number;
  /** The agent alternates stretches of activity with quiet ones (reading, talking). */
  activeSec: number;
  quietSec: number;
  /** One click, key or mouse event this often while active. */
  actionEverySec: number;
  ticketsPerHour: number;
}

/** What a workbench sends in an hour: a heartbeat every 30 s, an action every 2 s while active. */
export const REALISTIC: Mix = { heartbeatSec: 30, activeSec: 60, quietSec: 60, actionEverySec: 2, ticketsPerHour: 12 };

export type StepKind = 'device' | 'heartbeat' | 'activity' | 'ticket';
export interface Step {
  /** Seconds from the start of the stream (virtual time). */
  atSec: number;
  kind: StepKind;
  /** Event types and ticket ids; reqIds and timestamps are stamped when the step is sent. */
  events: { type: number; ticketId?: string }[];
}

/** The raw events of `hours` agent-hours, in time order (ms of virtual time). */
export function rawStream(mix: Mix, hours: number): { atMs: number; type: number; ticketId?: string }[] {
  const total = hours * 3600;
  const out: { atMs: number; type: number; ticketId?: string }[] = [];
  const cycle = mix.activeSec + mix.quietSec;
  for (let t = 0; t < total; t += mix.heartbeatSec) out.push({ atMs: t * 1000 + 500, type: 1 });
  for (let t = 0; t < total; t += mix.actionEverySec) {
    if (t % cycle < mix.activeSec) out.push({ atMs: t * 1000 + 1000, type: (t / mix.actionEverySec) % 2 ? 102 : 101 });
  }
  const period = 3600 / mix.ticketsPerHour;
  for (let k = 0; k * period < total; k++) {
    const id = `T-${k}`;
    const at = (k * period + 3) * 1000; // open, reply, complete; then no task until the next one (IDLE)
    out.push(
      { atMs: at, type: 3, ticketId: id },
      { atMs: at + (period / 3) * 1000, type: 4, ticketId: id },
      { atMs: at + ((2 * period) / 3) * 1000, type: 5, ticketId: id },
    );
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/**
 * The signals the workflow hears in `hours` agent-hours: the raw stream run through the gateway's
 * own Coalescer (default digest interval) and its `mustSignalNow` on a virtual clock, with open
 * tasks counted as HCM would. The realistic agent keeps acting, so HCM never holds it ABNORMAL.
 */
export async function agentStream(mix: Mix, hours: number): Promise<Step[]> {
  let now = 0;
  let seq = 0;
  type Timer = { at: number; seq: number; fn: () => void; cancelled: boolean };
  const queue: Timer[] = [];
  const steps: Step[] = [];
  const digestMs = loadConfig({}).gateway.digestMs;
  let openTasks = 0;
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const c = new Coalescer({
    digestMs: () => digestMs,
    now: () => now,
    timers: {
      set: (fn, ms) => {
        const t: Timer = { at: now + ms, seq: seq++, fn, cancelled: false };
        queue.push(t);
        return t;
      },
      clear: (h) => {
        if (h) (h as Timer).cancelled = true;
      },
    },
    send: async (b) => {
      const events = b.events.map((e) => ({ type: e.type, ...(e.ticketId ? { ticketId: e.ticketId } : {}) }));
      const kind: StepKind =
        b.devices.length > 0 && events.length === 0
          ? 'device'
          : events.some((e) => e.type >= 2 && e.type <= 12)
            ? 'ticket'
            : events.some((e) => e.type !== 1)
              ? 'activity'
              : 'heartbeat';
      steps.push({ atSec: now / 1000, kind, events });
    },
  });
  const runTimersUntil = async (t: number) => {
    for (;;) {
      queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = queue.find((x) => !x.cancelled);
      if (!next || next.at > t) break;
      queue.splice(queue.indexOf(next), 1);
      now = next.at;
      next.fn();
      await settle();
    }
    now = t;
  };
  c.device('t', 'a', { deviceId: 'tab-1', connected: true, at: 0 });
  await settle();
  let n = 0;
  for (const e of rawStream(mix, hours)) {
    await runTimersUntil(e.atMs);
    const events: AgentEvent[] = [
      {
        reqId: `r${n++}`,
        type: e.type,
        ts: e.atMs,
        receivedAt: e.atMs,
        deviceId: 'tab-1',
        ...(e.ticketId ? { ticketId: e.ticketId } : {}),
      },
    ];
    const tasksBefore = openTasks;
    if (opensTask(e.type)) openTasks++;
    if (closesTask(e.type)) openTasks = Math.max(0, openTasks - 1);
    const urgent = mustSignalNow(events, {
      status: openTasks > 0 ? 'ONLINE' : 'IDLE',
      offlineByWindow: false,
      tasksBefore,
      tasksAfter: openTasks,
    });
    c.accept('t', 'a', events, null, urgent);
    await settle();
  }
  await runTimersUntil(hours * 3600 * 1000 + 60_000);
  return steps.filter((st) => st.atSec <= hours * 3600);
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
    const batch: EventsSignal =
      step.kind === 'device'
        ? { devices: [{ deviceId: device, connected: true, at: ts }] }
        : { events: step.events.map((e): AgentEvent => ({ reqId: randomUUID(), ts, deviceId: device, ...e })) };
    if (batch.events) {
      // As the gateway does: the facts first, and the workflow gets the events stamped with receipt time.
      batch.events = await recordEvents(o.pool, o.tenant, o.agentId, batch.events);
      events += batch.events.length;
      const acted = batch.events.filter((e) => e.type !== 1);
      if (acted.length > 0) lastActionTs = acted.at(-1)!.receivedAt ?? ts;
    }
    const handle = await signalAgent(
      o.client,
      o.taskQueue,
      { tenant: o.tenant, agentId: o.agentId, historyLimit: o.historyLimit || undefined },
      batch,
    );
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
