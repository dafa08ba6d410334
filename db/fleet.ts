// Fleet mode (db/migrations/10_fleet.sql, README "Fleet mode"): instances' heartbeats as HCM facts,
// the recovery ladder's hooks and its log, and the fleet's health for GET /v1/fleet/health.
import type { Queryable, Row } from './pool.ts';

/** One instance's latest heartbeat, written by the intake transaction (gateway clock). */
export interface ServiceBeat {
  tenant: string;
  agentId: string;
  seq: number | null;
  metrics: Record<string, number> | null;
}

/** Upserts the latest heartbeat of each instance (one statement; rows in key order). */
export async function recordBeats(db: Queryable, beats: ServiceBeat[], now: number): Promise<void> {
  if (beats.length === 0) return;
  const sorted = [...beats].sort((a, b) => (a.tenant + a.agentId < b.tenant + b.agentId ? -1 : 1));
  await db.query(
    `INSERT INTO service_beats AS b (tenant, agent_id, beat_at, seq, metrics)
     SELECT v.tenant, v.agent_id, to_timestamp($5 / 1000.0), v.seq, coalesce(v.metrics, '{}')
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]) AS v(tenant, agent_id, seq, metrics)
     ON CONFLICT (tenant, agent_id) DO UPDATE SET beat_at = GREATEST(b.beat_at, EXCLUDED.beat_at),
        seq = EXCLUDED.seq, metrics = CASE WHEN EXCLUDED.metrics = '{}' THEN b.metrics ELSE EXCLUDED.metrics END`,
    [
      sorted.map((b) => b.tenant),
      sorted.map((b) => b.agentId),
      sorted.map((b) => b.seq),
      sorted.map((b) => (b.metrics ? JSON.stringify(b.metrics) : null)),
      now,
    ],
  );
}

/** HCM's last heartbeat of an instance, or undefined before its first. */
export async function lastBeat(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<{ at: number; seq: number | null } | undefined> {
  const { rows } = await db.query(`SELECT beat_at, seq FROM service_beats WHERE tenant = $1 AND agent_id = $2`, [
    tenant,
    agentId,
  ]);
  const r = rows[0];
  return r && { at: (r.beat_at as Date).getTime(), seq: r.seq };
}

export type RecoveryStepName = 'restart' | 'replace' | 'alert';

export interface FleetHook {
  step: RecoveryStepName;
  url: string;
  secret: string;
  enabled: boolean;
  updatedAt: string;
}

const toHook = (r: Row): FleetHook => ({
  step: r.step,
  url: r.url,
  secret: r.secret,
  enabled: r.enabled,
  updatedAt: (r.updated_at as Date).toISOString(),
});

export async function putHook(
  db: Queryable,
  tenant: string,
  h: { step: RecoveryStepName; url: string; secret?: string; enabled?: boolean },
): Promise<FleetHook | undefined> {
  const { rows } = await db.query(
    `INSERT INTO fleet_hooks AS h (tenant, step, url, secret, enabled) VALUES ($1, $2, $3, $4, coalesce($5, true))
     ON CONFLICT (tenant, step) DO UPDATE SET url = $3, secret = coalesce($4, h.secret),
        enabled = coalesce($5, h.enabled), updated_at = now()
     RETURNING *`,
    [tenant, h.step, h.url, h.secret ?? null, h.enabled ?? null],
  );
  return rows[0] && toHook(rows[0]);
}

export async function getHook(db: Queryable, tenant: string, step: RecoveryStepName): Promise<FleetHook | undefined> {
  const { rows } = await db.query(`SELECT * FROM fleet_hooks WHERE tenant = $1 AND step = $2`, [tenant, step]);
  return rows[0] && toHook(rows[0]);
}

export async function listHooks(db: Queryable, tenant: string): Promise<FleetHook[]> {
  const { rows } = await db.query(`SELECT * FROM fleet_hooks WHERE tenant = $1 ORDER BY step`, [tenant]);
  return rows.map(toHook);
}

export interface RecoveryRecord {
  tenant: string;
  agentId: string;
  incident: string;
  step: RecoveryStepName;
  outcome: 'done' | 'failed' | 'no hook' | 'abandoned';
  detail: string | null;
}

/** Records a step's outcome once (a retried activity or a replayed workflow writes it again: kept once). */
export async function recordStep(db: Queryable, r: RecoveryRecord): Promise<void> {
  await db.query(
    `INSERT INTO fleet_recovery_steps (tenant, agent_id, incident, step, outcome, detail)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [r.tenant, r.agentId, r.incident, r.step, r.outcome, r.detail],
  );
}

export async function listSteps(db: Queryable, tenant: string, agentId: string | null, limit: number) {
  const { rows } = await db.query(
    `SELECT agent_id, incident, step, outcome, detail, at FROM fleet_recovery_steps
      WHERE tenant = $1 AND ($2::text IS NULL OR agent_id = $2) ORDER BY id DESC LIMIT $3`,
    [tenant, agentId, limit],
  );
  return rows.map((r) => ({
    agentId: r.agent_id as string,
    incident: r.incident as string,
    step: r.step as RecoveryStepName,
    outcome: r.outcome as RecoveryRecord['outcome'],
    detail: r.detail as string | null,
    at: (r.at as Date).toISOString(),
  }));
}

/** Instances per health state, and those not HEALTHY with their last heartbeat and metrics. */
export async function fleetHealth(db: Queryable, tenant: string, limit: number) {
  const { rows: counts } = await db.query<{ status: string; n: number }>(
    `SELECT s.status, count(*)::int AS n FROM status_table s JOIN agents a USING (tenant, agent_id)
      WHERE a.tenant = $1 AND a.kind = 'service' GROUP BY 1`,
    [tenant],
  );
  const { rows } = await db.query(
    `SELECT s.agent_id, a.display_name, a.business_line, s.status, s.cause, s.since, s.version, b.beat_at, b.seq,
            b.metrics
       FROM status_table s JOIN agents a USING (tenant, agent_id)
       LEFT JOIN service_beats b USING (tenant, agent_id)
      WHERE a.tenant = $1 AND a.kind = 'service' AND s.status <> 'HEALTHY'
      ORDER BY s.since, s.agent_id LIMIT $2`,
    [tenant, limit],
  );
  return {
    counts: Object.fromEntries(counts.map((c) => [c.status, c.n])) as Record<string, number>,
    unhealthy: rows.map((r) => ({
      agentId: r.agent_id as string,
      displayName: r.display_name as string,
      businessLine: r.business_line as string,
      status: r.status as string,
      cause: r.cause as string,
      since: (r.since as Date).toISOString(),
      version: r.version as number,
      lastBeatAt: (r.beat_at as Date | null)?.toISOString() ?? null,
      lastSeq: r.seq as number | null,
      metrics: (r.metrics ?? {}) as Record<string, number>,
    })),
  };
}

/** The kind of an agent (undefined when unknown). */
export async function agentKind(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<'person' | 'service' | undefined> {
  const { rows } = await db.query(`SELECT kind FROM agents WHERE tenant = $1 AND agent_id = $2`, [tenant, agentId]);
  return rows[0]?.kind;
}
