// The floor: how many of a tenant's agents are in each status, overall, per business line and per
// skill group, and the status changes of the last stretch of time, aggregated in Postgres (a
// tenant may have 50,000 agents: nothing here loads agents into Node). gateway/floor.ts shapes it.
import type { Queryable } from './pool.ts';

/** Agents in one status, within a group (`key`: a business line or a skill group; '' overall). */
export interface FloorCount {
  key: string;
  status: string;
  n: number;
}

/** `n` log rows moved an agent from `from` to `to` at a time that falls before history point `point`. */
export interface FloorMoves {
  point: number;
  from: string;
  to: string;
  n: number;
}

export interface FloorSnapshot {
  /** Postgres's clock when the snapshot was read: "now" for the counts and the history. */
  at: Date;
  byStatus: FloorCount[];
  byBusinessLine: FloorCount[];
  bySkillGroup: FloorCount[];
  /**
   * Status changes committed in the history window, counted per history point: a change committed
   * after point p-1 and at or before point p (points are `stepSec` apart, the last one `at`) has
   * `point` p, so it is undone for every point before p. Changes Postgres dated after `at` count
   * for the last point (`at` is when the statement began; a commit can land while it runs). The
   * same (point, from, to) may come more than once.
   */
  moves: FloorMoves[];
}

/**
 * One statement, so counts and log rows come from one snapshot: a change is in both or in neither.
 * `points` history points `stepSec` apart, the last one now.
 */
export async function floorSnapshot(
  db: Queryable,
  tenant: string,
  history: { stepSec: number; points: number },
): Promise<FloorSnapshot> {
  const { rows } = await db.query(
    `WITH cur AS MATERIALIZED (
       SELECT s.status, a.business_line, a.skill_groups
         FROM status_table s JOIN agents a USING (tenant, agent_id)
        WHERE s.tenant = $1 AND a.kind = 'person'
     ), win AS (
       SELECT $2::int AS step, $3::int - 1 AS last, now() - make_interval(secs => $2::int * ($3::int - 1)) AS start
     ), moves AS (
       -- Minute bins (date_bin: cheap per row, where there may be a million rows an hour) whose origin
       -- is a microsecond after the start: bin k holds the rows committed after point k and at or
       -- before point k + 1, timestamps having microseconds.
       SELECT date_bin(make_interval(secs => win.step), l.committed_at, win.start + interval '1 microsecond') AS bin,
              l.from_status, l.to_status
         FROM unified_work_status_log l, win
        WHERE l.tenant = $1 AND l.committed_at > win.start AND l.from_status <> l.to_status
          -- People only: instances' health (README "Fleet mode") is GET /v1/fleet/health.
          AND l.from_status IN ('ONLINE', 'IDLE', 'BUSY', 'ABNORMAL', 'OFFLINE')
          AND l.to_status IN ('ONLINE', 'IDLE', 'BUSY', 'ABNORMAL', 'OFFLINE')
     )
     SELECT now() AS at,
       (SELECT coalesce(json_agg(json_build_object('key', '', 'status', status, 'n', n)), '[]')
          FROM (SELECT status, count(*)::int AS n FROM cur GROUP BY status) x) AS by_status,
       (SELECT coalesce(json_agg(json_build_object('key', business_line, 'status', status, 'n', n)), '[]')
          FROM (SELECT business_line, status, count(*)::int AS n FROM cur GROUP BY business_line, status) x) AS by_business_line,
       (SELECT coalesce(json_agg(json_build_object('key', g, 'status', status, 'n', n)), '[]')
          FROM (SELECT g, status, count(*)::int AS n FROM cur CROSS JOIN LATERAL unnest(cur.skill_groups) AS g
                 GROUP BY g, status) x) AS by_skill_group,
       (SELECT coalesce(json_agg(json_build_object('point', least(win.last, floor(extract(epoch FROM bin - win.start) / win.step)::int + 1),
                 'from', from_status, 'to', to_status, 'n', n)), '[]')
          FROM (SELECT bin, from_status, to_status, count(*)::int AS n FROM moves GROUP BY bin, from_status, to_status) x, win) AS moves`,
    [tenant, history.stepSec, history.points],
  );
  const r = rows[0]!;
  return {
    at: r.at,
    byStatus: r.by_status,
    byBusinessLine: r.by_business_line,
    bySkillGroup: r.by_skill_group,
    moves: r.moves,
  };
}
