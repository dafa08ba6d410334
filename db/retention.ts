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

  /**
   * Rows of `t.table` whose `t.age` column is older than `ageSec`, found by a time index, all of
   * them deletable: `DELETE … WHERE ctid IN (… LIMIT batch)`. `t.also`: a further condition, checked
   * again with the age on the row under its lock (something may have changed it since the batch was chosen).
   */
  const byAge = (name: RetentionTable, t: { table: string; age: string; also?: string }, ageSec: number) => {
    const old = `${t.age} < now() - make_interval(secs => $1)`;
    const where = t.also ? `${t.also} AND ${old}` : old;
    const sql = `DELETE FROM ${t.table} WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM ${t.table} WHERE ${where} LIMIT $2))${t.also ? `\n        AND ${where}` : ''}`;
    return loop(name, async () => {
      const r = await db.query(sql, [ageSec, p.batch]);
      const n = r.rowCount ?? 0;
      return { n, done: n < p.batch };
    });
  };

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
    await byAge('feed', { table: 'status_feed', age: 'committed_at' }, p.feedDays * DAY),
    await byAge('push', { table: 'push_messages', age: 'created_at' }, p.pushMinutes * 60),
    await byAge('dedupe', { table: 'event_dedupe', age: 'received_at' }, p.dedupeHours * 3600),
    // A closed task re-checked under its lock: an event may have reopened it since the batch was chosen.
    await byAge('closedTasks', { table: 'tasks', age: 'updated_at', also: "state = 'closed'" }, p.closedTaskDays * DAY),
    // Windows held while input was degraded, once resolved: as long as the status log.
    await byAge('heldWindows', { table: 'held_candidates', age: 'resolved_at' }, p.statusLogDays * DAY),
    // Fleet mode's recovery log (README "Fleet mode"): as long as the status log.
    await byAge('recoverySteps', { table: 'fleet_recovery_steps', age: 'at' }, p.statusLogDays * DAY),
    // The activity record: whole days (partitions) older than its retention.
    await loop('recordDays', async () => ({ n: await dropRecordBefore(db, p.activityDays), done: true })),
  ];
  return { deleted, statements, more: finished.includes(false) };
}
