// The floor as `GET /v1/floor` answers it, from the aggregates db/floor.ts reads: counts per status
// overall, per business line and per skill group, and the last hour minute by minute, walked back
// from the current counts through the status changes committed since.
import type { FloorCount, FloorSnapshot } from '../db/floor.ts';
import { STATUSES, type Status } from '../workflows/model.ts';

export type StatusCounts = Record<Status, number>;

export interface Floor {
  at: string;
  total: number;
  byStatus: StatusCounts;
  byBusinessLine: { businessLine: string; total: number; byStatus: StatusCounts }[];
  bySkillGroup: { skillGroup: string; total: number; byStatus: StatusCounts }[];
  history: { stepSec: number; points: { at: string; byStatus: StatusCounts }[] };
}

/** One point a minute over the last hour, both ends included: 61 points, the last one now. */
export const FLOOR_HISTORY = { stepSec: 60, points: 61 } as const;

const zero = (): StatusCounts => ({ ONLINE: 0, IDLE: 0, BUSY: 0, ABNORMAL: 0, OFFLINE: 0 });
const isStatus = (s: string): s is Status => (STATUSES as readonly string[]).includes(s);
const sum = (c: StatusCounts) => STATUSES.reduce((n, s) => n + c[s], 0);

/** Counts of one kind of group, one entry per key with all five statuses, sorted by key. */
function groups(counts: FloorCount[]): { key: string; total: number; byStatus: StatusCounts }[] {
  const byKey = new Map<string, StatusCounts>();
  for (const c of counts) {
    if (!isStatus(c.status)) continue;
    const k = byKey.get(c.key) ?? zero();
    k[c.status] += c.n;
    byKey.set(c.key, k);
  }
  return [...byKey.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => ({ key, total: sum(byKey.get(key)!), byStatus: byKey.get(key)! }));
}

/**
 * The answer of `GET /v1/floor`. History: each committed change moved one agent from `from` to
 * `to`, so undoing the changes committed after an instant, newest first, gives the counts at that
 * instant. An agent created within the window has no log row for its creation, so it counts at
 * every earlier point too, in the status it had before its first logged change (ONLINE, the
 * status agents start in): the total is the same at every point. This relies on every status
 * change having its log row, which HCM writes in the same transaction.
 */
export function floorView(snap: FloorSnapshot, history: { stepSec: number; points: number } = FLOOR_HISTORY): Floor {
  const byStatus = zero();
  for (const c of snap.byStatus) if (isStatus(c.status)) byStatus[c.status] += c.n;

  // moves[p]: the changes to undo when stepping back from point p to point p - 1.
  const moves = Array.from({ length: history.points }, () => [] as { from: Status; to: Status; n: number }[]);
  for (const { point, from, to, n } of snap.moves) {
    if (isStatus(from) && isStatus(to) && point >= 1 && point < history.points) moves[point]!.push({ from, to, n });
  }
  const at = snap.at.getTime();
  const points: Floor['history']['points'] = [];
  let counts = { ...byStatus };
  for (let p = history.points - 1; p >= 0; p--) {
    points.push({
      at: new Date(at - (history.points - 1 - p) * history.stepSec * 1000).toISOString(),
      byStatus: counts,
    });
    counts = { ...counts };
    for (const m of moves[p]!) {
      counts[m.to] -= m.n;
      counts[m.from] += m.n;
    }
  }
  points.reverse();

  return {
    at: snap.at.toISOString(),
    total: sum(byStatus),
    byStatus,
    byBusinessLine: groups(snap.byBusinessLine).map(({ key, ...g }) => ({ businessLine: key, ...g })),
    bySkillGroup: groups(snap.bySkillGroup).map(({ key, ...g }) => ({ skillGroup: key, ...g })),
    history: { stepSec: history.stepSec, points },
  };
}
