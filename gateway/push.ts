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
