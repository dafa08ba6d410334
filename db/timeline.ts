// HCM's side of an agent's timeline: committed status changes, region switches and the delivery of
// each outbox row per lane. The workflow's own timeline (events, candidates, rejections) comes from its query.
import type { Queryable } from './pool.ts';
import { readRecord } from './record.ts';

export interface TimelineRow {
  at: string;
  source: 'hcm' | 'delivery' | 'record';
  kind: 'commit' | 'region' | 'delivery' | 'event' | 'device' | 'activity';
  detail: string;
}

/** The newest `limit` commits, region switches and deliveries of one agent, newest first. */
export async function hcmTimeline(
  db: Queryable,
  tenant: string,
  agentId: string,
  limit: number,
  range: { from: number; to: number } = { from: 0, to: 8.64e15 },
): Promise<TimelineRow[]> {
  const [commits, switches, deliveries] = await Promise.all([
    db.query(
      `SELECT committed_at, version, from_status, to_status, cause, actor, rule_id, rule_version, region
         FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2
          AND committed_at >= to_timestamp($4 / 1000.0) AND committed_at < to_timestamp($5 / 1000.0)
        ORDER BY id DESC LIMIT $3`,
      [tenant, agentId, limit, range.from, range.to],
    ),
    db.query(
      `SELECT switched_at, from_region, to_region, actor, reason
         FROM agent_region_log WHERE tenant = $1 AND agent_id = $2
          AND switched_at >= to_timestamp($4 / 1000.0) AND switched_at < to_timestamp($5 / 1000.0)
        ORDER BY id DESC LIMIT $3`,
      [tenant, agentId, limit, range.from, range.to],
    ),
    db.query(
      `SELECT d.lane, d.state, d.attempts, d.last_error, d.delivered_at, o.created_at, o.topic, o.version
         FROM status_change_outbox o JOIN outbox_deliveries d ON d.outbox_id = o.id
        WHERE o.tenant = $1 AND o.agent_id = $2
          AND o.created_at >= to_timestamp($4 / 1000.0) AND o.created_at < to_timestamp($5 / 1000.0)
        ORDER BY o.id DESC, d.lane LIMIT $3`,
      [tenant, agentId, limit, range.from, range.to],
    ),
  ]);
  const rows: TimelineRow[] = [
    ...commits.rows.map((r) => ({
      at: r.committed_at.toISOString(),
      source: 'hcm' as const,
      kind: 'commit' as const,
      detail: `v${r.version} ${r.from_status}→${r.to_status} ${r.cause} by ${r.actor}${r.rule_id ? ` (rule ${r.rule_id} v${r.rule_version})` : ''}${r.region ? ` in ${r.region}` : ''}`,
    })),
    ...switches.rows.map((r) => ({
      at: r.switched_at.toISOString(),
      source: 'hcm' as const,
      kind: 'region' as const,
      detail: `region ${r.from_region} → ${r.to_region} by ${r.actor}: ${r.reason}`,
    })),
    ...deliveries.rows.map((r) => ({
      at: (r.delivered_at ?? r.created_at).toISOString(),
      source: 'delivery' as const,
      kind: 'delivery' as const,
      detail: `${r.lane} ${r.topic} v${r.version}: ${r.state}, ${r.attempts} attempts${r.last_error ? `, last error ${r.last_error}` : ''}`,
    })),
  ];
  return rows.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}

/**
 * The agent's activity record over [from, to) (README "Rule simulator"): business events and
 * device changes one by one, pure activity as one entry per minute with its active seconds.
 */
export async function recordTimeline(
  db: Queryable,
  tenant: string,
  agentId: string,
  from: number,
  to: number,
): Promise<TimelineRow[]> {
  const rec = (await readRecord(db, tenant, [agentId], from, to)).get(agentId)!;
  const perMinute = new Map<number, number>();
  for (const at of rec.actions) {
    const m = at - (at % 60_000);
    perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    ...rec.events.map((e) => ({
      at: iso(e.at),
      source: 'record' as const,
      kind: 'event' as const,
      detail: `type ${e.type}${e.ticketId ? ` ticket ${e.ticketId}` : ''}${e.data?.['status'] ? ` ${String(e.data['status'])}` : ''}`,
    })),
    ...rec.devices.map((x) => ({
      at: iso(x.at),
      source: 'record' as const,
      kind: 'device' as const,
      detail: `${x.deviceId} ${x.connected ? 'connected' : 'disconnected'}`,
    })),
    ...[...perMinute].map(([m, n]) => ({
      at: iso(m),
      source: 'record' as const,
      kind: 'activity' as const,
      detail: `active in ${n} of 60 seconds`,
    })),
  ];
}
