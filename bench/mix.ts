// The two workloads `npm run bench` can drive. `stress` compresses the windows 8–20× and sends about
// 3× the reference fleet's event rate: it says how fast windows can fire. `production` is the
// reference fleet's mix (≈ 0.085 events/s per agent) with the default windows: it says how many
// agents one box holds.
import { DEFAULT_RULE } from '../workflows/model.ts';

export type Kind = 'active' | 'silent' | 'flaky';

/** Seconds as [min, max] of a uniform draw. */
export type Range = readonly [number, number];

export interface Behaviour {
  heartbeatSec: number;
  /** Share of agents of each kind, by position in 10 (e.g. 0–7 active, 8 silent, 9 flaky). */
  kindOf(index: number): Kind;
  /** Clicks, keys, URL changes: `burstSize` of them, the next burst after `burstGapSec`. */
  burstSize: Range;
  burstGapSec: Range;
  /** Silent agents stop acting this long after their first welcome (heartbeats go on). */
  silentAfterSec: Range;
  /** Flaky agents drop their websocket once, this long after the first welcome… */
  dropAfterSec: Range;
  /** …and come back after this long with probability `returnShare` (never otherwise). */
  returnAfterSec: Range;
  returnShare: number;
  tickets:
    /** Per burst: open a ticket with p.open, reply with p.reply, complete with p.complete (stress). */
    | { kind: 'per-burst'; open: number; reply: number; complete: number; status: number }
    /** A ticket lifecycle on its own clock: open every `everySec`, reply and complete after delays. */
    | {
        kind: 'lifecycle';
        everySec: Range;
        replyAfterSec: Range;
        completeAfterSec: Range;
        breakEverySec: Range;
        breakSec: Range;
      };
}

export interface Mix {
  name: 'stress' | 'production';
  rule: {
    windows: {
      idleAfterNoTaskSec: number;
      remindAfterNoActionSec: number;
      abnormalAfterNoActionSec: number;
      offlineAfterAbnormalSec: number;
    };
    reminderLockSec: number;
    reconnectGraceSec: number;
  };
  behaviour: Behaviour;
  /** Agents log in over this many seconds (a shift starting), not all in the same second. */
  loginSpreadSec: number;
}

/** Windows compressed so that IDLE, reminders, ABNORMAL and OFFLINE all fire within minutes. */
export const STRESS: Mix = {
  name: 'stress',
  rule: {
    windows: {
      idleAfterNoTaskSec: 10,
      remindAfterNoActionSec: 40,
      abnormalAfterNoActionSec: 60,
      offlineAfterAbnormalSec: 30,
    },
    reminderLockSec: 840,
    reconnectGraceSec: 20,
  },
  behaviour: {
    heartbeatSec: 30,
    kindOf: (i) => (i % 10 < 7 ? 'active' : i % 10 < 9 ? 'silent' : 'flaky'),
    burstSize: [2, 9],
    burstGapSec: [5, 35],
    silentAfterSec: [0, 5],
    dropAfterSec: [10, 40],
    returnAfterSec: [2, 10],
    returnShare: 0.5,
    tickets: { kind: 'per-burst', open: 0.15, reply: 0.15, complete: 0.12, status: 0.05 },
  },
  loginSpreadSec: 45,
};

/**
 * The reference fleet: default windows (30 s / 8 / 10 / +10 min), a heartbeat every 30 s, bursts of
 * about five actions every 20–200 s, twelve tickets an hour (open, reply, complete) and a break
 * (BUSY, then ONLINE) about twice an hour. 80 % active, 10 % silent after their first burst (so the
 * reminder at 8 min, ABNORMAL at 10 and OFFLINE at 20 fire), 10 % flaky (drop once within 10 min;
 * 70 % come back inside the reconnect grace). Averages 0.084 events/s per agent (`expectedRate`).
 */
export const PRODUCTION: Mix = {
  name: 'production',
  rule: {
    windows: { ...DEFAULT_RULE.windows },
    reminderLockSec: DEFAULT_RULE.reminderLockSec,
    reconnectGraceSec: DEFAULT_RULE.reconnectGraceSec,
  },
  behaviour: {
    heartbeatSec: 30,
    kindOf: (i) => (i % 10 < 8 ? 'active' : i % 10 < 9 ? 'silent' : 'flaky'),
    burstSize: [2, 9],
    burstGapSec: [20, 200],
    silentAfterSec: [0, 5],
    dropAfterSec: [60, 600],
    returnAfterSec: [2, 15],
    returnShare: 0.7,
    tickets: {
      kind: 'lifecycle',
      everySec: [120, 480],
      replyAfterSec: [20, 120],
      completeAfterSec: [20, 120],
      breakEverySec: [900, 2700],
      breakSec: [60, 300],
    },
  },
  loginSpreadSec: 90,
};

export const MIXES = { stress: STRESS, production: PRODUCTION } as const;

const mean = ([a, b]: Range) => (a + b) / 2;

/** Events per second one agent sends on average under `b` (heartbeats, actions, tickets, breaks). */
export function expectedRate(b: Behaviour): number {
  const kinds = Array.from({ length: 10 }, (_, i) => b.kindOf(i));
  const share = (k: Kind) => kinds.filter((x) => x === k).length / 10;
  // Burst sizes are drawn as floor(uniform(min, max)): the mean is (min + max - 1) / 2.
  const actions = (b.burstSize[0] + b.burstSize[1] - 1) / 2 / (mean(b.burstGapSec) + 0.5);
  const t = b.tickets;
  const other =
    t.kind === 'lifecycle'
      ? 3 / mean(t.everySec) + 2 / (mean(t.breakEverySec) + mean(t.breakSec))
      : (t.open + t.reply + t.complete + t.status) / (mean(b.burstGapSec) + 0.5);
  const acting = share('active') + share('flaky');
  return 1 / b.heartbeatSec + acting * (actions + other);
}

/** The window a transition of `toStatus` waited for (ms), for lateness. */
export function windowMs(mix: Mix, toStatus: string): number | undefined {
  const w = mix.rule.windows;
  if (toStatus === 'IDLE') return w.idleAfterNoTaskSec * 1000;
  if (toStatus === 'ABNORMAL') return w.abnormalAfterNoActionSec * 1000;
  if (toStatus === 'OFFLINE') return w.offlineAfterAbnormalSec * 1000;
  return undefined;
}
