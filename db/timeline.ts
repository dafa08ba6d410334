// HCM's side of an agent's timeline: committed status changes, region switches and the delivery of
// each outbox row per lane. The workflow's own timeline (events, candidates, rejections) comes from its query.
import type { Queryable } from './pool.ts';

export interface TimelineRow {
  at: string;
  source: 'hcm' | 'delivery';
  kind: 'commit' | 'region' | 'delivery';
  detail: string;
}

/** The newest `limit` commits, region switches and deliveries of one agent, newest first. */
export async function hcmTimeline(
  db: Queryable,
  tenant: string,
  agentId: string,
  limit: number,
): Promise<TimelineRow[]> {
  const [commits, switches, deliveries] = await Promise.all([
    db.query(
      `SELECT committed_at, version, from_status, to_status, cause, actor, rule_id, rule_version, region
         FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2 ORDER BY id DESC LIMIT $3`,
      [tenant, agentId, limit],
    ),
    db.query(
      `SELECT switched_at, from_region, to_region, actor, reason
         FROM agent_region_log WHERE tenant = $1 AND agent_id = $2 ORDER BY id DESC LIMIT $3`,
      [tenant, agentId, limit],
    ),
    db.query(
      `SELECT d.lane, d.state, d.attempts, d.last_error, d.delivered_at, o.created_at, o.topic, o.version
         FROM status_change_outbox o JOIN outbox_deliveries d ON d.outbox_id = o.id
        WHERE o.tenant = $1 AND o.agent_id = $2 ORDER BY o.id DESC, d.lane LIMIT $3`,
      [tenant, agentId, limit],
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
