// Coalescing (DESIGN.md "Staying fast"): what can change state reaches the agent's workflow at once;
// pure activity and heartbeats wait for a trailing flush, so the workflow hears from an agent who
// keeps acting at most once per flush interval. The flush interval is far below the shortest
// activity window, and the first action after a quiet period goes at once, so no deadline moves.
import { EventType, isAction, type AgentEvent } from '../workflows/model.ts';

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

export interface CoalescerOptions {
  /** Current flush interval (it follows the rules). */
  flushMs(): number;
  /**
   * An action is sent at once when no action went out for this long (default: the flush interval).
   * Safe up to half the shortest activity window: a buffered action then still reaches the
   * workflow long before any deadline measured from the last action it knows.
   */
  quietMs?(): number;
  /** A buffer holding only heartbeats may wait this long (heartbeats are not actions; default: flush interval). */
  heartbeatHoldMs?(): number;
  /** Delivers a batch (signalWithStart); a rejection keeps the batch for a retry. */
  send(batch: Batch): Promise<void>;
  now?: () => number;
  /** Timer functions (default: the global ones); a simulation passes virtual ones. */
  timers?: { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };
  /** Every accepted frame is signalled at once on its own (for measuring what coalescing saves). */
  naive?: boolean;
  onError?: (err: unknown, batch: Batch) => void;
}

/** Heartbeats and pure activity can wait for the trailing flush; everything else is urgent. */
export function isCoalescable(type: number): boolean {
  return type === EventType.HEARTBEAT || (type >= 100 && type <= 105 && type !== EventType.STATUS_SWITCH);
}

interface AgentBuffer {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
  devices: DeviceChange[];
  pendingIds: number[];
  urgent: boolean;
  lastSignalAt: number;
  lastActionSentAt: number;
  timer: unknown;
  timerDue: number;
  sending: Promise<void> | undefined;
  failures: number;
}

export class Coalescer {
  readonly stats = { eventsIn: 0, eventsForwarded: 0, signals: 0, failures: 0 };
  private readonly agents = new Map<string, AgentBuffer>();
  private readonly now: () => number;
  private readonly timers: NonNullable<CoalescerOptions['timers']>;
  private closed = false;

  constructor(private readonly o: CoalescerOptions) {
    this.now = o.now ?? Date.now;
    this.timers = o.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
  }

  /** Events already durable in intake row `pendingId` (null when none of them was new). */
  accept(tenant: string, agentId: string, events: AgentEvent[], pendingId: number | null): void {
    if (events.length === 0 && pendingId === null) return;
    const a = this.buffer(tenant, agentId);
    const now = this.now();
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
    for (const e of events) {
      if (!isCoalescable(e.type)) a.urgent = true;
      else if (isAction(e.type) && now - a.lastActionSentAt >= (this.o.quietMs?.() ?? this.o.flushMs())) a.urgent = true;
      if (isCoalescable(e.type)) {
        // Only the latest action and the latest heartbeat matter to the windows.
        const action = isAction(e.type);
        const i = a.events.findIndex((x) => isCoalescable(x.type) && isAction(x.type) === action && x.deviceId === e.deviceId);
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
        else if (hasWork(a)) work.push(this.flush(a));
      }
      if (work.length === 0) return;
      await Promise.allSettled(work);
    }
  }

  /** Forgets agents quiet for longer than `idleMs` (and the flush interval), so memory follows activity. */
  prune(idleMs = 60_000): void {
    const cutoff = this.now() - Math.max(idleMs, this.o.flushMs());
    for (const [k, a] of this.agents) {
      if (!hasWork(a) && !a.timer && !a.sending && a.lastSignalAt < cutoff) this.agents.delete(k);
    }
  }

  get bufferedAgents(): number {
    let n = 0;
    for (const a of this.agents.values()) if (hasWork(a)) n++;
    return n;
  }

  private buffer(tenant: string, agentId: string): AgentBuffer {
    const key = `${tenant}\u0000${agentId}`;
    let a = this.agents.get(key);
    if (!a) {
      a = { tenant, agentId, events: [], devices: [], pendingIds: [], urgent: false, lastSignalAt: -Infinity, lastActionSentAt: -Infinity, timer: undefined, timerDue: 0, sending: undefined, failures: 0 };
      this.agents.set(key, a);
    }
    return a;
  }

  private schedule(a: AgentBuffer): void {
    if (this.closed || a.sending || !hasWork(a)) return;
    const retryMs = a.failures > 0 ? Math.min(10_000, 250 * 2 ** (a.failures - 1)) : 0;
    const onlyHeartbeats = a.devices.length === 0 && a.events.every((e) => e.type === EventType.HEARTBEAT);
    const interval = onlyHeartbeats ? Math.max(this.o.flushMs(), this.o.heartbeatHoldMs?.() ?? 0) : this.o.flushMs();
    const due = a.urgent && retryMs === 0 ? this.now() : Math.max(a.lastSignalAt + interval, this.now() + retryMs);
    const wait = Math.max(0, due - this.now());
    if (wait === 0 && a.urgent) {
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
    }, wait);
  }

  private flush(a: AgentBuffer): Promise<void> {
    const batch: Batch = { tenant: a.tenant, agentId: a.agentId, events: a.events, devices: a.devices, pendingIds: a.pendingIds };
    a.events = [];
    a.devices = [];
    a.pendingIds = [];
    a.urgent = false;
    const now = this.now();
    a.lastSignalAt = now;
    if (batch.events.some((e) => isAction(e.type))) a.lastActionSentAt = now;
    this.stats.signals++;
    a.sending = this.o.send(batch).then(
      () => {
        a.failures = 0;
        this.stats.eventsForwarded += batch.events.length;
      },
      (err) => {
        a.failures++;
        this.stats.failures++;
        this.o.onError?.(err, batch);
        // Put it back in front of anything that arrived meanwhile, in order.
        a.events = [...batch.events, ...a.events];
        a.devices = [...batch.devices, ...a.devices];
        a.pendingIds = [...batch.pendingIds, ...a.pendingIds];
        a.urgent = a.urgent || batch.devices.length > 0 || batch.events.some((e) => !isCoalescable(e.type));
      },
    ).finally(() => {
      a.sending = undefined;
      if (hasWork(a)) this.schedule(a);
    });
    return a.sending;
  }
}

function hasWork(a: AgentBuffer): boolean {
  return a.events.length > 0 || a.devices.length > 0 || a.pendingIds.length > 0;
}
