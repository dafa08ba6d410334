// Lanes whose delivery is a Postgres write (feed, push): claim, deliver and mark in one
// transaction, so a crash anywhere in between delivers nothing and the rows stay pending.
import { claimInTransaction, markDone, markFailed, type ClaimedDelivery } from '../../db/deliveries.ts';
import { advisoryXactLock, inSavepoint, inTransaction, type Pool, type PoolClient } from '../../db/pool.ts';
import type { LaneHooks } from './hooks.ts';
import { afterFailure, errorText, type RetryPolicy } from './retry.ts';

export interface TxBatchOptions {
  lane: string;
  batch: number;
  retry: RetryPolicy;
  hooks: LaneHooks;
  /** Serialises the lane's transactions (the feed: seq order = the order rows became visible). */
  advisoryLock?: number;
  deliver(c: PoolClient, rows: ClaimedDelivery[]): Promise<void>;
}

/** One batch; returns how many rows it claimed. A failing batch is retried row by row (savepoints),
 * so one poisoned row backs off and dead-letters alone while the others go through. */
export async function dispatchTxBatch(pool: Pool, o: TxBatchOptions): Promise<number> {
  const done: ClaimedDelivery[] = [];
  const failed: boolean[] = [];
  const n = await inTransaction(pool, async (c) => {
    if (o.advisoryLock !== undefined) await advisoryXactLock(c, o.advisoryLock);
    const rows = await claimInTransaction(c, o.lane, o.batch);
    if (rows.length === 0) return 0;
    try {
      await inSavepoint(c, () => o.deliver(c, rows));
      done.push(...rows);
    } catch {
      for (const row of rows) {
        try {
          await inSavepoint(c, () => o.deliver(c, [row]));
          done.push(row);
        } catch (err) {
          const next = afterFailure(row.attempts, o.retry);
          await markFailed(c, o.lane, row.outboxId, { attempts: row.attempts, ...next, error: errorText(err) });
          failed.push(next.dead);
        }
      }
    }
    if (done.length)
      await markDone(
        c,
        o.lane,
        done.map((r) => r.outboxId),
        true,
      );
    return rows.length;
  });
  if (done.length)
    o.hooks.delivered(
      o.lane,
      done.map((r) => r.createdAt),
    );
  for (const dead of failed) o.hooks.failed(o.lane, dead);
  return n;
}
