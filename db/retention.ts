// Retention: what the `vigil-retention` schedule deletes, in batches of at most `batch` rows per
// statement (each its own short transaction, so no long locks), until nothing is left or the time
// budget is spent (the next run goes on). README "Limits and retention" has the policy.
import type { Queryable } from './pool.ts';
import { dropRecordBefore } from './record.ts';

export interface RetentionPolicy {
  /** Outbox rows (with their deliveries) once every lane is done: this many days after commit. */
  outboxDays: number;
  /** An outbox row with a dead letter stays until the dead letter is this many days old. */
  deadLetterDays: number;
  /** unified_work_status_log rows (the newest row of each agent always stays). */
  statusLogDays: number;
  /** status_feed rows. */
  feedDays: number;
  /** push_messages rows (docs/PROTOCOL.md promises at least 10 minutes for GET /v1/messages). */
  pushMinutes: number;
  /** event_dedupe rows: a reqId resent later than this is accepted again. */
  dedupeHours: number;
  /** Closed tasks (open ones are facts and always stay). */
  closedTaskDays: number;
  /** Days of the activity record (README "Rule simulator"), dropped a whole day at a time. */
  activityDays: number;
  /** Rows per DELETE statement. */
  batch: number;
  /** Stop starting new statements after this long; the next run continues. */
  budgetMs: number;
}

export type RetentionTable =
  'outbox' | 'statusLog' | 'feed' | 'push' | 'dedupe' | 'closedTasks' | 'heldWindows' | 'recoverySteps' | 'recordDays';

export interface RetentionResult {
  deleted: Record<RetentionTable, number>;
  /** Statements run. */
  statements: number;
  /** The budget ran out before every table was done. */
  more: boolean;
}

const DAY = 86_400;

/** Deletes what the policy no longer keeps; never a pending delivery, a young dead letter or an agent's newest status rows. */
export async function applyRetention(
  db: Queryable,
  p: RetentionPolicy,
  o: { now?: () => number; onBatch?: (table: RetentionTable, deleted: number) => void } = {},
): Promise<RetentionResult> {
  const now = o.now ?? Date.now;
  const until = now() + p.budgetMs;
  const deleted: Record<RetentionTable, number> = {
    outbox: 0,
    statusLog: 0,
    feed: 0,
    push: 0,
    dedupe: 0,
    closedTasks: 0,
    heldWindows: 0,
    recoverySteps: 0,
    recordDays: 0,
  };
  let statements = 0;
  const spent = () => now() >= until;

  /** Runs `step` until it reports it is done or the budget is spent; returns whether it finished. */
  async function loop(table: RetentionTable, step: () => Promise<{ n: number; done: boolean }>): Promise<boolean> {
    for (;;) {
      if (spent()) return false;
      const r = await step();
      statements++;
      deleted[table] += r.n;
      o.onBatch?.(table, r.n);
      if (r.done) return true;
    }
  }

  /** Rows found by a time index, all of them deletable: `DELETE … WHERE ctid IN (… LIMIT batch)`. */
  const byAge = (table: RetentionTable, sql: string, ageSec: number) =>
    loop(table, async () => {
      const r = await db.query(sql, [ageSec, p.batch]);
      const n = r.rowCount ?? 0;
      return { n, done: n < p.batch };
    });

  /**
   * Rows some of which must stay (keep conditions in `eligible`): walk the id range once, in key
   * order from `cursor`, a batch at a time, so rows that stay are looked at once per run.
   */
  async function byKey(
    table: RetentionTable,
    t: { table: string; key: string; age: string; ageSec: number; eligible: string; extra?: unknown[] },
  ): Promise<boolean> {
    if (spent()) return false;
    const { rows } = await db.query<{ hi: number | null }>(
      `SELECT max(${t.key}) AS hi FROM ${t.table} WHERE ${t.age} < now() - make_interval(secs => $1)`,
      [t.ageSec],
    );
    statements++;
    const hi = rows[0]?.hi;
    if (hi === null || hi === undefined) return true;
    let cursor = 0;
    return loop(table, async () => {
      const r = await db.query<{ last: number | null; n: number }>(
        `WITH batch AS (
           SELECT ${t.key} AS k FROM ${t.table} WHERE ${t.key} > $3 AND ${t.key} <= $4 ORDER BY ${t.key} LIMIT $2),
         gone AS (
           DELETE FROM ${t.table} x USING batch b
            WHERE x.${t.key} = b.k AND x.${t.age} < now() - make_interval(secs => $1) AND (${t.eligible})
            RETURNING 1)
         SELECT (SELECT max(k) FROM batch) AS last, (SELECT count(*)::int FROM gone) AS n`,
        [t.ageSec, p.batch, cursor, hi, ...(t.extra ?? [])],
      );
      const { last, n } = r.rows[0]!;
      if (last === null) return { n, done: true };
      cursor = last;
      return { n, done: last >= hi };
    });
  }

  const finished = [
    // Outbox rows whose every lane is done, or dead for longer than dead letters are kept. The newest
    // status row of each agent stays: reconciliation re-sends it to a webhook that is behind.
    await byKey('outbox', {
      table: 'status_change_outbox',
      key: 'id',
      age: 'created_at',
      ageSec: p.outboxDays * DAY,
      eligible: `NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.outbox_id = x.id
                              AND (d.state = 'pending' OR (d.state = 'dead' AND d.next_attempt_at >= now() - make_interval(secs => $5))))
                 AND (x.topic <> 'status' OR EXISTS (SELECT 1 FROM status_change_outbox n
                       WHERE n.tenant = x.tenant AND n.agent_id = x.agent_id AND n.topic = 'status' AND n.version > x.version))`,
      extra: [p.deadLetterDays * DAY],
    }),
    // The newest log row of each agent stays: HCM answers a repeated commit of it (ALREADY_HANDLED) from there.
    await byKey('statusLog', {
      table: 'unified_work_status_log',
      key: 'id',
      age: 'committed_at',
      ageSec: p.statusLogDays * DAY,
      eligible: `EXISTS (SELECT 1 FROM unified_work_status_log n WHERE n.tenant = x.tenant AND n.agent_id = x.agent_id AND n.version > x.version)`,
    }),
    await byAge(
      'feed',
      `DELETE FROM status_feed WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM status_feed WHERE committed_at < now() - make_interval(secs => $1) LIMIT $2))`,
      p.feedDays * DAY,
    ),
    await byAge(
      'push',
      `DELETE FROM push_messages WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM push_messages WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))`,
      p.pushMinutes * 60,
    ),
    await byAge(
      'dedupe',
      `DELETE FROM event_dedupe WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM event_dedupe WHERE received_at < now() - make_interval(secs => $1) LIMIT $2))`,
      p.dedupeHours * 3600,
    ),
    // A closed task re-checked under its lock: an event may have reopened it since the batch was chosen.
    await byAge(
      'closedTasks',
      `DELETE FROM tasks WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM tasks WHERE state = 'closed' AND updated_at < now() - make_interval(secs => $1) LIMIT $2))
        AND state = 'closed' AND updated_at < now() - make_interval(secs => $1)`,
      p.closedTaskDays * DAY,
    ),
    // Windows held while input was degraded, once resolved: as long as the status log.
    await byAge(
      'heldWindows',
      `DELETE FROM held_candidates WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM held_candidates WHERE resolved_at < now() - make_interval(secs => $1) LIMIT $2))`,
      p.statusLogDays * DAY,
    ),
    // Fleet mode's recovery log (README "Fleet mode"): as long as the status log.
    await byAge(
      'recoverySteps',
      `DELETE FROM fleet_recovery_steps WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM fleet_recovery_steps WHERE at < now() - make_interval(secs => $1) LIMIT $2))`,
      p.statusLogDays * DAY,
    ),
    // The activity record: whole days (partitions) older than its retention.
    await loop('recordDays', async () => ({ n: await dropRecordBefore(db, p.activityDays), done: true })),
  ];
  return { deleted, statements, more: finished.includes(false) };
}
