import { inTransaction, type Pool, type Queryable, type Row } from './pool.ts';
import type { Status } from '../workflows/model.ts';

export type AgentKind = 'person' | 'service';

export interface AgentInput {
  displayName?: string;
  businessLine?: string;
  skillGroups?: string[];
  channels?: string[];
  /** 'service': an instance of a service or AI agent (README "Fleet mode"). */
  kind?: AgentKind;
}

/**
 * Agents are created on first sight (hello, first workflow start) and updated by admins. A person
 * starts ONLINE, an instance (`kind` 'service', e.g. from an `instance` token) HEALTHY.
 */
export async function ensureAgent(
  db: Queryable,
  tenant: string,
  agentId: string,
  region: string,
  kind: AgentKind = 'person',
): Promise<void> {
  await db.query(`INSERT INTO agents (tenant, agent_id, region, kind) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
    tenant,
    agentId,
    region,
    kind,
  ]);
  await db.query(
    `INSERT INTO status_table (tenant, agent_id, status, status_code, cause, actor, since)
     SELECT a.tenant, a.agent_id, CASE a.kind WHEN 'service' THEN 'HEALTHY' ELSE 'ONLINE' END,
            CASE a.kind WHEN 'service' THEN 2000 ELSE 1000 END, 'INITIAL', 'system:vigil', now()
       FROM agents a WHERE a.tenant = $1 AND a.agent_id = $2
     ON CONFLICT DO NOTHING`,
    [tenant, agentId],
  );
}

export async function upsertAgent(
  db: Queryable,
  tenant: string,
  agentId: string,
  a: AgentInput,
  region: string,
): Promise<void> {
  await db.query(
    `INSERT INTO agents (tenant, agent_id, display_name, business_line, skill_groups, channels, region, kind)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $12)
     ON CONFLICT (tenant, agent_id) DO UPDATE SET
       display_name = COALESCE($8, agents.display_name), business_line = COALESCE($9, agents.business_line),
       skill_groups = COALESCE($10, agents.skill_groups), channels = COALESCE($11, agents.channels),
       kind = COALESCE($13, agents.kind), updated_at = now()`,
    [
      tenant,
      agentId,
      a.displayName ?? '',
      a.businessLine ?? '',
      a.skillGroups ?? [],
      a.channels ?? [],
      region,
      a.displayName ?? null,
      a.businessLine ?? null,
      a.skillGroups ?? null,
      a.channels ?? null,
      a.kind ?? 'person',
      a.kind ?? null,
    ],
  );
  await ensureAgent(db, tenant, agentId, region);
}

/** An agent's committed state as the HTTP API shows it (docs/PROTOCOL.md `GET /v1/agents/:agentId`). */
export interface AgentStateRow {
  agentId: string;
  tenant: string;
  displayName: string;
  businessLine: string;
  status: string;
  statusCode: number;
  cause: string;
  since: string;
  taskCount: number;
  skillGroups: string[];
  onApp: boolean;
  devices: string[];
  /** The latest last-seen over the devices (ISO), null without devices. */
  lastSeenAt: string | null;
  deviceSessions: DeviceSession[];
  lastActionAt: string | null;
  version: number;
}

export interface DeviceSession {
  deviceId: string;
  via: 'ws' | 'http';
  /** When a frame (heartbeats included) or a post last came from the device; refreshed every second or so. */
  lastSeenAt: string;
}

/** A select-list column `device_sessions` (JSON) for a query over `status_table s`; see `deviceFields`. */
const DEVICE_SESSIONS_COLUMN = `coalesce((SELECT json_agg(json_build_object('deviceId', d.device_id, 'via', d.via, 'lastSeenAt', d.last_seen_at) ORDER BY d.device_id)
   FROM device_sessions d WHERE d.tenant = s.tenant AND d.agent_id = s.agent_id), '[]') AS device_sessions`;

/** The device fields of an agent's state from a row with the `device_sessions` column. */
function deviceFields(
  raw: { deviceId: string; via: 'ws' | 'http'; lastSeenAt: string }[],
): Pick<AgentStateRow, 'onApp' | 'devices' | 'lastSeenAt' | 'deviceSessions'> {
  const deviceSessions = raw.map((x) => ({
    deviceId: x.deviceId,
    via: x.via,
    lastSeenAt: new Date(x.lastSeenAt).toISOString(),
  }));
  const lastSeenAt = deviceSessions.reduce<string | null>(
    (max, x) => (max === null || x.lastSeenAt > max ? x.lastSeenAt : max),
    null,
  );
  return {
    onApp: deviceSessions.length > 0,
    devices: deviceSessions.map((x) => x.deviceId),
    lastSeenAt,
    deviceSessions,
  };
}

export interface AgentListFilter {
  status?: string;
  skillGroup?: string;
  /** Exact business line. */
  businessLine?: string;
  /** Search: a case-insensitive prefix of the agent id, or a case-insensitive part of the display name. */
  q?: string;
  /** Keyset: only agents whose id sorts after this one. */
  afterAgentId?: string;
  limit: number;
}

/**
 * HCM's facts about a listed agent that its next-deadline estimate needs beyond the committed state
 * (gateway/next-deadline.ts); times in ms.
 */
export interface DeadlineFacts {
  channels: string[];
  priorStatus: Status | null;
  offlineByWindow: boolean;
  lastReminderAt: number | null;
  /** When the agent was created: the closest fact HCM has to when its workflow started. */
  createdAt: number;
  /**
   * When one of its tasks last closed; read only for ONLINE agents with no open task, the only
   * ones whose window (IDLE) counts from it.
   */
  lastTaskClosedAt: number | null;
}

export interface AgentListRow extends AgentStateRow {
  deadlineFacts: DeadlineFacts;
}

/** `s` as a LIKE pattern that matches exactly `s` (its `\`, `%` and `_` escaped). */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, '\\$&');

/** The select list of an agent's state without its device sessions, over `status_table s JOIN agents a`. */
const STATE_CORE_COLUMNS = `s.agent_id, s.tenant, a.display_name, a.business_line, s.status, s.status_code, s.cause, s.since,
       s.version, s.last_action_at, a.skill_groups,
       (SELECT count(*)::int FROM tasks t WHERE t.tenant = s.tenant AND t.agent_id = s.agent_id AND t.state = 'open') AS task_count`;

/** The select list of an agent's state, over `status_table s JOIN agents a`. */
const STATE_COLUMNS = `${STATE_CORE_COLUMNS},
       ${DEVICE_SESSIONS_COLUMN}`;

/** The select list of `DeadlineFacts` (`toDeadlineFacts`), over `status_table s JOIN agents a`. */
const DEADLINE_COLUMNS = `a.channels, a.created_at, s.prior_status, s.offline_by_window, s.last_reminder_at,
       CASE WHEN s.status = 'ONLINE' THEN (SELECT max(t.updated_at) FROM tasks t
         WHERE t.tenant = s.tenant AND t.agent_id = s.agent_id AND t.state = 'closed') END AS last_task_closed_at`;

const toDeadlineFacts = (r: Row): DeadlineFacts => ({
  channels: r.channels,
  priorStatus: r.prior_status,
  offlineByWindow: r.offline_by_window,
  lastReminderAt: r.last_reminder_at?.getTime() ?? null,
  createdAt: r.created_at.getTime(),
  lastTaskClosedAt: r.last_task_closed_at?.getTime() ?? null,
});

const toState = (r: Row): AgentStateRow => ({
  agentId: r.agent_id,
  tenant: r.tenant,
  displayName: r.display_name,
  businessLine: r.business_line,
  status: r.status,
  statusCode: r.status_code,
  cause: r.cause,
  since: r.since.toISOString(),
  taskCount: r.task_count,
  skillGroups: r.skill_groups,
  ...deviceFields(r.device_sessions),
  lastActionAt: r.last_action_at?.toISOString() ?? null,
  version: r.version,
});

/** The filters, keyset cursor and limit of an agent list over `status_table s JOIN agents a` (params: `listParams`). */
const LIST_PAGE = `WHERE s.tenant = $1 AND ($2::text IS NULL OR s.status = $2) AND ($3::text IS NULL OR $3 = ANY (a.skill_groups))
        AND ($4::text IS NULL OR s.agent_id COLLATE "C" > $4)
        AND ($6::text IS NULL OR a.business_line = $6)
        AND ($7::text IS NULL OR s.agent_id ILIKE $7 || '%' OR a.display_name ILIKE '%' || $7 || '%')
      ORDER BY s.agent_id COLLATE "C"
      LIMIT $5`;

const listParams = (tenant: string, f: AgentListFilter) => [
  tenant,
  f.status ?? null,
  f.skillGroup ?? null,
  f.afterAgentId ?? null,
  f.limit,
  f.businessLine ?? null,
  f.q === undefined ? null : likeLiteral(f.q),
];

/** A page of the tenant's committed agent states in agent-id order (a stable keyset cursor). */
export async function listAgents(db: Queryable, tenant: string, f: AgentListFilter): Promise<AgentListRow[]> {
  const { rows } = await db.query(
    `SELECT ${STATE_COLUMNS}, ${DEADLINE_COLUMNS}
       FROM status_table s JOIN agents a USING (tenant, agent_id)
      ${LIST_PAGE}`,
    listParams(tenant, f),
  );
  return rows.map((r) => ({ ...toState(r), deadlineFacts: toDeadlineFacts(r) }));
}

/**
 * A page of the tenant's agents with only their committed `version`, in agent-id order, with the
 * filters of `listAgents`: what a feed consumer compares with the versions it holds (docs/PROTOCOL.md
 * "Reconciling a feed consumer"). No device, task or deadline reads: cheap for large pages.
 */
export async function listAgentVersions(
  db: Queryable,
  tenant: string,
  f: AgentListFilter,
): Promise<{ agentId: string; version: number }[]> {
  const { rows } = await db.query(
    `SELECT s.agent_id, s.version
       FROM status_table s JOIN agents a USING (tenant, agent_id)
      ${LIST_PAGE}`,
    listParams(tenant, f),
  );
  return rows.map((r) => ({ agentId: r.agent_id, version: Number(r.version) }));
}

/** One agent's committed state; undefined when the tenant has no such agent. */
export async function getAgentState(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<AgentStateRow | undefined> {
  const { rows } = await db.query(
    `SELECT ${STATE_COLUMNS} FROM status_table s JOIN agents a USING (tenant, agent_id) WHERE s.tenant = $1 AND s.agent_id = $2`,
    [tenant, agentId],
  );
  return rows[0] && toState(rows[0]);
}

export interface AgentProfile {
  agentId: string;
  tenant: string;
  displayName: string;
  businessLine: string;
  skillGroups: string[];
  channels: string[];
  region: string;
  kind: AgentKind;
  updatedAt: string;
}

export async function getAgent(db: Queryable, tenant: string, agentId: string): Promise<AgentProfile | undefined> {
  const { rows } = await db.query(
    `SELECT agent_id, display_name, business_line, skill_groups, channels, region, kind, updated_at
       FROM agents WHERE tenant = $1 AND agent_id = $2`,
    [tenant, agentId],
  );
  const r = rows[0];
  return (
    r && {
      agentId: r.agent_id,
      tenant,
      displayName: r.display_name,
      businessLine: r.business_line,
      skillGroups: r.skill_groups,
      channels: r.channels,
      region: r.region,
      kind: r.kind,
      updatedAt: r.updated_at.toISOString(),
    }
  );
}

/** The agent's owner region, read on its own (HCM reads it again after locking the status row). */
export async function ownerRegion(db: Queryable, tenant: string, agentId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ region: string }>('SELECT region FROM agents WHERE tenant = $1 AND agent_id = $2', [
    tenant,
    agentId,
  ]);
  return rows[0]?.region;
}

/** What routes an agent to its task queue (workflows/routing.ts); undefined for an agent not yet created. */
export async function agentRoute(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<{ region: string; businessLine: string } | undefined> {
  const { rows } = await db.query<{ region: string; business_line: string }>(
    'SELECT region, business_line FROM agents WHERE tenant = $1 AND agent_id = $2',
    [tenant, agentId],
  );
  const r = rows[0];
  return r && { region: r.region, businessLine: r.business_line };
}

export interface RegionSwitch {
  /** One agent, or (without) every agent of the tenant, or of `businessLine` when given. */
  agentId?: string;
  businessLine?: string;
  region: string;
  actor: string;
  reason: string;
}

/** Agents one transaction of a bulk switch moves (each batch locks its status rows). */
const SWITCH_BATCH = 500;

/**
 * Moves agents to `s.region`, in batches of one transaction each: every batch locks its agents'
 * status rows first (so a commit in progress finishes before, and a commit after reads the new
 * owner: activities/hcm.ts), then updates agents.region and writes agent_region_log. Agents
 * already in the region are left alone. Answers the agents moved, each with its former region.
 */
export async function switchRegions(
  pool: Pool,
  tenant: string,
  s: RegionSwitch,
): Promise<{ agentId: string; from: string }[]> {
  const moved: { agentId: string; from: string }[] = [];
  for (;;) {
    const batch = await inTransaction(pool, async (c) => {
      const { rows } = await c.query<{ agent_id: string; region: string }>(
        `SELECT a.agent_id, a.region FROM agents a JOIN status_table s USING (tenant, agent_id)
          WHERE a.tenant = $1 AND a.region <> $2 AND ($3::text IS NULL OR a.agent_id = $3)
            AND ($4::text IS NULL OR a.business_line = $4)
          ORDER BY a.agent_id COLLATE "C" LIMIT $5 FOR UPDATE OF a, s`,
        [tenant, s.region, s.agentId ?? null, s.businessLine ?? null, SWITCH_BATCH],
      );
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.agent_id);
      await c.query(`UPDATE agents SET region = $2, updated_at = now() WHERE tenant = $1 AND agent_id = ANY ($3)`, [
        tenant,
        s.region,
        ids,
      ]);
      await c.query(
        `INSERT INTO agent_region_log (tenant, agent_id, from_region, to_region, actor, reason)
         SELECT $1, x.agent_id, x.from_region, $2, $3, $4 FROM unnest($5::text[], $6::text[]) AS x(agent_id, from_region)`,
        [tenant, s.region, s.actor, s.reason, ids, rows.map((r) => r.region)],
      );
      return rows.map((r) => ({ agentId: r.agent_id, from: r.region }));
    });
    moved.push(...batch);
    if (batch.length < SWITCH_BATCH) return moved;
  }
}

/**
 * The facts of every person agent of `region` that can have a window running (every status but
 * OFFLINE), as the agent list reads them for its next-deadline estimate (gateway/next-deadline.ts),
 * for the worker's overdue-deadline gauge (README "Engine metrics"). `held`: a window of the agent
 * is held by input health (its deadline is not the estimate's). At most `limit` rows, oldest
 * `since` first. Device sessions are left out: they never make a window overdue.
 */
export async function listDeadlineFacts(
  db: Queryable,
  region: string,
  limit: number,
): Promise<(AgentListRow & { held: boolean })[]> {
  const { rows } = await db.query(
    `SELECT ${STATE_CORE_COLUMNS}, ${DEADLINE_COLUMNS},
            EXISTS (SELECT 1 FROM held_candidates hc WHERE hc.tenant = s.tenant AND hc.agent_id = s.agent_id
                      AND hc.resolved_at IS NULL) AS held
       FROM status_table s JOIN agents a USING (tenant, agent_id)
      WHERE a.region = $1 AND a.kind = 'person' AND s.status IN ('ONLINE', 'IDLE', 'BUSY', 'ABNORMAL')
      ORDER BY s.since LIMIT $2`,
    [region, limit],
  );
  return rows.map((r) => ({
    ...toState({ ...r, device_sessions: [] }),
    held: r.held,
    deadlineFacts: toDeadlineFacts(r),
  }));
}
