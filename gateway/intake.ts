// Durable intake with group commit: events of every frame that arrives while a transaction is in
// flight share the next transaction, so a receipt costs a share of one commit, not one of its own.
// Every receipt follows the commit of the frame's facts (last action at the gateway's clock, open
// tasks, reqIds). A frame the workflow must hear of at once (`mustSignalNow`) is also written to
// intake_pending in that transaction, so it reaches the workflow even if this gateway dies.
// One frame Postgres refuses cannot fail its neighbours: the batch is split until it stands alone.
import { inTransaction, type Pool } from '../db/pool.ts';
import { recordIntake, type IntakeResult } from '../db/intake.ts';
import { mustSignalNow } from './coalescer.ts';
import type { AgentEvent } from '../workflows/model.ts';

export type Persisted = IntakeResult;

/** Postgres refused this frame's data itself; resending it cannot help, so it is rejected, not retried. */
export class RefusedInput extends Error {
  constructor(readonly sqlState: string) {
    super(`could not be stored: ${refusalReason(sqlState)}`);
    this.name = 'RefusedInput';
  }
}

interface Item {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
  resolve(p: Persisted): void;
  reject(e: unknown): void;
}

export class IntakeWriter {
  readonly stats = { commits: 0, frames: 0, splits: 0, refused: 0 };
  private queue: Item[] = [];
  private running = false;

  constructor(
    private readonly pool: Pool,
    private readonly gatewayId: string,
    private readonly maxBatch = 500,
  ) {}

  submit(tenant: string, agentId: string, events: AgentEvent[]): Promise<Persisted> {
    if (events.length === 0) {
      return Promise.resolve({
        fresh: [],
        duplicates: [],
        pendingId: null,
        urgent: false,
        facts: { status: null, offlineByWindow: false, tasksBefore: 0, tasksAfter: 0 },
      });
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ tenant, agentId, events, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.settle(this.queue.splice(0, this.maxBatch));
    } finally {
      this.running = false;
    }
  }

  /**
   * Commits the items together (the common case: one set-based transaction). When Postgres refuses
   * the data, the halves are committed on their own, down to the one frame it refuses, so a bad
   * frame costs about 2·log2(n) extra transactions and no neighbour is held back. Anything else
   * (Postgres unreachable, a deadlock) fails the whole batch: every frame is retried by its client.
   */
  private async settle(items: Item[]): Promise<void> {
    try {
      const results = await this.commit(items);
      items.forEach((it, i) => it.resolve(results[i]!));
    } catch (err) {
      if (!isDataError(err)) {
        for (const it of items) it.reject(err);
        return;
      }
      if (items.length === 1) {
        this.stats.refused++;
        items[0]!.reject(new RefusedInput(err.code));
        return;
      }
      this.stats.splits++;
      // In order, so one agent's frames still commit in arrival order.
      const half = Math.ceil(items.length / 2);
      await this.settle(items.slice(0, half));
      await this.settle(items.slice(half));
    }
  }

  private async commit(items: Item[]): Promise<Persisted[]> {
    const out = await inTransaction(this.pool, (c) =>
      recordIntake(c, items, { gatewayId: this.gatewayId, mustSignal: mustSignalNow }),
    );
    this.stats.commits++;
    this.stats.frames += items.length;
    return out;
  }
}

/**
 * SQLSTATE classes that blame the data, not the database: 22 data exception (a value out of range
 * or malformed), 23 integrity constraint violation, 54 program limit exceeded (a value too large).
 */
function isDataError(err: unknown): err is { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

function refusalReason(sqlState: string): string {
  if (sqlState.startsWith('22')) return 'a value is out of range or malformed';
  if (sqlState.startsWith('23')) return 'a value breaks a data constraint';
  return 'a value is too large';
}
