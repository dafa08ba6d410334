import type pg from 'pg';
import { closesTask, isAction, opensTask, type AgentEvent } from '../workflows/model.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Records accepted client events as HCM facts, in the caller's transaction: reqId dedupe, open
 * tasks, last action. Returns the reqIds that were new; the others were duplicates.
 */
export async function recordEvents(db: Queryable, tenant: string, agentId: string, events: AgentEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const { rows } = await db.query<{ req_id: string }>(
    `INSERT INTO event_dedupe (tenant, agent_id, req_id) SELECT $1, $2, unnest($3::text[])
     ON CONFLICT DO NOTHING RETURNING req_id`,
    [tenant, agentId, events.map((e) => e.reqId)],
  );
  const fresh = new Set(rows.map((r) => r.req_id));
  const accepted = events.filter((e) => fresh.has(e.reqId));
  for (const e of accepted) {
    if (!e.ticketId || !(opensTask(e.type) || closesTask(e.type))) continue;
    await db.query(
      `INSERT INTO tasks (tenant, agent_id, ticket_id, state, last_event_type) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, agent_id, ticket_id) DO UPDATE SET state = EXCLUDED.state,
         last_event_type = EXCLUDED.last_event_type, updated_at = now()`,
      [tenant, agentId, e.ticketId, opensTask(e.type) ? 'open' : 'closed', e.type],
    );
  }
  const actions = accepted.filter((e) => isAction(e.type)).map((e) => Math.min(e.ts, Date.now()));
  if (actions.length > 0) {
    await db.query(
      `UPDATE status_table SET last_action_at = GREATEST(last_action_at, to_timestamp($3 / 1000.0))
        WHERE tenant = $1 AND agent_id = $2`,
      [tenant, agentId, Math.max(...actions)],
    );
  }
  return fresh;
}
