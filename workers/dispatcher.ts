// The outbox dispatcher's feed lane: moves committed status changes into `status_feed` in the
// order they became visible. Claims delivery rows (created in the HCM transaction, so a late
// commit is never skipped) and writes the feed under one advisory lock.
import type { Pool } from '../db/pool.ts';
import { inTransaction } from '../db/pool.ts';

const FEED_LOCK = 7_420_001;

/** One batch; returns how many rows it moved. */
export async function dispatchFeedOnce(pool: Pool, batch = 500): Promise<number> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [FEED_LOCK]);
    const { rows } = await c.query<{ outbox_id: number }>(
      `SELECT d.outbox_id FROM outbox_deliveries d
        WHERE d.lane = 'feed' AND d.state = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batch],
    );
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => r.outbox_id);
    await c.query(
      `INSERT INTO status_feed (event_id, tenant, agent_id, from_status, to_status, cause, actor, version, committed_at)
       SELECT o.event_id, o.tenant, o.agent_id, o.payload->>'from', o.payload->>'to', o.payload->>'cause',
              o.payload->>'actor', o.version, o.created_at
         FROM status_change_outbox o WHERE o.id = ANY($1::bigint[]) ORDER BY o.id
       ON CONFLICT (event_id) DO NOTHING`,
      [ids],
    );
    await c.query(
      `UPDATE outbox_deliveries SET state = 'done', delivered_at = now(), attempts = attempts + 1
        WHERE lane = 'feed' AND outbox_id = ANY($1::bigint[])`,
      [ids],
    );
    return ids.length;
  });
}

/** Polls until stopped; a full batch is followed at once by the next. */
export function runFeedLane(pool: Pool, opts: { idleMs?: number; onError?: (e: unknown) => void } = {}): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = await dispatchFeedOnce(pool).catch((e) => {
        opts.onError?.(e);
        return 0;
      });
      if (n === 0) await new Promise((r) => setTimeout(r, opts.idleMs ?? 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function readFeed(pool: Pool, tenant: string, after: number, limit: number) {
  const { rows } = await pool.query(
    `SELECT seq, event_id, agent_id, from_status, to_status, cause, actor, version, committed_at
       FROM status_feed WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [tenant, after, limit],
  );
  return rows.map((r) => ({
    seq: r.seq, eventId: r.event_id, agentId: r.agent_id, from: r.from_status, to: r.to_status,
    cause: r.cause, actor: r.actor, version: r.version, committedAt: r.committed_at.toISOString(),
  }));
}
