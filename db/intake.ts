// Intake: the facts a frame of client events becomes (event_dedupe, tasks, last action on
// status_table) and intake_pending, the durable hand-over of urgent frames to their workflow.
import type { Queryable } from './pool.ts';
import { idKey } from '../platform/ids.ts';
import { EventType, closesTask, isAction, opensTask, type AgentEvent, type Status } from '../workflows/model.ts';
import { recordBeats, type ServiceBeat } from './fleet.ts';
import { recordActivity } from './record.ts';

export interface IntakeItem {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
}

/** What HCM knew of the agent inside the intake transaction, after applying the batch. */
export interface IntakeFacts {
  /** Committed status (null when the batch had no action, so the row was not touched). */
  status: Status | null;
  offlineByWindow: boolean;
  /** Open tasks before and after this batch's ticket events (equal when it had none). */
  tasksBefore: number;
  tasksAfter: number;
}

export interface IntakeResult {
  /** New events, in the item's order, stamped with `receivedAt`; the others were duplicates. */
  fresh: AgentEvent[];
  duplicates: string[];
  /** The `intake_pending` row holding `fresh` (when the item must reach its workflow durably). */
  pendingId: number | null;
  facts: IntakeFacts;
  /** `mustSignal` said yes: the workflow must hear of these events now. */
  urgent: boolean;
}

export interface IntakeOptions {
  /** Write `intake_pending` rows owned by this gateway (for frames `mustSignal` marks urgent). */
  gatewayId?: string;
  /** Which frames their workflow must hear of at once, judged from HCM's facts (default: none). */
  mustSignal?: (events: AgentEvent[], facts: IntakeFacts) => boolean;
  /** The gateway's clock, stamped on every event as `receivedAt` and written as the last action. */
  now?: number;
}

/**
 * Records accepted client events as HCM facts, in the caller's transaction and with one statement
 * per kind for any number of frames: reqId dedupe, open tasks, last action (the gateway's clock,
 * never the client's), and (with a gateway id) the `intake_pending` rows that keep urgent frames
 * until their workflow has them. Pure activity needs no such row: its effect is the fact itself.
 */
export async function recordIntake(db: Queryable, items: IntakeItem[], o: IntakeOptions = {}): Promise<IntakeResult[]> {
  const now = o.now ?? Date.now();
  // A reqId repeated within the batch counts for its first frame only.
  const seen = new Set<string>();
  const firsts = items.map((it) =>
    it.events.filter((e) => {
      const k = idKey(it.tenant, it.agentId, e.reqId);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
  );
  const all = items.flatMap((it, i) => firsts[i]!.map((e) => [it.tenant, it.agentId, e.reqId] as const));
  const inserted = new Set<string>();
  if (all.length > 0) {
    const { rows } = await db.query<{ tenant: string; agent_id: string; req_id: string }>(
      `INSERT INTO event_dedupe (tenant, agent_id, req_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1, 2, 3
       ON CONFLICT DO NOTHING RETURNING tenant, agent_id, req_id`,
      [all.map((r) => r[0]), all.map((r) => r[1]), all.map((r) => r[2])],
    );
    for (const r of rows) inserted.add(idKey(r.tenant, r.agent_id, r.req_id));
  }
  const results: IntakeResult[] = items.map((it, i) => {
    const fresh = firsts[i]!.filter((e) => inserted.has(idKey(it.tenant, it.agentId, e.reqId))).map((e) => ({
      ...e,
      receivedAt: now,
    }));
    const freshIds = new Set(fresh.map((e) => e.reqId));
    return {
      fresh,
      duplicates: it.events.filter((e) => !freshIds.has(e.reqId)).map((e) => e.reqId),
      pendingId: null,
      facts: { status: null, offlineByWindow: false, tasksBefore: 0, tasksAfter: 0 },
      urgent: false,
    };
  });

  // Task facts: rare, in event order (a ticket opened and completed in one batch ends closed).
  const taskAgents = new Map<string, { tenant: string; agentId: string }>();
  for (const [i, it] of items.entries()) {
    if (results[i]!.fresh.some((e) => e.ticketId && (opensTask(e.type) || closesTask(e.type)))) {
      taskAgents.set(idKey(it.tenant, it.agentId), { tenant: it.tenant, agentId: it.agentId });
    }
  }
  const openTasks = async () => {
    const n = new Map<string, number>();
    if (taskAgents.size === 0) return n;
    const a = [...taskAgents.values()];
    const { rows } = await db.query<{ tenant: string; agent_id: string; n: number }>(
      `SELECT v.tenant, v.agent_id, (SELECT count(*)::int FROM tasks t WHERE t.tenant = v.tenant AND t.agent_id = v.agent_id AND t.state = 'open') AS n
         FROM unnest($1::text[], $2::text[]) AS v(tenant, agent_id)`,
      [a.map((x) => x.tenant), a.map((x) => x.agentId)],
    );
    for (const r of rows) n.set(idKey(r.tenant, r.agent_id), r.n);
    return n;
  };
  const before = await openTasks();
  for (const [i, it] of items.entries()) {
    for (const e of results[i]!.fresh) {
      if (!e.ticketId || !(opensTask(e.type) || closesTask(e.type))) continue;
      await db.query(
        `INSERT INTO tasks (tenant, agent_id, ticket_id, state, last_event_type) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, agent_id, ticket_id) DO UPDATE SET state = EXCLUDED.state,
           last_event_type = EXCLUDED.last_event_type, updated_at = now()`,
        [it.tenant, it.agentId, e.ticketId, opensTask(e.type) ? 'open' : 'closed', e.type],
      );
    }
  }

  const after = await openTasks();

  // Instances' heartbeats (README "Fleet mode"): the latest per instance, at the gateway's clock.
  const beats: ServiceBeat[] = [];
  for (const [i, it] of items.entries()) {
    const last = results[i]!.fresh.filter(
      (e) => e.type === EventType.HEARTBEAT && typeof e.data?.['seq'] === 'number',
    ).at(-1);
    if (!last) continue;
    const metrics = last.data?.['metrics'];
    beats.push({
      tenant: it.tenant,
      agentId: it.agentId,
      seq: last.data!['seq'] as number,
      metrics: metrics && typeof metrics === 'object' ? (metrics as Record<string, number>) : null,
    });
  }
  await recordBeats(db, beats, now);

  // Last action per agent at the gateway's clock, rows locked in one order so concurrent writers
  // cannot deadlock. The row lock also orders this against an HCM commit: a window commit either
  // sees this action (and is rejected) or committed first, and then this batch sees its status.
  const acting = new Map<string, { tenant: string; agentId: string }>();
  for (const [i, it] of items.entries()) {
    if (results[i]!.fresh.some((e) => isAction(e.type)))
      acting.set(idKey(it.tenant, it.agentId), { tenant: it.tenant, agentId: it.agentId });
  }
  const statuses = new Map<string, { status: Status; offline_by_window: boolean }>();
  if (acting.size > 0) {
    const l = [...acting.values()].sort((a, b) => (a.tenant + a.agentId < b.tenant + b.agentId ? -1 : 1));
    const { rows } = await db.query<{ tenant: string; agent_id: string; status: Status; offline_by_window: boolean }>(
      `UPDATE status_table s SET last_action_at = GREATEST(s.last_action_at, to_timestamp($3 / 1000.0))
         FROM (SELECT * FROM unnest($1::text[], $2::text[]) AS u(tenant, agent_id)) v
        WHERE s.tenant = v.tenant AND s.agent_id = v.agent_id
        RETURNING s.tenant, s.agent_id, s.status, s.offline_by_window`,
      [l.map((x) => x.tenant), l.map((x) => x.agentId), now],
    );
    for (const r of rows) statuses.set(idKey(r.tenant, r.agent_id), r);
  }
  for (const [i, it] of items.entries()) {
    const r = results[i]!;
    const k = idKey(it.tenant, it.agentId);
    const st = statuses.get(k);
    r.facts = {
      status: st?.status ?? null,
      offlineByWindow: st?.offline_by_window ?? false,
      tasksBefore: before.get(k) ?? 0,
      tasksAfter: after.get(k) ?? 0,
    };
    r.urgent = r.fresh.length > 0 && (o.mustSignal?.(r.fresh, r.facts) ?? false);
  }

  // The activity record (README "Rule simulator"): seconds of activity and business events.
  await recordActivity(
    db,
    items.map((it, i) => ({
      tenant: it.tenant,
      agentId: it.agentId,
      fresh: results[i]!.fresh,
      urgent: results[i]!.urgent,
    })),
    now,
  );

  if (o.gatewayId !== undefined) {
    const gatewayId = o.gatewayId;
    const withFresh = results.map((r, i) => [r, i] as const).filter(([r]) => r.urgent);
    if (withFresh.length > 0) {
      // Ids drawn first, so each frame knows its row without relying on RETURNING order.
      const { rows: ids } = await db.query<{ id: number }>(
        `SELECT nextval(pg_get_serial_sequence('intake_pending', 'id'))::bigint AS id FROM generate_series(1, $1)`,
        [withFresh.length],
      );
      await db.query(
        `INSERT INTO intake_pending (id, tenant, agent_id, gateway_id, events)
         SELECT u.id, u.tenant, u.agent_id, $5, u.events FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[]) AS u(id, tenant, agent_id, events)`,
        [
          ids.map((r) => r.id),
          withFresh.map(([, i]) => items[i]!.tenant),
          withFresh.map(([, i]) => items[i]!.agentId),
          withFresh.map(([r]) => JSON.stringify(r.fresh)),
          gatewayId,
        ],
      );
      withFresh.forEach(([r], j) => (r.pendingId = Number(ids[j]!.id)));
    }
  }
  return results;
}

/** One agent's events (no intake row): returns the new ones, stamped with `receivedAt`. */
export async function recordEvents(
  db: Queryable,
  tenant: string,
  agentId: string,
  events: AgentEvent[],
): Promise<AgentEvent[]> {
  if (events.length === 0) return [];
  const [r] = await recordIntake(db, [{ tenant, agentId, events }]);
  return r!.fresh;
}

/** Forgets intake rows whose events the workflow has. */
export async function deletePending(db: Queryable, ids: number[]): Promise<void> {
  if (ids.length > 0) await db.query('DELETE FROM intake_pending WHERE id = ANY($1::bigint[])', [ids]);
}
