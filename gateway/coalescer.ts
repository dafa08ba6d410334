// Signals (docs/DESIGN.md "HCM's facts are the clock"): the workflow's deadlines come from HCM's facts,
// which every receipt has already committed, so a signal is needed only for what the workflow must
// act on at once — work-status changes, ticket events at zero open tasks, device changes, and an
// action of an agent HCM holds ABNORMAL (or OFFLINE by a window). Everything else is pure activity:
// it waits for a slow digest that only keeps the workflow's `state` query fresh.
import {
  EventType,
  LAST_TICKET_EVENT_TYPE,
  closesTask,
  isAction,
  opensTask,
  type AgentEvent,
} from '../workflows/model.ts';
import type { IntakeFacts } from '../db/intake.ts';
import { idKey } from '../platform/ids.ts';

export interface DeviceChange {
  deviceId: string;
  connected: boolean;
  at: number;
}

/** One signal's worth for one agent; `pendingIds` are the intake rows it makes redundant. */
export interface Batch {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
  devices: DeviceChange[];
  pendingIds: number[];
}

/**
 * JSON bytes of one signal at most. Temporal refuses a payload over 2 MB, and a batch that grew
 * during a long outage would then fail forever; a quarter of that leaves room for the envelope.
 */
export const MAX_SIGNAL_BYTES = 512 * 1024;

export interface CoalescerOptions {
  /** At most one digest of pure activity per agent this often. */
  digestMs(): number;
  /** Budget of one signal (default MAX_SIGNAL_BYTES); larger batches go in several, in order. */
  maxSignalBytes?: number;
  /** Delivers a batch (signalWithStart); a rejection keeps the batch for a retry. */
  send(batch: Batch): Promise<void>;
  now?: () => number;
  /** Timer functions (default: the global ones); a simulation passes virtual ones. */
  timers?: { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };
  /** Every accepted frame is signalled at once on its own (for measuring what coalescing saves). */
  naive?: boolean;
  onError?: (err: unknown, batch: Batch) => void;
}

/**
 * Whether a frame's events must reach the workflow now, judged from HCM's facts as the intake
 * transaction left them: an explicit status request, a ticket event with no task open before or
 * after it (IDLE starts or ends), or an action of an agent whose status only an action ends.
 */
export function mustSignalNow(events: AgentEvent[], f: IntakeFacts): boolean {
  if (events.some((e) => e.type === EventType.WORK_STATUS || e.type === EventType.STATUS_SWITCH)) return true;
  // An instance's heartbeat (README "Fleet mode"): its workflow judges seq and metrics.
  if (events.some(isServiceBeat)) return true;
  if (events.some((e) => opensTask(e.type) || closesTask(e.type)) && (f.tasksBefore === 0 || f.tasksAfter === 0))
    return true;
  const acting = events.some((e) => isAction(e.type));
  return acting && (f.status === 'ABNORMAL' || (f.status === 'OFFLINE' && f.offlineByWindow));
}

/** A heartbeat with a sequence number: an instance's, in fleet mode. */
export function isServiceBeat(e: AgentEvent): boolean {
  return e.type === EventType.HEARTBEAT && typeof e.data?.['seq'] === 'number';
}

/** Only the latest of these matters to the workflow (per device, actions apart from heartbeats). */
export function isCoalescable(type: number): boolean {
  return (
    type === EventType.HEARTBEAT ||
    type === EventType.TICKET_REPLIED ||
    (type > EventType.TICKET_REOPENED && type <= LAST_TICKET_EVENT_TYPE) ||
    (type >= EventType.CLICK && type <= EventType.URL_CHANGE && type !== EventType.STATUS_SWITCH)
  );
}

interface AgentBuffer {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
  devices: DeviceChange[];
  pendingIds: number[];
  urgent: boolean;
  lastSignalAt: number;
  timer: unknown;
  timerDue: number;
  sending: Promise<void> | undefined;
  failures: number;
}

export class Coalescer {
  readonly stats = { eventsIn: 0, eventsForwarded: 0, signals: 0, digests: 0, failures: 0 };
  private readonly agents = new Map<string, AgentBuffer>();
  private readonly now: () => number;
  private readonly timers: NonNullable<CoalescerOptions['timers']>;
  private closed = false;

  constructor(private readonly o: CoalescerOptions) {
    this.now = o.now ?? Date.now;
    this.timers = o.timers ?? {
      set: (fn, ms) => setTimeout(fn, ms),
      clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
  }

  /** Events already committed as facts; `pendingId` is their intake row (urgent frames only). */
  accept(tenant: string, agentId: string, events: AgentEvent[], pendingId: number | null, urgent: boolean): void {
    if (events.length === 0 && pendingId === null) return;
    const a = this.buffer(tenant, agentId);
    this.stats.eventsIn += events.length;
    if (this.o.naive) {
      const batch: Batch = { tenant, agentId, events, devices: [], pendingIds: pendingId === null ? [] : [pendingId] };
      this.stats.signals++;
      this.o.send(batch).then(
        () => void (this.stats.eventsForwarded += events.length),
        (err) => {
          this.stats.failures++;
          this.o.onError?.(err, batch);
          a.events.push(...batch.events);
          a.pendingIds.push(...batch.pendingIds);
          a.urgent = true;
          this.schedule(a);
        },
      );
      return;
    }
    if (pendingId !== null) a.pendingIds.push(pendingId);
    if (urgent) a.urgent = true;
    for (const e of events) {
      // Every beat of an instance counts: its sequence shows lost beats and restarts.
      if (isCoalescable(e.type) && !isServiceBeat(e)) {
        const action = isAction(e.type);
        const i = a.events.findIndex(
          (x) => isCoalescable(x.type) && !isServiceBeat(x) && isAction(x.type) === action && x.deviceId === e.deviceId,
        );
        if (i >= 0) {
          if (a.events[i]!.ts > e.ts) continue;
          a.events.splice(i, 1);
        }
      }
      a.events.push(e);
    }
    this.schedule(a);
  }

  /** Connects and disconnects always go at once. */
  device(tenant: string, agentId: string, change: DeviceChange): void {
    const a = this.buffer(tenant, agentId);
    a.devices.push(change);
    a.urgent = true;
    this.schedule(a);
  }

  /** Sends everything buffered now (graceful shutdown) and stops scheduling. */
  async flushAll(): Promise<void> {
    this.closed = true;
    for (let round = 0; round < 3; round++) {
      const work: Promise<void>[] = [];
      for (const a of this.agents.values()) {
        this.timers.clear(a.timer);
        a.timer = undefined;
        if (a.sending) work.push(a.sending);
        else if (worthSending(a)) work.push(this.flush(a));
      }
      if (work.length === 0) return;
      await Promise.allSettled(work);
    }
  }

  /** Forgets agents with nothing worth sending and quiet for `idleMs`, so memory follows activity. */
  prune(idleMs = 60_000): void {
    const cutoff = this.now() - Math.max(idleMs, this.o.digestMs());
    for (const [k, a] of this.agents) {
      if (!worthSending(a) && !a.timer && !a.sending && a.lastSignalAt < cutoff) this.agents.delete(k);
    }
  }

  get bufferedAgents(): number {
    let n = 0;
    for (const a of this.agents.values()) if (worthSending(a)) n++;
    return n;
  }

  private buffer(tenant: string, agentId: string): AgentBuffer {
    const key = idKey(tenant, agentId);
    let a = this.agents.get(key);
    if (!a) {
      a = {
        tenant,
        agentId,
        events: [],
        devices: [],
        pendingIds: [],
        urgent: false,
        lastSignalAt: -Infinity,
        timer: undefined,
        timerDue: 0,
        sending: undefined,
        failures: 0,
      };
      this.agents.set(key, a);
    }
    return a;
  }

  private schedule(a: AgentBuffer): void {
    // Heartbeats alone never cause a signal: they ride along with the next one.
    if (this.closed || a.sending || !worthSending(a)) return;
    const now = this.now();
    const retryMs = a.failures > 0 ? Math.min(10_000, 250 * 2 ** (a.failures - 1)) : 0;
    const due = a.urgent ? now + retryMs : Math.max(a.lastSignalAt + this.o.digestMs(), now + retryMs);
    if (due <= now) {
      this.timers.clear(a.timer);
      a.timer = undefined;
      void this.flush(a);
      return;
    }
    if (a.timer && a.timerDue <= due) return;
    this.timers.clear(a.timer);
    a.timerDue = due;
    a.timer = this.timers.set(() => {
      a.timer = undefined;
      void this.flush(a);
    }, due - now);
  }

  private flush(a: AgentBuffer): Promise<void> {
    const batch: Batch = {
      tenant: a.tenant,
      agentId: a.agentId,
      events: a.events,
      devices: a.devices,
      pendingIds: a.pendingIds,
    };
    if (!a.urgent) this.stats.digests++;
    a.events = [];
    a.devices = [];
    a.pendingIds = [];
    a.urgent = false;
    a.lastSignalAt = this.now();
    a.sending = this.sendParts(splitBatch(batch, this.o.maxSignalBytes))
      .then((failed) => {
        if (!failed) {
          a.failures = 0;
          return;
        }
        const { err, unsent } = failed;
        a.failures++;
        this.stats.failures++;
        this.o.onError?.(err, unsent);
        // Put what did not go back in front of anything that arrived meanwhile, in order.
        a.events = [...unsent.events, ...a.events];
        a.devices = [...unsent.devices, ...a.devices];
        a.pendingIds = [...unsent.pendingIds, ...a.pendingIds];
        a.urgent = a.urgent || unsent.devices.length > 0 || unsent.pendingIds.length > 0;
      })
      .finally(() => {
        a.sending = undefined;
        if (worthSending(a)) this.schedule(a);
      });
    return a.sending;
  }

  /** One part after the other; on a failure, the error and the parts not delivered, merged. */
  private async sendParts(parts: Batch[]): Promise<{ err: unknown; unsent: Batch } | undefined> {
    for (const [i, part] of parts.entries()) {
      this.stats.signals++;
      try {
        await this.o.send(part);
      } catch (err) {
        return { err, unsent: mergeBatches(parts.slice(i)) };
      }
      this.stats.eventsForwarded += part.events.length;
    }
    return undefined;
  }
}

/**
 * Splits a batch into signals of at most `maxBytes` of JSON each, in the order the workflow applies
 * one batch (core.ts `signal`): connects, events, disconnects. Only the last part carries the intake
 * rows, so they are deleted once every part was delivered. An item over the budget goes alone.
 */
export function splitBatch(b: Batch, maxBytes = MAX_SIGNAL_BYTES): Batch[] {
  if (signalBytes(b) <= maxBytes) return [b];
  type Unit = { event: AgentEvent } | { device: DeviceChange };
  const units: Unit[] = [
    ...b.devices.filter((d) => d.connected).map((device) => ({ device })),
    ...b.events.map((event) => ({ event })),
    ...b.devices.filter((d) => !d.connected).map((device) => ({ device })),
  ];
  const empty = (): Batch => ({ tenant: b.tenant, agentId: b.agentId, events: [], devices: [], pendingIds: [] });
  const parts: Batch[] = [empty()];
  let size = EMPTY_SIGNAL_BYTES;
  for (const u of units) {
    // Each item also costs the comma before it.
    const n = Buffer.byteLength(JSON.stringify('event' in u ? u.event : u.device)) + 1;
    const part = parts.at(-1)!;
    if (size + n > maxBytes && part.events.length + part.devices.length > 0) {
      parts.push(empty());
      size = EMPTY_SIGNAL_BYTES;
    }
    if ('event' in u) parts.at(-1)!.events.push(u.event);
    else parts.at(-1)!.devices.push(u.device);
    size += n;
  }
  parts.at(-1)!.pendingIds = [...b.pendingIds];
  return parts;
}

const EMPTY_SIGNAL_BYTES = Buffer.byteLength(JSON.stringify({ events: [], devices: [] }));

/** What one batch weighs as a signal payload (JSON, UTF-8). */
export function signalBytes(b: Pick<Batch, 'events' | 'devices'>): number {
  return Buffer.byteLength(JSON.stringify({ events: b.events, devices: b.devices }));
}

function mergeBatches(parts: Batch[]): Batch {
  const first = parts[0]!;
  return {
    tenant: first.tenant,
    agentId: first.agentId,
    events: parts.flatMap((p) => p.events),
    devices: parts.flatMap((p) => p.devices),
    pendingIds: parts.flatMap((p) => p.pendingIds),
  };
}

/** Anything but heartbeats: a heartbeat's only fact (the device is there) is already in HCM. */
function worthSending(a: AgentBuffer): boolean {
  return (
    a.devices.length > 0 || a.pendingIds.length > 0 || a.urgent || a.events.some((e) => e.type !== EventType.HEARTBEAT)
  );
}
