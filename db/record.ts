// The activity record (db/migrations/12_activity_record.sql, README "Rule simulator"): per agent,
// what its workflow needs to decide again — actions as per-second bitmaps of each minute, business
// events and device changes as rows — at the gateway's clock, partitioned by day.
import type { Queryable } from './pool.ts';
import { EventType, closesTask, isAction, opensTask, type AgentEvent, type Status } from '../workflows/model.ts';

/** Events the record keeps one by one (the rest of the actions only as seconds of activity). */
export function isBusinessEvent(type: number): boolean {
  return type === EventType.WORK_STATUS || type === EventType.STATUS_SWITCH || opensTask(type) || closesTask(type);
}

/** The record of one intake batch: a second of activity for each acting agent, and its business events. */
export async function recordActivity(
  db: Queryable,
  items: { tenant: string; agentId: string; fresh: AgentEvent[]; urgent: boolean }[],
  now: number,
): Promise<void> {
  const acting = items.filter((it) => it.fresh.some((e) => isAction(e.type)));
  if (acting.length > 0) {
    // Rows in key order: concurrent batches lock them in the same order.
    const sorted = [...new Map(acting.map((a) => [`${a.tenant}\u0000${a.agentId}`, a])).values()].sort((a, b) =>
      a.tenant + a.agentId < b.tenant + b.agentId ? -1 : 1,
    );
    await db.query(
      `INSERT INTO activity_seconds AS a (day, tenant, agent_id, minute, bits, last_at)
       SELECT (m AT TIME ZONE 'UTC')::date, v.tenant, v.agent_id, m, $3::bigint, to_timestamp($4 / 1000.0)
         FROM unnest($1::text[], $2::text[]) AS v(tenant, agent_id),
              LATERAL (SELECT date_trunc('minute', to_timestamp($4 / 1000.0)) AS m) x
       ON CONFLICT (day, tenant, agent_id, minute) DO UPDATE SET bits = a.bits | EXCLUDED.bits,
          last_at = GREATEST(a.last_at, EXCLUDED.last_at)`,
      [
        sorted.map((a) => a.tenant),
        sorted.map((a) => a.agentId),
        String(1n << BigInt(Math.floor(now / 1000) % 60)),
        now,
      ],
    );
  }
  // Frames the workflow must hear of at once (an action that ends ABNORMAL, say) are kept whole:
  // their exact time decides when that change happened.
  const rows = items.flatMap((it) =>
    it.fresh
      .filter((e) => isBusinessEvent(e.type) || (it.urgent && isAction(e.type)))
      .map((e) => ({ tenant: it.tenant, agentId: it.agentId, e })),
  );
  if (rows.length > 0) {
    await db.query(
      `INSERT INTO agent_record (day, tenant, agent_id, at, kind, type, client_ts, ticket_id, data)
       SELECT (to_timestamp($6 / 1000.0) AT TIME ZONE 'UTC')::date, v.tenant, v.agent_id, to_timestamp($6 / 1000.0),
              'event', v.type, v.ts, v.ticket_id, v.data
         FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $7::jsonb[])
              AS v(tenant, agent_id, type, ts, ticket_id, data)`,
      [
        rows.map((r) => r.tenant),
        rows.map((r) => r.agentId),
        rows.map((r) => r.e.type),
        rows.map((r) => r.e.ts),
        rows.map((r) => r.e.ticketId ?? null),
        now,
        rows.map((r) => (r.e.data ? JSON.stringify(r.e.data) : null)),
      ],
    );
  }
}

/** A device connected or went away (presence), at the database's clock. */
export async function recordDevice(
  db: Queryable,
  d: { tenant: string; agentId: string; deviceId: string; connected: boolean },
): Promise<void> {
  await db.query(
    `INSERT INTO agent_record (day, tenant, agent_id, at, kind, device_id, connected)
     VALUES ((now() AT TIME ZONE 'UTC')::date, $1, $2, now(), 'device', $3, $4)`,
    [d.tenant, d.agentId, d.deviceId, d.connected],
  );
}

/** Makes sure the days from yesterday to `aheadDays` ahead have their partitions; answers how many were made. */
export async function prepareRecordPartitions(db: Queryable, aheadDays = 2): Promise<number> {
  const { rows } = await db.query<{ made: number }>(
    `SELECT vigil_record_partitions(current_date - 1, current_date + $1::int) AS made`,
    [aheadDays],
  );
  return rows[0]!.made;
}

/** Drops the record's days older than `keepDays`; answers the partitions dropped. */
export async function dropRecordBefore(db: Queryable, keepDays: number): Promise<number> {
  const { rows } = await db.query<{ dropped: number }>(
    `SELECT vigil_drop_record_before((now() AT TIME ZONE 'UTC')::date - $1::int) AS dropped`,
    [Math.ceil(keepDays)],
  );
  return rows[0]!.dropped;
}

/** One agent's record over a range, times in ms. */
export interface AgentRecord {
  /** Seconds with an action (the middle of each second; a minute's last action to the millisecond). */
  actions: number[];
  events: { at: number; type: number; ts: number; ticketId?: string; data?: Record<string, unknown> }[];
  devices: { at: number; deviceId: string; connected: boolean }[];
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The record of these agents in [from, to), by agent id. */
export async function readRecord(
  db: Queryable,
  tenant: string,
  agentIds: string[],
  from: number,
  to: number,
): Promise<Map<string, AgentRecord>> {
  const out = new Map<string, AgentRecord>(agentIds.map((a) => [a, { actions: [], events: [], devices: [] }]));
  if (agentIds.length === 0) return out;
  const days = [dayOf(from - 60_000), dayOf(to)];
  const { rows: secs } = await db.query<{ agent_id: string; minute: Date; bits: string; last_at: Date }>(
    `SELECT agent_id, minute, bits, last_at FROM activity_seconds
      WHERE day BETWEEN $3::date AND $4::date AND tenant = $1 AND agent_id = ANY($2::text[])
        AND minute >= to_timestamp($5 / 1000.0) - interval '1 minute' AND minute < to_timestamp($6 / 1000.0)
      ORDER BY agent_id, minute`,
    [tenant, agentIds, days[0], days[1], from, to],
  );
  for (const r of secs) {
    const base = r.minute.getTime();
    const bits = BigInt(r.bits);
    const rec = out.get(r.agent_id)!;
    const last = r.last_at.getTime();
    for (let s = 0; s < 60; s++) {
      if ((bits >> BigInt(s)) & 1n) {
        // The second of the minute's last action is that action, exactly.
        const at = base + s * 1000 === last - (last % 1000) ? last : base + s * 1000 + 500;
        if (at >= from && at < to) rec.actions.push(at);
      }
    }
  }
  const { rows } = await db.query(
    `SELECT agent_id, at, kind, type, client_ts, ticket_id, device_id, connected, data FROM agent_record
      WHERE day BETWEEN $3::date AND $4::date AND tenant = $1 AND agent_id = ANY($2::text[])
        AND at >= to_timestamp($5 / 1000.0) AND at < to_timestamp($6 / 1000.0)
      ORDER BY agent_id, at, id`,
    [tenant, agentIds, days[0], days[1], from, to],
  );
  for (const r of rows) {
    const rec = out.get(r.agent_id)!;
    const at = (r.at as Date).getTime();
    if (r.kind === 'device') rec.devices.push({ at, deviceId: r.device_id, connected: r.connected });
    else
      rec.events.push({
        at,
        type: r.type,
        ts: Number(r.client_ts),
        ...(r.ticket_id ? { ticketId: r.ticket_id } : {}),
        ...(r.data ? { data: r.data } : {}),
      });
  }
  return out;
}

/** What the simulator needs of each agent at the start of a range: HCM's status then, and when the agent was created. */
export interface AgentAt {
  agentId: string;
  createdAt: number;
  businessLine: string;
  skillGroups: string[];
  channels: string[];
  /** The last committed change before the range (none: the agent's first status, ONLINE since creation). */
  last: { to: Status; from: Status; cause: string; at: number } | null;
  /** Its latest action before the range, from the record (a day back at most). */
  lastActionAt: number | null;
  /** Tickets open at the start, from the record's ticket events (a day back at most). */
  openTickets: string[];
}

/** The people of a tenant with their rule subject, for picking whom a rule change affects. */
export async function tenantPeople(db: Queryable, tenant: string) {
  const { rows } = await db.query(
    `SELECT agent_id, business_line, skill_groups, channels FROM agents
      WHERE tenant = $1 AND kind = 'person' ORDER BY agent_id`,
    [tenant],
  );
  return rows.map((r) => ({
    agentId: r.agent_id as string,
    businessLine: r.business_line as string,
    skillGroups: r.skill_groups as string[],
    channels: r.channels as string[],
  }));
}

/** Each agent as it was at `at` (see AgentAt). */
export async function agentsAt(db: Queryable, tenant: string, agentIds: string[], at: number): Promise<AgentAt[]> {
  const { rows } = await db.query(
    `SELECT a.agent_id, a.created_at, a.business_line, a.skill_groups, a.channels,
            l.to_status, l.from_status, l.cause, l.committed_at
       FROM agents a
       LEFT JOIN LATERAL (SELECT to_status, from_status, cause, committed_at FROM unified_work_status_log l
                           WHERE l.tenant = a.tenant AND l.agent_id = a.agent_id AND l.committed_at < to_timestamp($3 / 1000.0)
                           ORDER BY l.version DESC LIMIT 1) l ON true
      WHERE a.tenant = $1 AND a.agent_id = ANY($2::text[]) ORDER BY a.agent_id`,
    [tenant, agentIds, at],
  );
  const dayBack = at - 86_400_000;
  const before = await readRecord(db, tenant, agentIds, dayBack, at);
  return rows.map((r) => {
    const rec = before.get(r.agent_id)!;
    const open = new Set<string>();
    for (const e of rec.events) {
      if (e.ticketId && opensTask(e.type)) open.add(e.ticketId);
      if (e.ticketId && closesTask(e.type)) open.delete(e.ticketId);
    }
    return {
      agentId: r.agent_id,
      createdAt: (r.created_at as Date).getTime(),
      businessLine: r.business_line,
      skillGroups: r.skill_groups,
      channels: r.channels,
      last: r.to_status
        ? { to: r.to_status, from: r.from_status, cause: r.cause, at: (r.committed_at as Date).getTime() }
        : null,
      lastActionAt: rec.actions.at(-1) ?? null,
      openTickets: [...open],
    };
  });
}

/** Status changes people asked for through the API (supervisors, agents' own requests) in [from, to). */
export async function manualChanges(db: Queryable, tenant: string, agentIds: string[], from: number, to: number) {
  const { rows } = await db.query(
    `SELECT agent_id, committed_at, to_status, actor, reason FROM unified_work_status_log
      WHERE tenant = $1 AND agent_id = ANY($2::text[]) AND dedupe_key LIKE 'manual:%'
        AND committed_at >= to_timestamp($3 / 1000.0) AND committed_at < to_timestamp($4 / 1000.0)
      ORDER BY agent_id, version`,
    [tenant, agentIds, from, to],
  );
  return rows.map((r) => ({
    agentId: r.agent_id as string,
    at: (r.committed_at as Date).getTime(),
    status: r.to_status as Status,
    actor: r.actor as string,
    reason: r.reason as string | null,
  }));
}

/** The changes HCM committed in [from, to), for comparing with a simulation of the rule then in force. */
export async function committedChanges(db: Queryable, tenant: string, agentIds: string[], from: number, to: number) {
  const { rows } = await db.query(
    `SELECT agent_id, committed_at, from_status, to_status, cause FROM unified_work_status_log
      WHERE tenant = $1 AND agent_id = ANY($2::text[])
        AND committed_at >= to_timestamp($3 / 1000.0) AND committed_at < to_timestamp($4 / 1000.0)
      ORDER BY agent_id, version`,
    [tenant, agentIds, from, to],
  );
  return rows.map((r) => ({
    agentId: r.agent_id as string,
    at: (r.committed_at as Date).getTime(),
    from: r.from_status as Status,
    to: r.to_status as Status,
    cause: r.cause as string,
  }));
}
