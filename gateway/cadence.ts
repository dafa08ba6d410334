// Adaptive heartbeat cadence (README "Heartbeat cadence"): the gateway advises each websocket how often
// to send heartbeats, in `welcome` and later in `cadence` frames. Longer when this gateway holds many
// connections or its event loop lags, shorter for an agent near a deadline or whose frames are late,
// always within the configured bounds; a connection's advice changes only by more than a quarter and
// at most once per hold period, so it does not flap. The policy is pure (unit and property tested);
// CadenceAdvisor applies it to the live connections.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface CadenceBounds {
  /** The interval of an ordinary connection on a gateway with room to spare (VIGIL_HEARTBEAT_MS). */
  baseMs: number;
  minMs: number;
  maxMs: number;
}

export interface CadenceInput {
  /** Welcomed websockets on this gateway. */
  connections: number;
  /** Heartbeats a second this gateway aims to receive at most, from all its connections together. */
  budgetPerSec: number;
  /** Event-loop delay (p99 of the last sample), ms: the gateway's load. */
  lagMs: number;
  /** The agent is near a deadline (in ABNORMAL, or reminded and not acting since). */
  nearDeadline: boolean;
  /** The connection is under suspicion (its frames are late). */
  suspect: boolean;
}

/** Event-loop delay above which the gateway counts as loaded… */
export const LAG_HIGH_MS = 200;
/** …and stretches every interval by lag / LAG_HIGH_MS, at most this much. */
export const MAX_LOAD_FACTOR = 4;
/** The advice changes only when the new interval differs from the current one by more than this share. */
export const CHANGE_RATIO = 0.25;

/**
 * The interval a connection should have now. The fleet's share of the budget first (never below
 * base), stretched under load; then an agent near a deadline gets at most half the base interval and a
 * suspect one the minimum, unless the gateway is loaded (it protects itself first: shorter intervals
 * for many late connections would only load it more). Clamped to the bounds.
 */
export function targetInterval(b: CadenceBounds, x: CadenceInput): number {
  let ms = Math.max(b.baseMs, (Math.max(0, x.connections) / x.budgetPerSec) * 1000);
  const loaded = x.lagMs > LAG_HIGH_MS;
  if (loaded) ms *= Math.min(MAX_LOAD_FACTOR, x.lagMs / LAG_HIGH_MS);
  else if (x.suspect) ms = b.minMs;
  else if (x.nearDeadline) ms = Math.min(ms, Math.max(b.minMs, b.baseMs / 2));
  return Math.round(Math.min(b.maxMs, Math.max(b.minMs, ms)));
}

/** What a connection was last advised, and when. */
export interface Advice {
  ms: number;
  at: number;
}

/**
 * Hysteresis: the interval to advise now, or undefined to leave the advice as it is (changed less
 * than `holdMs` ago, or the target within CHANGE_RATIO of it).
 */
export function nextAdvice(current: Advice, target: number, now: number, holdMs: number): number | undefined {
  if (now - current.at < holdMs) return undefined;
  if (Math.abs(target - current.ms) <= CHANGE_RATIO * current.ms) return undefined;
  return target;
}

/** A frame this late (in advised intervals) puts its connection under suspicion. */
export const LATE_INTERVALS = 1.5;

/** A welcomed connection as the advisor sees it. */
export interface CadenceConn {
  /** Whose connection it is (for `AdvisorOptions.suspected`). */
  tenant: string;
  agentId: string;
  advice: Advice;
  /** When the connection last sent a frame. */
  heardAt: number;
  nearDeadline: boolean;
  /** Whether the client speaks a protocol with `cadence` frames (1.1 and later). */
  live: boolean;
  send(ms: number): void;
}

export interface AdvisorOptions {
  bounds: CadenceBounds;
  budgetPerSec: number;
  holdMs: number;
  /** The gateway's load; default: this process's event-loop delay (p99 since the last call). */
  lagMs?: () => number;
  /** A fleet-health suspicion (e.g. DEGRADED/MISSING) of the connection's agent, added to its lateness. */
  suspected?: (c: CadenceConn) => boolean;
  now?: () => number;
}

export class CadenceAdvisor {
  readonly stats = { changes: 0 };
  private readonly conns = new Set<CadenceConn>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lag: () => number;
  private readonly now: () => number;
  private lastLagMs = 0;
  private stopLag: (() => void) | undefined;

  constructor(private readonly o: AdvisorOptions) {
    this.now = o.now ?? Date.now;
    this.lag = o.lagMs ?? (() => 0);
  }

  /** Re-evaluated this often: a few times per hold period, at least every 15 s. */
  get everyMs(): number {
    return Math.max(100, Math.min(15_000, this.o.holdMs / 4));
  }

  start(): void {
    if (!this.o.lagMs) {
      const h = monitorEventLoopDelay({ resolution: 20 });
      h.enable();
      this.stopLag = () => h.disable();
      this.lag = () => {
        const p99 = h.count > 0 ? h.percentile(99) / 1e6 : 0;
        h.reset();
        return p99;
      };
    }
    this.timer = setInterval(() => this.evaluate(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopLag?.();
  }

  /** The interval a new connection is welcomed with; it is then advised with the others. */
  welcome(nearDeadline: boolean): number {
    return targetInterval(this.o.bounds, this.input(nearDeadline, false, this.conns.size + 1));
  }

  add(c: CadenceConn): void {
    this.conns.add(c);
  }

  remove(c: CadenceConn): void {
    this.conns.delete(c);
  }

  /** One pass over the connections; also callable from tests. */
  evaluate(): void {
    this.lastLagMs = this.lag();
    const now = this.now();
    for (const c of this.conns) {
      if (!c.live) continue;
      // Counted from the later of its last frame and its last advice (which re-armed its timer).
      const late = now - Math.max(c.heardAt, c.advice.at) > LATE_INTERVALS * c.advice.ms;
      const suspect = late || (this.o.suspected?.(c) ?? false);
      const target = targetInterval(this.o.bounds, this.input(c.nearDeadline, suspect, this.conns.size));
      const ms = nextAdvice(c.advice, target, now, this.o.holdMs);
      if (ms === undefined) continue;
      c.advice = { ms, at: now };
      this.stats.changes++;
      c.send(ms);
    }
  }

  private input(nearDeadline: boolean, suspect: boolean, connections: number): CadenceInput {
    return { connections, budgetPerSec: this.o.budgetPerSec, lagMs: this.lastLagMs, nearDeadline, suspect };
  }
}
