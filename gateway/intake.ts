// Durable intake with group commit: events of every frame that arrives while a transaction is in
// flight share the next transaction, so a receipt costs a share of one commit, not one of its own.
// A frame's new events are written to intake_pending in the same transaction as their reqIds, so
// once the receipt is out they reach the workflow even if this gateway dies (the sweeper sends them).
import type { Pool } from '../db/pool.ts';
import { recordEvents } from '../db/intake.ts';
import type { AgentEvent } from '../workflows/model.ts';

export interface Persisted {
  /** The events that were new (others were duplicates), in frame order. */
  fresh: AgentEvent[];
  duplicates: string[];
  /** The intake row holding `fresh`; null when nothing was new. */
  pendingId: number | null;
}

interface Item {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
  resolve(p: Persisted): void;
  reject(e: unknown): void;
}

export class IntakeWriter {
  readonly stats = { commits: 0, frames: 0 };
  private queue: Item[] = [];
  private running = false;

  constructor(
    private readonly pool: Pool,
    private readonly gatewayId: string,
    private readonly maxBatch = 500,
  ) {}

  submit(tenant: string, agentId: string, events: AgentEvent[]): Promise<Persisted> {
    if (events.length === 0) return Promise.resolve({ fresh: [], duplicates: [], pendingId: null });
    return new Promise((resolve, reject) => {
      this.queue.push({ tenant, agentId, events, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const items = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.commit(items);
          items.forEach((it, i) => it.resolve(results[i]!));
        } catch (err) {
          for (const it of items) it.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(items: Item[]): Promise<Persisted[]> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out: Persisted[] = new Array(items.length);
      // One lock order for every gateway (stable, so one agent's frames keep theirs): no deadlocks.
      const order = items.map((_, i) => i).sort((x, y) => key(items[x]!).localeCompare(key(items[y]!)));
      for (const i of order) {
        const it = items[i]!;
        const freshIds = await recordEvents(c, it.tenant, it.agentId, it.events);
        const fresh = it.events.filter((e) => freshIds.has(e.reqId));
        const duplicates = it.events.filter((e) => !freshIds.has(e.reqId)).map((e) => e.reqId);
        let pendingId: number | null = null;
        if (fresh.length > 0) {
          const { rows } = await c.query<{ id: number }>(
            `INSERT INTO intake_pending (tenant, agent_id, gateway_id, events) VALUES ($1, $2, $3, $4) RETURNING id`,
            [it.tenant, it.agentId, this.gatewayId, JSON.stringify(fresh)],
          );
          pendingId = rows[0]!.id;
        }
        out[i] = { fresh, duplicates, pendingId };
      }
      await c.query('COMMIT');
      this.stats.commits++;
      this.stats.frames += items.length;
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}

const key = (it: Item) => `${it.tenant}\u0000${it.agentId}`;

/** Forgets intake rows whose events the workflow has. */
export async function deletePending(pool: Pool, ids: number[]): Promise<void> {
  if (ids.length > 0) await pool.query('DELETE FROM intake_pending WHERE id = ANY($1::bigint[])', [ids]);
}
