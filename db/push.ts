// push_messages: what the push lane writes and the gateways forward to each agent's workbench
// (live on 'vigil_push', or read back by `GET /v1/messages`).
import type { Queryable } from './pool.ts';
import type { PushMessage } from '../sdk/protocol.ts';

/** The channel a gateway LISTENs on: `{tenant, agentId, seq, msgId}` per new message. */
export const PUSH_CHANNEL = 'vigil_push';

const message = (r: { seq: number; topic: string; data: unknown }): PushMessage => ({
  msgId: `m-${r.seq}`,
  topic: r.topic,
  data: r.data,
});

/**
 * Writes one push message per outbox row (at most once: outbox_id is unique) and tells the
 * gateways on channel 'vigil_push' with `{tenant, agentId, seq, msgId}`. Run inside the
 * transaction that marks the deliveries done, so the notification goes out only with the commit.
 * Data (README "Propagation", **Push**): status → {status, statusCode, cause, since, version, from, eventId};
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
     SELECT count(pg_notify('${PUSH_CHANNEL}', json_build_object('tenant', tenant, 'agentId', agent_id, 'seq', seq, 'msgId', 'm-' || seq)::text))::int AS n
       FROM (SELECT * FROM ins ORDER BY seq) i`,
    [outboxIds],
  );
  return rows[0].n;
}

/** One message by its sequence number (what a 'vigil_push' notification names). */
export async function getPushMessage(db: Queryable, seq: number): Promise<PushMessage | undefined> {
  const { rows } = await db.query('SELECT seq, topic, data FROM push_messages WHERE seq = $1', [seq]);
  return rows[0] && message(rows[0]);
}

/** An agent's messages after `afterSeq` (oldest first), no older than `maxAgeMin` minutes. */
export async function listPushMessages(
  db: Queryable,
  tenant: string,
  agentId: string,
  afterSeq: string,
  limit: number,
  maxAgeMin: number,
): Promise<PushMessage[]> {
  const { rows } = await db.query(
    `SELECT seq, topic, data FROM push_messages
      WHERE tenant = $1 AND agent_id = $2 AND seq > $3::bigint AND created_at > now() - make_interval(mins => $5)
      ORDER BY seq LIMIT $4`,
    [tenant, agentId, afterSeq, limit, maxAgeMin],
  );
  return rows.map(message);
}
