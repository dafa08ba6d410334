// Input health (db/migrations/9_input_health.sql): the gateways' intake counts, the verdict per
// scope (tenant, business line), operators' overrides, and the windows HCM held meanwhile.
// gateway/input-health.ts measures and judges; activities/hcm.ts asks `inputHold` before it marks
// anybody ABNORMAL or OFFLINE by a window.
import type { Queryable, Row } from './pool.ts';

/** A scope's thresholds (README "Input health and degrade"); a rule's `inputHealth` overrides any of them. */
export interface InputThresholds {
  /** Degraded when the actions of the sample window fall below this share of the baseline… */
  dropRatio: number;
  /** …and healthy again once they are back at this share (above dropRatio: no flapping). */
  recoverRatio: number;
  /** Only while at least this share of the baseline's agents are still connected (else they left). */
  connectedRatio: number;
  /** Not judged with fewer agents connected than this… */
  minConnected: number;
  /** …or with a baseline below this many actions per sample window. */
  minBaselineActions: number;
  /** Seconds over which the baseline follows the traffic (moving average, frozen while degraded). */
  baselineSec: number;
  /** A held window is asked again after this many seconds. */
  holdRecheckSec: number;
  /** Windows stay held this many seconds after the scope recovered, so late and resumed input lands first. */
  recoveryGraceSec: number;
}

export const INPUT_THRESHOLDS: InputThresholds = {
  dropRatio: 0.2,
  recoverRatio: 0.5,
  connectedRatio: 0.8,
  minConnected: 5,
  minBaselineActions: 30,
  baselineSec: 900,
  holdRecheckSec: 30,
  recoveryGraceSec: 60,
};

/** One gateway's intake counts for one bucket and scope. */
export interface IntakeStat {
  tenant: string;
  agentId: string;
  channel: string;
  events: number;
  actions: number;
  lagMsSum: number;
  lagN: number;
  rejects: number;
  storeErrors: number;
}

/**
 * Writes a gateway's counts of one bucket, given per agent and channel: Postgres maps each agent to
 * its business line and region (agents unknown there count under business line '' and region '').
 */
export async function writeIntakeStats(
  db: Queryable,
  gatewayId: string,
  bucket: Date,
  stats: IntakeStat[],
): Promise<void> {
  if (stats.length === 0) return;
  const col = <K extends keyof IntakeStat>(k: K) => stats.map((s) => s[k]);
  await db.query(
    `INSERT INTO intake_stats AS t (bucket, gateway_id, tenant, business_line, region, channel, events, actions,
         lag_ms_sum, lag_n, rejects, store_errors)
     SELECT $1, $2, v.tenant, coalesce(a.business_line, ''), coalesce(a.region, ''), v.channel, sum(v.events),
            sum(v.actions), sum(v.lag_ms_sum), sum(v.lag_n), sum(v.rejects), sum(v.store_errors)
       FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::float8[], $9::int[], $10::int[],
                   $11::int[]) AS v(tenant, agent_id, channel, events, actions, lag_ms_sum, lag_n, rejects, store_errors)
       LEFT JOIN agents a ON a.tenant = v.tenant AND a.agent_id = v.agent_id
      GROUP BY 3, 4, 5, 6
     ON CONFLICT (bucket, gateway_id, tenant, business_line, region, channel) DO UPDATE SET
        events = t.events + EXCLUDED.events, actions = t.actions + EXCLUDED.actions,
        lag_ms_sum = t.lag_ms_sum + EXCLUDED.lag_ms_sum, lag_n = t.lag_n + EXCLUDED.lag_n,
        rejects = t.rejects + EXCLUDED.rejects, store_errors = t.store_errors + EXCLUDED.store_errors`,
    [
      bucket,
      gatewayId,
      col('tenant'),
      col('agentId'),
      col('channel'),
      col('events'),
      col('actions'),
      col('lagMsSum'),
      col('lagN'),
      col('rejects'),
      col('storeErrors'),
    ],
  );
}

/** What the last `windowSec` seconds looked like for one scope. */
export interface ScopeSample {
  tenant: string;
  businessLine: string;
  events: number;
  actions: number;
  rejects: number;
  storeErrors: number;
  lagMs: number | null;
  /** Agents with a device session (websocket or HTTP). */
  connected: number;
  /** …of which a device was heard from in the window. */
  heard: number;
  /** Agents whose last action (HCM's fact) is in the window. */
  acted: number;
}

/**
 * Every scope with traffic, connected agents or a verdict, over the last `windowSec` seconds: the
 * gateways' counts summed, and connected/heard/acted from HCM's own rows.
 */
export async function sampleScopes(db: Queryable, windowSec: number): Promise<ScopeSample[]> {
  const { rows } = await db.query(
    `WITH w AS (SELECT now() - make_interval(secs => $1) AS since),
     stats AS (
       SELECT tenant, business_line, sum(events)::int AS events, sum(actions)::int AS actions,
              sum(rejects)::int AS rejects, sum(store_errors)::int AS store_errors,
              sum(lag_ms_sum) / nullif(sum(lag_n), 0) AS lag_ms
         FROM intake_stats, w WHERE bucket >= w.since GROUP BY 1, 2),
     conn AS (
       SELECT a.tenant, a.business_line, count(DISTINCT d.agent_id)::int AS connected,
              count(DISTINCT d.agent_id) FILTER (WHERE d.last_seen_at >= w.since)::int AS heard
         FROM device_sessions d JOIN agents a USING (tenant, agent_id), w GROUP BY 1, 2),
     acted AS (
       SELECT a.tenant, a.business_line, count(*)::int AS acted
         FROM status_table s JOIN agents a USING (tenant, agent_id), w
        WHERE s.last_action_at >= w.since GROUP BY 1, 2),
     scopes AS (
       SELECT tenant, business_line FROM stats UNION SELECT tenant, business_line FROM conn
       UNION SELECT tenant, business_line FROM input_health WHERE business_line <> '*')
     SELECT s.tenant, s.business_line, coalesce(st.events, 0) AS events, coalesce(st.actions, 0) AS actions,
            coalesce(st.rejects, 0) AS rejects, coalesce(st.store_errors, 0) AS store_errors, st.lag_ms,
            coalesce(c.connected, 0) AS connected, coalesce(c.heard, 0) AS heard, coalesce(ac.acted, 0) AS acted
       FROM scopes s
       LEFT JOIN stats st USING (tenant, business_line)
       LEFT JOIN conn c USING (tenant, business_line)
       LEFT JOIN acted ac USING (tenant, business_line)
      ORDER BY 1, 2`,
    [windowSec],
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    businessLine: r.business_line,
    events: r.events,
    actions: r.actions,
    rejects: r.rejects,
    storeErrors: r.store_errors,
    lagMs: r.lag_ms,
    connected: r.connected,
    heard: r.heard,
    acted: r.acted,
  }));
}

/** Events per region and channel in the window, for the metrics and GET /v1/health/input. */
export interface SourceSample {
  tenant: string;
  businessLine: string;
  region: string;
  channel: string;
  events: number;
  actions: number;
  lagMs: number | null;
}

export async function sampleSources(db: Queryable, windowSec: number, tenant?: string): Promise<SourceSample[]> {
  const { rows } = await db.query(
    `SELECT tenant, business_line, region, channel, sum(events)::int AS events, sum(actions)::int AS actions,
            sum(lag_ms_sum) / nullif(sum(lag_n), 0) AS lag_ms
       FROM intake_stats
      WHERE bucket >= now() - make_interval(secs => $1) AND ($2::text IS NULL OR tenant = $2)
      GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    [windowSec, tenant ?? null],
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    businessLine: r.business_line,
    region: r.region,
    channel: r.channel,
    events: r.events,
    actions: r.actions,
    lagMs: r.lag_ms,
  }));
}

/** The stored verdict of one scope. */
export interface ScopeHealth {
  tenant: string;
  businessLine: string;
  degraded: boolean;
  reason: string | null;
  degradedSince: Date | null;
  recoveredAt: Date | null;
  forced: 'on' | 'off' | null;
  forcedBy: string | null;
  forcedReason: string | null;
  forcedAt: Date | null;
  actionsWindow: number;
  baselineActions: number | null;
  connected: number;
  baselineConnected: number | null;
  heard: number;
  acted: number;
  lagMs: number | null;
  rejectsWindow: number;
  storeErrorsWindow: number;
  samples: number;
  holdRecheckSec: number;
  recoveryGraceSec: number;
  evaluatedAt: Date | null;
}

function toHealth(r: Row): ScopeHealth {
  return {
    tenant: r.tenant,
    businessLine: r.business_line,
    degraded: r.degraded,
    reason: r.reason,
    degradedSince: r.degraded_since,
    recoveredAt: r.recovered_at,
    forced: r.forced,
    forcedBy: r.forced_by,
    forcedReason: r.forced_reason,
    forcedAt: r.forced_at,
    actionsWindow: r.actions_window,
    baselineActions: r.baseline_actions,
    connected: r.connected,
    baselineConnected: r.baseline_connected,
    heard: r.heard,
    acted: r.acted,
    lagMs: r.lag_ms,
    rejectsWindow: r.rejects_window,
    storeErrorsWindow: r.store_errors_window,
    samples: r.samples,
    holdRecheckSec: r.hold_recheck_sec,
    recoveryGraceSec: r.recovery_grace_sec,
    evaluatedAt: r.evaluated_at,
  };
}

/**
 * Every stored verdict (one tenant's, or all), with how many windows each scope holds now unless
 * `countHeld` is false (the evaluator needs the verdicts only; heldNow is then 0).
 */
export async function listInputHealth(
  db: Queryable,
  tenant?: string,
  countHeld = true,
): Promise<(ScopeHealth & { heldNow: number })[]> {
  const { rows } = await db.query(
    `SELECT h.*, CASE WHEN $2 THEN (SELECT count(*)::int FROM held_candidates c
                   WHERE c.tenant = h.tenant AND c.resolved_at IS NULL
                     AND (h.business_line = '*' OR c.business_line = h.business_line)) ELSE 0 END AS held_now
       FROM input_health h WHERE $1::text IS NULL OR h.tenant = $1 ORDER BY h.tenant, h.business_line`,
    [tenant ?? null, countHeld],
  );
  return rows.map((r) => ({ ...toHealth(r), heldNow: r.held_now }));
}

/** Takes the evaluator's turn: false when another gateway is evaluating or did so within `minGapSec`. */
export async function claimEvaluation(c: Queryable, minGapSec: number): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>(
    `SELECT pg_try_advisory_xact_lock(hashtext('vigil:input-health')) AND NOT EXISTS (
       SELECT 1 FROM input_health WHERE evaluated_at > now() - make_interval(secs => $1)) AS ok`,
    [minGapSec],
  );
  return rows[0]!.ok;
}

/** The evaluator's verdict for one scope (the automatic columns; an override stays as it is). */
export interface Verdict {
  tenant: string;
  businessLine: string;
  degraded: boolean;
  reason: string | null;
  /** Set when the verdict changed at this evaluation. */
  change?: 'degraded' | 'recovered';
  baselineActions: number | null;
  baselineConnected: number | null;
  samples: number;
  sample: ScopeSample;
  holdRecheckSec: number;
  recoveryGraceSec: number;
}

export async function writeVerdicts(c: Queryable, verdicts: Verdict[]): Promise<void> {
  for (const v of verdicts) {
    const s = v.sample;
    await c.query(
      `INSERT INTO input_health AS h (tenant, business_line, degraded, reason, degraded_since, recovered_at,
          actions_window, baseline_actions, connected, baseline_connected, heard, acted, lag_ms, rejects_window,
          store_errors_window, samples, hold_recheck_sec, recovery_grace_sec, evaluated_at)
       VALUES ($1, $2, $3, $4, CASE WHEN $3 THEN now() END, NULL, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
               $15, $16, now())
       ON CONFLICT (tenant, business_line) DO UPDATE SET degraded = $3, reason = $4,
          degraded_since = CASE WHEN $3 AND NOT h.degraded THEN now() WHEN $3 THEN h.degraded_since END,
          recovered_at = CASE WHEN h.degraded AND NOT $3 THEN now() ELSE h.recovered_at END,
          actions_window = $5, baseline_actions = $6, connected = $7, baseline_connected = $8, heard = $9,
          acted = $10, lag_ms = $11, rejects_window = $12, store_errors_window = $13, samples = $14,
          hold_recheck_sec = $15, recovery_grace_sec = $16, evaluated_at = now()`,
      [
        v.tenant,
        v.businessLine,
        v.degraded,
        v.reason,
        s.actions,
        v.baselineActions,
        s.connected,
        v.baselineConnected,
        s.heard,
        s.acted,
        s.lagMs,
        s.rejects,
        s.storeErrors,
        v.samples,
        v.holdRecheckSec,
        v.recoveryGraceSec,
      ],
    );
    if (v.change) {
      await c.query(
        `INSERT INTO input_health_log (tenant, business_line, change, actor, reason, detail)
         VALUES ($1, $2, $3, 'system:input-health', $4, $5)`,
        [
          v.tenant,
          v.businessLine,
          v.change,
          v.reason,
          JSON.stringify({
            actions: s.actions,
            baselineActions: v.baselineActions,
            connected: s.connected,
            baselineConnected: v.baselineConnected,
            storeErrors: s.storeErrors,
          }),
        ],
      );
    }
  }
}

/** Drops intake counts older than `keepSec` (the evaluator's chore). */
export async function pruneIntakeStats(db: Queryable, keepSec: number): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM intake_stats WHERE bucket < now() - make_interval(secs => $1)`, [
    keepSec,
  ]);
  return rowCount ?? 0;
}

/**
 * An operator's override for a scope ('*' = the whole tenant): 'on' holds, 'off' never holds,
 * 'auto' follows the evaluator again. Logged with actor and reason; answers the scope's verdict.
 */
export async function forceInputHealth(
  c: Queryable,
  o: {
    tenant: string;
    businessLine: string;
    mode: 'on' | 'off' | 'auto';
    actor: string;
    reason: string | null;
    thresholds: Pick<InputThresholds, 'holdRecheckSec' | 'recoveryGraceSec'>;
  },
): Promise<ScopeHealth> {
  const forced = o.mode === 'auto' ? null : o.mode;
  const { rows } = await c.query(
    `INSERT INTO input_health AS h (tenant, business_line, forced, forced_by, forced_reason, forced_at,
         hold_recheck_sec, recovery_grace_sec, recovered_at)
     VALUES ($1, $2, $3, $4, $5, now(), $6, $7, NULL)
     ON CONFLICT (tenant, business_line) DO UPDATE SET forced = $3, forced_by = $4, forced_reason = $5,
        forced_at = now(),
        -- Leaving a forced hold: the grace after it applies as after an automatic recovery.
        recovered_at = CASE WHEN h.forced = 'on' AND $3::text IS DISTINCT FROM 'on' THEN now() ELSE h.recovered_at END
     RETURNING *`,
    [o.tenant, o.businessLine, forced, o.actor, o.reason, o.thresholds.holdRecheckSec, o.thresholds.recoveryGraceSec],
  );
  await c.query(
    `INSERT INTO input_health_log (tenant, business_line, change, actor, reason) VALUES ($1, $2, $3, $4, $5)`,
    [o.tenant, o.businessLine, forced ? `forced ${forced}` : 'automatic', o.actor, o.reason],
  );
  return toHealth(rows[0]);
}

/** The newest overrides and verdict changes of a tenant, newest first. */
export async function inputHealthLog(db: Queryable, tenant: string, limit: number) {
  const { rows } = await db.query(
    `SELECT business_line, at, change, actor, reason, detail FROM input_health_log
      WHERE tenant = $1 ORDER BY id DESC LIMIT $2`,
    [tenant, limit],
  );
  return rows.map((r) => ({
    businessLine: r.business_line as string,
    at: (r.at as Date).toISOString(),
    change: r.change as string,
    actor: r.actor as string,
    reason: r.reason as string | null,
    detail: r.detail as Record<string, unknown>,
  }));
}

/** Why HCM holds a window of an agent of this scope now, or undefined when it does not. */
export interface Hold {
  scope: string;
  reason: string;
  recheckSec: number;
}

type HoldRow = Pick<
  ScopeHealth,
  'tenant' | 'businessLine' | 'forced' | 'degraded' | 'reason' | 'recoveredAt' | 'holdRecheckSec' | 'recoveryGraceSec'
>;

/**
 * Whether windows of absence are held for agents of a line: a line's own override beats the
 * tenant's ('*'), an override beats the evaluator, and holds go on for the grace after a recovery.
 */
export function holdOf(line: HoldRow | undefined, all: HoldRow | undefined, now: number): Hold | undefined {
  const hold = (r: HoldRow, reason: string): Hold => ({
    scope: `${r.tenant}/${r.businessLine}`,
    reason,
    recheckSec: r.holdRecheckSec,
  });
  const recovering = (r: HoldRow | undefined) =>
    r?.recoveredAt != null && now < r.recoveredAt.getTime() + r.recoveryGraceSec * 1000;
  if (line?.forced) return line.forced === 'on' ? hold(line, 'FORCED') : undefined;
  if (all?.forced === 'on') return hold(all, 'FORCED');
  if (all?.forced === 'off') return undefined;
  if (recovering(all)) return hold(all!, 'RECOVERING');
  if (line?.degraded) return hold(line, line.reason ?? 'DEGRADED');
  if (recovering(line)) return hold(line!, 'RECOVERING');
  return undefined;
}

/** HCM's question, inside its transaction: are windows of absence held for this agent's line now? */
export async function inputHold(c: Queryable, tenant: string, businessLine: string): Promise<Hold | undefined> {
  const { rows } = await c.query(
    `SELECT *, (extract(epoch FROM now()) * 1000)::float8 AS now_ms FROM input_health
      WHERE tenant = $1 AND business_line IN ($2, '*')`,
    [tenant, businessLine],
  );
  if (rows.length === 0) return undefined;
  const health = rows.map(toHealth);
  return holdOf(
    health.find((r) => r.businessLine === businessLine && businessLine !== '*'),
    health.find((r) => r.businessLine === '*'),
    rows[0].now_ms,
  );
}

/** Records (or counts again) a window HCM holds. */
export async function recordHeld(
  c: Queryable,
  h: {
    tenant: string;
    agentId: string;
    dedupeKey: string;
    to: string;
    cause: string;
    businessLine: string;
    windowStart: number;
    dueAt: number;
  },
): Promise<void> {
  await c.query(
    `INSERT INTO held_candidates AS h (tenant, agent_id, dedupe_key, to_status, cause, business_line, window_start,
         due_at)
     VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), to_timestamp($8 / 1000.0))
     ON CONFLICT (tenant, agent_id, dedupe_key) DO UPDATE SET last_held_at = now(), holds = h.holds + 1,
        resolved_at = NULL, outcome = NULL`,
    [h.tenant, h.agentId, h.dedupeKey, h.to, h.cause, h.businessLine, h.windowStart, h.dueAt],
  );
}

/** Ends the hold of a window (if it was held): answers when it would have closed, or undefined. */
export async function resolveHeld(
  c: Queryable,
  tenant: string,
  agentId: string,
  dedupeKey: string,
  outcome: 'committed' | 'released',
): Promise<Date | undefined> {
  const { rows } = await c.query<{ due_at: Date }>(
    `UPDATE held_candidates SET resolved_at = now(), outcome = $4
      WHERE tenant = $1 AND agent_id = $2 AND dedupe_key = $3 AND resolved_at IS NULL RETURNING due_at`,
    [tenant, agentId, dedupeKey, outcome],
  );
  return rows[0]?.due_at;
}

/** Held windows of a tenant (open ones first), for GET /v1/health/input. */
export async function listHeld(db: Queryable, tenant: string, limit: number) {
  const { rows } = await db.query(
    `SELECT agent_id, dedupe_key, to_status, cause, business_line, window_start, due_at, first_held_at,
            last_held_at, holds, resolved_at, outcome
       FROM held_candidates WHERE tenant = $1
      ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, last_held_at) DESC LIMIT $2`,
    [tenant, limit],
  );
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return rows.map((r) => ({
    agentId: r.agent_id as string,
    dedupeKey: r.dedupe_key as string,
    to: r.to_status as string,
    cause: r.cause as string,
    businessLine: r.business_line as string,
    windowStart: iso(r.window_start),
    dueAt: iso(r.due_at),
    firstHeldAt: iso(r.first_held_at),
    lastHeldAt: iso(r.last_held_at),
    holds: r.holds as number,
    resolvedAt: iso(r.resolved_at),
    outcome: r.outcome as string | null,
  }));
}
