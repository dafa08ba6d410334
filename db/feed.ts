// status_feed: the ordered per-tenant feed of committed status changes that `GET /v1/status-changes`
// serves; the feed lane copies outbox rows into it.
import type { Queryable } from './pool.ts';

export interface FeedEntry {
  seq: number;
  eventId: string;
  agentId: string;
  from: string;
  to: string;
  cause: string;
  actor: string;
  version: number;
  committedAt: string;
}

/** Appends the status outbox rows to the feed (at most once per event), in outbox order. */
export async function appendToFeed(c: Queryable, outboxIds: number[]): Promise<void> {
  await c.query(
    `INSERT INTO status_feed (event_id, tenant, agent_id, from_status, to_status, cause, actor, version, committed_at)
     SELECT o.event_id, o.tenant, o.agent_id, o.payload->>'from', o.payload->>'to', o.payload->>'cause',
            o.payload->>'actor', o.version, o.created_at
       FROM status_change_outbox o WHERE o.id = ANY($1::bigint[]) ORDER BY o.id
     ON CONFLICT (event_id) DO NOTHING`,
    [outboxIds],
  );
}

/** The tenant's newest feed seq (0 without any): where a reader that starts now goes on from. */
export async function latestFeedSeq(db: Queryable, tenant: string): Promise<number> {
  const { rows } = await db.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM status_feed WHERE tenant = $1', [
    tenant,
  ]);
  return rows[0]?.seq ?? 0;
}

/** The tenant's feed entries after `after`, oldest first. */
export async function readFeed(db: Queryable, tenant: string, after: number, limit: number): Promise<FeedEntry[]> {
  const { rows } = await db.query(
    `SELECT seq, event_id, agent_id, from_status, to_status, cause, actor, version, committed_at
       FROM status_feed WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [tenant, after, limit],
  );
  return rows.map((r) => ({
    seq: r.seq,
    eventId: r.event_id,
    agentId: r.agent_id,
    from: r.from_status,
    to: r.to_status,
    cause: r.cause,
    actor: r.actor,
    version: r.version,
    committedAt: r.committed_at.toISOString(),
  }));
}
