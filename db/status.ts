// status_table with its log (unified_work_status_log) and outbox (status_change_outbox): the rows
// HCM locks, re-reads and writes together in one transaction (activities/hcm.ts decides; these
// statements only read and write), and the committed status a workbench is welcomed with.
import type { Queryable } from './pool.ts';
import type { HealthState } from '../workflows/fleet.ts';
import type { Status } from '../workflows/model.ts';

/** An agent's status row with what HCM needs of its agents row, as locked for a commit. */
export interface LockedStatus {
  status: Status;
  cause: string;
  since: Date;
  version: number;
  priorStatus: Status | null;
  offlineByWindow: boolean;
  lastActionAt: Date | null;
  lastReminderAt: Date | null;
  region: string;
  businessLine: string;
  skillGroups: string[];
  kind: 'person' | 'service';
}

/** Locks the agent's status row for the caller's transaction; undefined when the agent has none. */
export async function lockStatus(c: Queryable, tenant: string, agentId: string): Promise<LockedStatus | undefined> {
  const { rows } = await c.query(
    `SELECT s.status, s.cause, s.since, s.version, s.prior_status, s.offline_by_window, s.last_action_at,
            s.last_reminder_at, a.region, a.business_line, a.skill_groups, a.kind
       FROM status_table s JOIN agents a USING (tenant, agent_id)
      WHERE s.tenant = $1 AND s.agent_id = $2 FOR UPDATE OF s`,
    [tenant, agentId],
  );
  const r = rows[0];
  return (
    r && {
      status: r.status,
      cause: r.cause,
      since: r.since,
      version: r.version,
      priorStatus: r.prior_status,
      offlineByWindow: r.offline_by_window,
      lastActionAt: r.last_action_at,
      lastReminderAt: r.last_reminder_at,
      region: r.region,
      businessLine: r.business_line,
      skillGroups: r.skill_groups,
      kind: r.kind,
    }
  );
}

/** Tickets the agent holds open. */
export async function openTaskCount(db: Queryable, tenant: string, agentId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tasks WHERE tenant = $1 AND agent_id = $2 AND state = 'open'`,
    [tenant, agentId],
  );
  return rows[0]?.n ?? 0;
}

/** Whether a change with this dedupe key was already committed (activity retry, workflow reset, replay). */
export async function transitionCommitted(
  c: Queryable,
  tenant: string,
  agentId: string,
  dedupeKey: string,
): Promise<boolean> {
  const { rowCount } = await c.query(
    `SELECT 1 FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2 AND dedupe_key = $3`,
    [tenant, agentId, dedupeKey],
  );
  return (rowCount ?? 0) > 0;
}

export interface Transition {
  tenant: string;
  agentId: string;
  /** A person's status, or an instance's health (README "Fleet mode"). */
  from: Status | HealthState;
  to: Status | HealthState;
  statusCode: number;
  cause: string;
  /** `kind:id`. */
  actor: string;
  reason: string | null;
  version: number;
  priorStatus: Status | null;
  offlineByWindow: boolean;
  /** The rule the status row records (HCM's facts) and the one the candidate was decided under. */
  rule: { ruleId: string; version: number };
  candidateRule: { ruleId: string; version: number };
  windowStart: number;
  dedupeKey: string;
  basis: unknown;
  /** When the status began, if not now: a window HCM held while input was degraded begins when it closed. */
  since?: Date;
  /** The region of the worker that committed it (the owner then). */
  region?: string;
}

/**
 * Writes a decided change: the status row, its log row and its 'status' outbox row (whose trigger
 * creates the delivery rows of every lane). Answers the change's `since`: the commit time, or `t.since`
 * (the log's committed_at stays the commit time).
 */
export async function writeTransition(c: Queryable, t: Transition): Promise<Date> {
  const { rows } = await c.query<{ since: Date }>(
    `UPDATE status_table SET status = $3, status_code = $4, cause = $5, actor = $6,
            since = coalesce($12::timestamptz, now()), version = $7, prior_status = $8, offline_by_window = $9,
            rule_id = $10, rule_version = $11, updated_at = now()
      WHERE tenant = $1 AND agent_id = $2 RETURNING since`,
    [
      t.tenant,
      t.agentId,
      t.to,
      t.statusCode,
      t.cause,
      t.actor,
      t.version,
      t.priorStatus,
      t.offlineByWindow,
      t.rule.ruleId,
      t.rule.version,
      t.since ?? null,
    ],
  );
  const since = rows[0]!.since;
  await c.query(
    `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor,
       reason, rule_id, rule_version, window_start, dedupe_key, basis, committed_at, region)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,to_timestamp($11 / 1000.0),$12,$13,now(),$14)`,
    [
      t.tenant,
      t.agentId,
      t.version,
      t.from,
      t.to,
      t.cause,
      t.actor,
      t.reason,
      t.candidateRule.ruleId,
      t.candidateRule.version,
      t.windowStart,
      t.dedupeKey,
      JSON.stringify(t.basis),
      t.region ?? null,
    ],
  );
  await c.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
     VALUES ($1, $2, 'status', $3, $4, $5)`,
    [
      t.tenant,
      t.agentId,
      t.version,
      t.dedupeKey,
      JSON.stringify({
        from: t.from,
        to: t.to,
        status: t.to,
        statusCode: t.statusCode,
        cause: t.cause,
        actor: t.actor,
        reason: t.reason,
        since: since.toISOString(),
      }),
    ],
  );
  return since;
}

/**
 * Writes a reminder's outbox row (at most once per dedupe key) and stamps the status row; answers
 * the reminder's time, or undefined when this key was already sent.
 */
export async function writeReminder(
  c: Queryable,
  r: { tenant: string; agentId: string; version: number; dedupeKey: string; payload: object },
): Promise<Date | undefined> {
  const { rowCount } = await c.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
     VALUES ($1, $2, 'reminder', $3, $4, $5) ON CONFLICT DO NOTHING`,
    [r.tenant, r.agentId, r.version, r.dedupeKey, JSON.stringify(r.payload)],
  );
  if (!rowCount) return undefined;
  const { rows } = await c.query<{ at: Date }>(
    `UPDATE status_table SET last_reminder_at = now() WHERE tenant = $1 AND agent_id = $2 RETURNING last_reminder_at AS at`,
    [r.tenant, r.agentId],
  );
  return rows[0]!.at;
}

/** The committed status as a workbench is welcomed with it; undefined for an agent never seen. */
export async function currentStatus(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<{ status: Status; since: Date; cause: string } | undefined> {
  const { rows } = await db.query<{ status: Status; since: Date; cause: string }>(
    'SELECT status, since, cause FROM status_table WHERE tenant = $1 AND agent_id = $2',
    [tenant, agentId],
  );
  return rows[0];
}
