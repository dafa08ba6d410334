// The push lane's writes: push_messages rows the gateway forwards to each agent's workbench.
import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Writes one push message per outbox row (at most once: outbox_id is unique) and tells the
 * gateways on channel 'vigil_push' with `{tenant, agentId, seq, msgId}`. Run inside the
 * transaction that marks the deliveries done, so the notification goes out only with the commit.
 * Data (README "Push messages"): status → {status, statusCode, cause, since, version, from, eventId};
 * reminder → the reminder payload plus {version, eventId}.
 */
export async function writePushMessages(c: Queryable, outboxIds: number[]): Promise<number> {
  const { rows } = await c.query(
    `WITH ins AS (
       INSERT INTO push_messages (tenant, agent_id, outbox_id, topic, data)
       SELECT o.tenant, o.agent_id, o.id, o.topic,
              CASE WHEN o.topic = 'status' THEN jsonb_build_object(
                     'status', o.payload->'status', 'statusCode', o.payload->'statusCode', 'cause', o.payload->'cause',
                     'since', o.payload->'since', 'version', o.version, 'from', o.payload->'from', 'eventId', o.event_id)
                   ELSE o.payload || jsonb_build_object('version', o.version, 'eventId', o.event_id) END
         FROM status_change_outbox o WHERE o.id = ANY($1::bigint[]) ORDER BY o.id
       ON CONFLICT (outbox_id) DO NOTHING
       RETURNING seq, tenant, agent_id)
     SELECT count(pg_notify('vigil_push', json_build_object('tenant', tenant, 'agentId', agent_id, 'seq', seq, 'msgId', 'm-' || seq)::text))::int AS n
       FROM (SELECT * FROM ins ORDER BY seq) i`,
    [outboxIds],
  );
  return rows[0].n;
}
