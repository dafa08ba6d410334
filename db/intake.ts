import type pg from 'pg';
import { closesTask, isAction, opensTask, type AgentEvent } from '../workflows/model.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface IntakeItem {
  tenant: string;
  agentId: string;
  events: AgentEvent[];
}

export interface IntakeResult {
  /** New events, in the item's order; the others were duplicates. */
  fresh: AgentEvent[];
  duplicates: string[];
  /** The `intake_pending` row holding `fresh` (when asked for one and something was new). */
  pendingId: number | null;
}

/**
 * Records accepted client events as HCM facts, in the caller's transaction and with one statement
 * per kind for any number of frames: reqId dedupe, open tasks, last action, and (with a gateway id)
 * the `intake_pending` rows that keep them until their workflow has them.
 */
export async function recordIntake(db: Queryable, items: IntakeItem[], gatewayId?: string): Promise<IntakeResult[]> {
  // A reqId repeated within the batch counts for its first frame only.
  const seen = new Set<string>();
  const firsts = items.map((it) =>
    it.events.filter((e) => {
      const k = `${it.tenant}\u0000${it.agentId}\u0000${e.reqId}`;
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
    for (const r of rows) inserted.add(`${r.tenant}\u0000${r.agent_id}\u0000${r.req_id}`);
  }
  const results: IntakeResult[] = items.map((it, i) => {
    const fresh = firsts[i]!.filter((e) => inserted.has(`${it.tenant}\u0000${it.agentId}\u0000${e.reqId}`));
    const freshIds = new Set(fresh.map((e) => e.reqId));
    return { fresh, duplicates: it.events.filter((e) => !freshIds.has(e.reqId)).map((e) => e.reqId), pendingId: null };
  });

  // Task facts: rare, in event order (a ticket opened and completed in one batch ends closed).
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

  // Last action per agent, rows locked in one order so concurrent writers cannot deadlock.
  const latest = new Map<string, { tenant: string; agentId: string; ts: number }>();
  const now = Date.now();
  for (const [i, it] of items.entries()) {
    for (const e of results[i]!.fresh) {
      if (!isAction(e.type)) continue;
      const k = `${it.tenant}\u0000${it.agentId}`;
      const ts = Math.min(e.ts, now);
      if ((latest.get(k)?.ts ?? -Infinity) < ts) latest.set(k, { tenant: it.tenant, agentId: it.agentId, ts });
    }
  }
  if (latest.size > 0) {
    const l = [...latest.values()].sort((a, b) => (a.tenant + a.agentId < b.tenant + b.agentId ? -1 : 1));
    await db.query(
      `UPDATE status_table s SET last_action_at = GREATEST(s.last_action_at, to_timestamp(v.ts / 1000.0))
         FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(tenant, agent_id, ts)) v
        WHERE s.tenant = v.tenant AND s.agent_id = v.agent_id`,
      [l.map((x) => x.tenant), l.map((x) => x.agentId), l.map((x) => x.ts)],
    );
  }

  if (gatewayId !== undefined) {
    const withFresh = results.map((r, i) => [r, i] as const).filter(([r]) => r.fresh.length > 0);
    if (withFresh.length > 0) {
      // Ids drawn first, so each frame knows its row without relying on RETURNING order.
      const { rows: ids } = await db.query<{ id: number }>(
        `SELECT nextval(pg_get_serial_sequence('intake_pending', 'id'))::bigint AS id FROM generate_series(1, $1)`,
        [withFresh.length],
      );
      await db.query(
        `INSERT INTO intake_pending (id, tenant, agent_id, gateway_id, events)
         SELECT u.id, u.tenant, u.agent_id, $5, u.events FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[]) AS u(id, tenant, agent_id, events)`,
        [ids.map((r) => r.id), withFresh.map(([, i]) => items[i]!.tenant), withFresh.map(([, i]) => items[i]!.agentId),
          withFresh.map(([r]) => JSON.stringify(r.fresh)), gatewayId],
      );
      withFresh.forEach(([r], j) => (r.pendingId = Number(ids[j]!.id)));
    }
  }
  return results;
}

/** One agent's events (no intake row): returns the reqIds that were new. */
export async function recordEvents(db: Queryable, tenant: string, agentId: string, events: AgentEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const [r] = await recordIntake(db, [{ tenant, agentId, events }]);
  return new Set(r!.fresh.map((e) => e.reqId));
}
