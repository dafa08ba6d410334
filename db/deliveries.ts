// outbox_deliveries: one row per (outbox row, lane) with its own attempts, backoff and dead letter.
import type { Queryable, Row } from './pool.ts';

export interface ClaimedDelivery {
  outboxId: number;
  /** Attempts including this one. */
  attempts: number;
  eventId: string;
  tenant: string;
  agentId: string;
  topic: 'status' | 'reminder';
  version: number;
  payload: Record<string, unknown>;
  createdAt: Date;
}

const toClaimed = (r: Row): ClaimedDelivery => ({
  outboxId: r.outbox_id,
  attempts: r.attempts,
  eventId: r.event_id,
  tenant: r.tenant,
  agentId: r.agent_id,
  topic: r.topic,
  version: r.version,
  payload: r.payload,
  createdAt: r.created_at,
});

/**
 * Claims due rows for delivery outside a transaction: the claim pushes `next_attempt_at` out by
 * `leaseMs` and counts the attempt, so a dispatcher that dies mid-delivery leaves the row due
 * again after the lease (redelivered with the same event id).
 */
export async function claimWithLease(
  db: Queryable,
  lane: string,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query(
    `UPDATE outbox_deliveries d
        SET attempts = d.attempts + 1, next_attempt_at = clock_timestamp() + $3 * interval '1 millisecond'
       FROM (SELECT outbox_id FROM outbox_deliveries
              WHERE lane = $1 AND state = 'pending' AND next_attempt_at <= clock_timestamp()
              ORDER BY outbox_id LIMIT $2 FOR UPDATE SKIP LOCKED) c,
            status_change_outbox o
      WHERE d.lane = $1 AND d.outbox_id = c.outbox_id AND o.id = d.outbox_id
      RETURNING d.outbox_id, d.attempts, o.event_id, o.tenant, o.agent_id, o.topic, o.version, o.payload, o.created_at`,
    [lane, limit, leaseMs],
  );
  return rows.map(toClaimed).sort((a, b) => a.outboxId - b.outboxId);
}

/** Claims due rows inside the caller's transaction (delivery and marking commit together). */
export async function claimInTransaction(c: Queryable, lane: string, limit: number): Promise<ClaimedDelivery[]> {
  const { rows } = await c.query(
    `SELECT d.outbox_id, d.attempts + 1 AS attempts, o.event_id, o.tenant, o.agent_id, o.topic, o.version, o.payload, o.created_at
       FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
      WHERE d.lane = $1 AND d.state = 'pending' AND d.next_attempt_at <= clock_timestamp()
      ORDER BY d.outbox_id LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
    [lane, limit],
  );
  return rows.map(toClaimed);
}

/** `countAttempt`: the claim did not count it (claims inside a transaction do not). */
export async function markDone(db: Queryable, lane: string, outboxIds: number[], countAttempt: boolean): Promise<void> {
  await db.query(
    `UPDATE outbox_deliveries SET state = 'done', delivered_at = clock_timestamp(), last_error = NULL,
            attempts = attempts + CASE WHEN $3 THEN 1 ELSE 0 END
      WHERE lane = $1 AND outbox_id = ANY($2::bigint[]) AND state = 'pending'`,
    [lane, outboxIds, countAttempt],
  );
}

/** Records a failed attempt: due again after `delayMs`, or dead when `dead`. */
export async function markFailed(
  db: Queryable,
  lane: string,
  outboxId: number,
  f: { attempts: number; dead: boolean; delayMs: number; error: string },
): Promise<void> {
  await db.query(
    `UPDATE outbox_deliveries
        SET attempts = $3, state = CASE WHEN $4 THEN 'dead' ELSE 'pending' END, last_error = left($6, 1000),
            next_attempt_at = clock_timestamp() + $5 * interval '1 millisecond'
      WHERE lane = $1 AND outbox_id = $2 AND state = 'pending'`,
    [lane, outboxId, f.attempts, f.dead, f.delayMs, f.error],
  );
}

export interface LaneHealth {
  lane: string;
  pending: number;
  oldestPendingSec: number;
  dead: number;
}

export async function laneHealth(db: Queryable): Promise<LaneHealth[]> {
  const { rows } = await db.query(
    `SELECT d.lane,
            count(*) FILTER (WHERE d.state = 'pending')::int AS pending,
            COALESCE(extract(epoch FROM clock_timestamp() - min(o.created_at) FILTER (WHERE d.state = 'pending')), 0)::float8 AS oldest,
            count(*) FILTER (WHERE d.state = 'dead')::int AS dead
       FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
      WHERE d.state <> 'done'
      GROUP BY d.lane`,
  );
  return rows.map((r) => ({ lane: r.lane, pending: r.pending, oldestPendingSec: r.oldest, dead: r.dead }));
}

export interface DeadLetter {
  lane: string;
  outboxId: number;
  eventId: string;
  agentId: string;
  topic: string;
  version: number;
  attempts: number;
  lastError: string | null;
  committedAt: string;
}

export async function listDeadLetters(
  db: Queryable,
  tenant: string,
  lane: string | undefined,
  limit: number,
): Promise<DeadLetter[]> {
  const { rows } = await db.query(
    `SELECT d.lane, d.outbox_id, o.event_id, o.agent_id, o.topic, o.version, d.attempts, d.last_error, o.created_at
       FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
      WHERE d.state = 'dead' AND o.tenant = $1 AND ($2::text IS NULL OR d.lane = $2)
      ORDER BY d.outbox_id LIMIT $3`,
    [tenant, lane ?? null, limit],
  );
  return rows.map((r) => ({
    lane: r.lane,
    outboxId: r.outbox_id,
    eventId: r.event_id,
    agentId: r.agent_id,
    topic: r.topic,
    version: r.version,
    attempts: r.attempts,
    lastError: r.last_error,
    committedAt: r.created_at.toISOString(),
  }));
}

/** Dead rows of the tenant's lane become pending again with fresh attempts; returns how many. */
export async function redriveDeadLetters(
  db: Queryable,
  tenant: string,
  lane: string,
  outboxIds?: number[],
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE outbox_deliveries d SET state = 'pending', attempts = 0, next_attempt_at = clock_timestamp(), last_error = NULL
       FROM status_change_outbox o
      WHERE o.id = d.outbox_id AND o.tenant = $1 AND d.lane = $2 AND d.state = 'dead'
        AND ($3::bigint[] IS NULL OR d.outbox_id = ANY($3::bigint[]))`,
    [tenant, lane, outboxIds ?? null],
  );
  return rowCount ?? 0;
}

/** Dispatchers LISTEN here; HCM commits notify it through a trigger unless the wake gate is open (migration 4). */
export const OUTBOX_CHANNEL = 'vigil_outbox';

/** Wakes the dispatchers' lanes: rows became due without a new outbox row (redrive, reconciliation). */
export async function notifyOutbox(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
}

/** Keeps the wake gate open `gateMs` from now: commits skip their notification while a hot dispatcher polls. */
export async function extendWakeGate(db: Queryable, gateMs: number): Promise<void> {
  await db.query(
    `UPDATE outbox_wake_gate SET hot_until = GREATEST(hot_until, clock_timestamp() + $1 * interval '1 millisecond')`,
    [gateMs],
  );
}

/** Closes the wake gate: commits notify again. */
export async function closeWakeGate(db: Queryable): Promise<void> {
  await db.query(`UPDATE outbox_wake_gate SET hot_until = '-infinity'`);
}

/** Lanes with rows due now (the hot dispatcher's scout). */
export async function lanesWithDueRows(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ lane: string }>(
    `SELECT DISTINCT lane FROM outbox_deliveries WHERE state = 'pending' AND next_attempt_at <= clock_timestamp()`,
  );
  return rows.map((r) => r.lane);
}
