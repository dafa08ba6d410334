// HCM: the only place a status becomes a fact. Each commit is one Postgres transaction that locks
// the agent's status row, re-reads the facts, and writes status, log and outbox rows together —
// or rejects with a reason and the fresh facts.
import type pg from 'pg';
import { ensureAgent } from '../db/agents.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import { resolveRule } from '../db/rules.ts';
import { STATUS_CODE, type Candidate, type Facts, type HcmReply, type Reminder, type Status } from '../workflows/model.ts';
import { recheck, recheckReminder } from './recheck.ts';

export interface ReminderReply {
  sent: boolean;
  /** Why not: ACTIVITY_SINCE (the agent acted; the facts say when), REMINDER_LOCK, ALREADY_SENT. */
  reason?: string;
  facts: Facts;
}

export interface HcmActivities {
  loadFacts(a: { tenant: string; agentId: string }): Promise<Facts>;
  commitTransition(c: Candidate): Promise<HcmReply>;
  /** Engine 1 (replays of old histories only): false when the lock or an earlier reminder suppressed it. */
  sendReminder(r: Reminder): Promise<boolean>;
  /** Engine 2: rechecks the agent's last action and the lock, and answers with the facts. */
  remind(r: Reminder): Promise<ReminderReply>;
}

export interface HcmDeps {
  pool: Pool;
  /** Only agents of this region are committed here. */
  region: string;
  /** Called after each commit that wrote outbox rows (used to wake the dispatcher). */
  onOutbox?: () => void;
  /** Called once per call with its outcome (the worker's metrics). */
  onCall?: (activity: keyof HcmActivities, outcome: 'committed' | 'rejected' | 'invalid_input' | 'error') => void;
}

/**
 * Postgres refused the data itself (SQLSTATE class 22, data exception, or 23, integrity, except a
 * unique violation: a concurrent commit of the same window, which the next attempt answers as
 * ALREADY_HANDLED). Retrying cannot help, so the call ends as a rejection.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23]/.test(code) && code !== '23505';
}

interface StatusRow {
  status: Status;
  cause: string;
  since: Date;
  version: number;
  prior_status: Status | null;
  offline_by_window: boolean;
  last_action_at: Date | null;
  last_reminder_at: Date | null;
  region: string;
  business_line: string;
  skill_groups: string[];
}

async function lockFacts(c: pg.PoolClient, tenant: string, agentId: string) {
  const { rows } = await c.query<StatusRow>(
    `SELECT s.status, s.cause, s.since, s.version, s.prior_status, s.offline_by_window, s.last_action_at,
            s.last_reminder_at, a.region, a.business_line, a.skill_groups
       FROM status_table s JOIN agents a USING (tenant, agent_id)
      WHERE s.tenant = $1 AND s.agent_id = $2 FOR UPDATE OF s`,
    [tenant, agentId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { rows: t } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tasks WHERE tenant = $1 AND agent_id = $2 AND state = 'open'`,
    [tenant, agentId],
  );
  const rule = await resolveRule(c, tenant, agentId);
  const facts: Facts = {
    status: row.status,
    cause: row.cause as Facts['cause'],
    since: row.since.getTime(),
    version: row.version,
    priorStatus: row.prior_status,
    offlineByWindow: row.offline_by_window,
    taskCount: t[0]?.n ?? 0,
    rule,
    ...(row.last_action_at ? { lastActionAt: row.last_action_at.getTime() } : {}),
    lastReminderAt: row.last_reminder_at?.getTime() ?? null,
    businessLine: row.business_line,
    skillGroups: row.skill_groups,
  };
  return { row, facts };
}

const actorText = (c: Candidate) => `${c.actor.kind}:${c.actor.id}`;

export function createHcmActivities(deps: HcmDeps): HcmActivities {
  const { pool, region } = deps;

  const readFacts = (tenant: string, agentId: string) =>
    inTransaction(pool, async (c) => {
      await ensureAgent(c, tenant, agentId, region);
      return (await lockFacts(c, tenant, agentId))!.facts;
    });

  /** Runs one HCM call, ends a data error as INVALID_INPUT (with fresh facts) and counts the outcome. */
  async function guarded<T extends { facts: Facts }>(activity: keyof HcmActivities, a: { tenant: string; agentId: string }, run: () => Promise<T>, invalid: (facts: Facts) => T, ok: (r: T) => boolean): Promise<T> {
    try {
      const r = await run();
      deps.onCall?.(activity, ok(r) ? 'committed' : 'rejected');
      return r;
    } catch (err) {
      if (!isDataError(err)) {
        deps.onCall?.(activity, 'error');
        throw err;
      }
      deps.onCall?.(activity, 'invalid_input');
      return invalid(await readFacts(a.tenant, a.agentId));
    }
  }

  const remind = (r: Reminder): Promise<ReminderReply> =>
    guarded('remind', r, () => remindOnce(r), (facts) => ({ sent: false, reason: 'INVALID_INPUT', facts }), (x) => x.sent);

  async function remindOnce(r: Reminder): Promise<ReminderReply> {
    const reply = await inTransaction(pool, async (c): Promise<ReminderReply> => {
      await ensureAgent(c, r.tenant, r.agentId, region);
      const { facts } = (await lockFacts(c, r.tenant, r.agentId))!;
      const why = recheckReminder(r, facts, Date.now());
      if (why) return { sent: false, reason: why, facts };
      const { rowCount } = await c.query(
        `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
         VALUES ($1, $2, 'reminder', $3, $4, $5) ON CONFLICT DO NOTHING`,
        [r.tenant, r.agentId, facts.version, r.dedupeKey, JSON.stringify({
          cause: r.cause, lastActionAt: new Date(r.lastActionAt).toISOString(), lockSec: r.lockSec,
          status: facts.status,
        })],
      );
      if (!rowCount) return { sent: false, reason: 'ALREADY_SENT', facts };
      const { rows } = await c.query<{ at: Date }>(
        `UPDATE status_table SET last_reminder_at = now() WHERE tenant = $1 AND agent_id = $2 RETURNING last_reminder_at AS at`,
        [r.tenant, r.agentId],
      );
      return { sent: true, facts: { ...facts, lastReminderAt: rows[0]!.at.getTime() } };
    });
    if (reply.sent) deps.onOutbox?.();
    return reply;
  }

  return {
    async loadFacts({ tenant, agentId }) {
      try {
        return await readFacts(tenant, agentId);
      } catch (err) {
        deps.onCall?.('loadFacts', 'error');
        throw err;
      }
    },

    commitTransition: (cand) =>
      guarded('commitTransition', cand, () => commitOnce(cand), (facts) => ({ committed: false, candidate: cand, reason: 'INVALID_INPUT', facts }), (r) => r.committed),

    async sendReminder(r) {
      return (await remind(r)).sent;
    },

    remind,
  };

  async function commitOnce(cand: Candidate): Promise<HcmReply> {
    const reply = await inTransaction(pool, async (c): Promise<HcmReply> => {
      await ensureAgent(c, cand.tenant, cand.agentId, region);
      const { row, facts } = (await lockFacts(c, cand.tenant, cand.agentId))!;
      // Already handled (activity retry, workflow reset, replay): answer as the first time did.
      const { rowCount: seen } = await c.query(
        `SELECT 1 FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2 AND dedupe_key = $3`,
        [cand.tenant, cand.agentId, cand.dedupeKey],
      );
      if (seen) return { committed: false, candidate: cand, reason: 'ALREADY_HANDLED', facts };
      const why = recheck(cand, facts, row.region, region);
      if (why) return { committed: false, candidate: cand, reason: why, facts };

      const version = facts.version + 1;
      const priorStatus = cand.to === 'ABNORMAL' ? cand.from : null;
      const offlineByWindow = cand.to === 'OFFLINE' && cand.actor.kind === 'system';
      const { rows } = await c.query<{ since: Date }>(
        `UPDATE status_table SET status = $3, status_code = $4, cause = $5, actor = $6, since = now(),
                version = $7, prior_status = $8, offline_by_window = $9, rule_id = $10, rule_version = $11,
                updated_at = now()
          WHERE tenant = $1 AND agent_id = $2 RETURNING since`,
        [cand.tenant, cand.agentId, cand.to, STATUS_CODE[cand.to], cand.cause, actorText(cand), version,
          priorStatus, offlineByWindow, facts.rule.ruleId, facts.rule.version],
      );
      const since = rows[0]!.since;
      await c.query(
        `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor,
           reason, rule_id, rule_version, window_start, dedupe_key, basis, committed_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,to_timestamp($11 / 1000.0),$12,$13,$14)`,
        [cand.tenant, cand.agentId, version, cand.from, cand.to, cand.cause, actorText(cand), cand.reason ?? null,
          cand.ruleId, cand.ruleVersion, cand.windowStart, cand.dedupeKey, JSON.stringify(cand.basis), since],
      );
      await c.query(
        `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
         VALUES ($1, $2, 'status', $3, $4, $5)`,
        [cand.tenant, cand.agentId, version, cand.dedupeKey, JSON.stringify({
          from: cand.from, to: cand.to, status: cand.to, statusCode: STATUS_CODE[cand.to], cause: cand.cause,
          actor: actorText(cand), reason: cand.reason ?? null, since: since.toISOString(),
        })],
      );
      return {
        committed: true,
        candidate: cand,
        facts: { ...facts, status: cand.to, cause: cand.cause, since: since.getTime(), version, priorStatus, offlineByWindow },
      };
    });
    if (reply.committed) deps.onOutbox?.();
    return reply;
  }
}
