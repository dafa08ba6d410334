// Durable intake with group commit: events of every frame that arrives while a transaction is in
// flight share the next transaction, so a receipt costs a share of one commit, not one of its own.
// Every receipt follows the commit of the frame's facts (last action at the gateway's clock, open
// tasks, reqIds). A frame the workflow must hear of at once (`mustSignalNow`) is also written to
// intake_pending in that transaction, so it reaches the workflow even if this gateway dies.
import { inTransaction, type Pool } from '../db/pool.ts';
import { recordIntake, type IntakeResult } from '../db/intake.ts';
import { mustSignalNow } from './coalescer.ts';
import type { AgentEvent } from '../workflows/model.ts';

export type Persisted = IntakeResult;

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
    if (events.length === 0) {
      return Promise.resolve({ fresh: [], duplicates: [], pendingId: null, urgent: false, facts: { status: null, offlineByWindow: false, tasksBefore: 0, tasksAfter: 0 } });
    }
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
    const out = await inTransaction(this.pool, (c) => recordIntake(c, items, { gatewayId: this.gatewayId, mustSignal: mustSignalNow }));
    this.stats.commits++;
    this.stats.frames += items.length;
    return out;
  }
}

/** Forgets intake rows whose events the workflow has. */
export async function deletePending(pool: Pool, ids: number[]): Promise<void> {
  if (ids.length > 0) await pool.query('DELETE FROM intake_pending WHERE id = ANY($1::bigint[])', [ids]);
}
