// Push fan-out: the dispatcher's push lane writes push_messages and notifies 'vigil_push'; each
// gateway LISTENs and forwards a message to the agent's devices connected here (any gateway may
// hold some of them). A device that was away reads what it missed with `GET /v1/messages`.
import type pino from 'pino';
import type { Pool, PoolClient } from '../db/pool.ts';
import { getPushMessage, PUSH_CHANNEL } from '../db/push.ts';
import { idKey } from '../platform/ids.ts';
import type { GatewayMetrics } from './metrics.ts';

/** What a connected device looks like to the push side. */
export interface PushTarget {
  send(frame: object): void;
}

/** Pushes are replayed to a reconnecting device, and redelivered on a connection, this many minutes at most. */
export const PUSH_REPLAY_MIN = 15;

/** How long a lost LISTEN connection waits before it connects again. */
const RELISTEN_MS = 1000;

export class PushFanOut {
  private readonly targets = new Map<string, Set<PushTarget>>();
  private listener: PoolClient | undefined;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly metrics: GatewayMetrics,
    private readonly log: pino.Logger,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      const c = await this.pool.connect();
      this.listener = c;
      c.on('notification', (n) => void this.deliver(n.payload));
      c.on('error', (err) => {
        this.log.warn({ err }, 'push listener lost; reconnecting');
        c.release(true);
        if (this.listener === c) this.listener = undefined;
        setTimeout(() => void this.start(), RELISTEN_MS);
      });
      await c.query(`LISTEN ${PUSH_CHANNEL}`);
    } catch (err) {
      this.log.warn({ err }, 'push listener failed; retrying');
      setTimeout(() => void this.start(), RELISTEN_MS);
    }
  }

  stop(): void {
    this.stopped = true;
    this.listener?.release();
    this.listener = undefined;
  }

  add(tenant: string, agentId: string, t: PushTarget): void {
    const k = idKey(tenant, agentId);
    let s = this.targets.get(k);
    if (!s) this.targets.set(k, (s = new Set()));
    s.add(t);
  }

  remove(tenant: string, agentId: string, t: PushTarget): void {
    const k = idKey(tenant, agentId);
    const s = this.targets.get(k);
    s?.delete(t);
    if (s?.size === 0) this.targets.delete(k);
  }

  /** A notification `{tenant, agentId, seq}`: the message goes to the agent's devices here, if any. */
  private async deliver(payload: string | undefined): Promise<void> {
    try {
      const n = JSON.parse(payload ?? '{}') as { tenant?: string; agentId?: string; seq?: number };
      const targets = n.tenant && n.agentId ? this.targets.get(idKey(n.tenant, n.agentId)) : undefined;
      if (!targets || targets.size === 0 || n.seq === undefined) return;
      const msg = await getPushMessage(this.pool, n.seq);
      if (!msg) return;
      for (const t of targets) {
        t.send({ type: 'push', ...msg });
        this.metrics.pushes.inc();
      }
    } catch (err) {
      this.log.warn({ err }, 'push delivery failed');
    }
  }
}

/** A message offered by the replay and by the live fan-out within this long goes out once. */
const SAME_OFFER_MS = 1000;

/**
 * One connection's pushes awaiting their `ack` (README "The gateway", push): a message is sent
 * again every `timeoutMs` until acknowledged, and given up after `maxAgeMs` (it stays readable by
 * `GET /v1/messages` while kept). Offered by both the replay on reconnect and the live fan-out at
 * once it goes out once; offered again by the fan-out (reconciliation, a redrive) it goes out again.
 */
export class Outstanding {
  private readonly pending = new Map<number, { frame: object; first: number; at: number; via: 'live' | 'replay' }>();

  constructor(
    private readonly raw: (frame: object) => void,
    private readonly metrics: GatewayMetrics,
    private readonly o: { timeoutMs: number; maxAgeMs: number; now?: () => number },
  ) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Sends a push frame (`msgId` `m-<seq>`), from the live fan-out or the replay on reconnect. */
  push(frame: { msgId: string; [k: string]: unknown }, via: 'live' | 'replay' = 'live'): void {
    const seq = Number(frame.msgId.slice(2));
    const now = this.now();
    const p = this.pending.get(seq);
    if (p && p.via !== via && now - p.at < SAME_OFFER_MS) return;
    if (p) Object.assign(p, { at: now, via });
    else this.pending.set(seq, { frame, first: now, at: now, via });
    this.raw(frame);
    this.metrics.pushDeliveries.inc({ outcome: p ? 'redelivered' : 'sent' });
  }

  ack(seqs: number[]): void {
    for (const s of seqs) if (this.pending.delete(s)) this.metrics.pushDeliveries.inc({ outcome: 'acked' });
  }

  /** Sends again what waited longer than the timeout; gives up what is older than the maximum age. */
  sweep(): void {
    const now = this.now();
    for (const [seq, p] of this.pending) {
      if (now - p.first > this.o.maxAgeMs) {
        this.pending.delete(seq);
        this.metrics.pushDeliveries.inc({ outcome: 'expired' });
      } else if (now - p.at >= this.o.timeoutMs) {
        p.at = now;
        this.raw(p.frame);
        this.metrics.pushDeliveries.inc({ outcome: 'redelivered' });
      }
    }
  }

  get size(): number {
    return this.pending.size;
  }
}
