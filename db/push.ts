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
 * Writes one push message per outbox row (one row per outbox row: outbox_id is unique) and tells the
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
       -- A row delivered again (reconciliation, a redrive) is pushed again under its msgId and is
       -- readable by age again; a first delivery writes it once.
       ON CONFLICT (outbox_id) DO UPDATE SET created_at = now()
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

/**
 * Records that a device of the agent received its pushes `seqs` (an `ack` frame's `m-<seq>`
 * msgIds): the newest status version among them becomes the agent's acknowledged version when it
 * is newer. Pushes of other agents and reminders are ignored. Returns the version recorded, if any.
 */
export async function recordPushAcks(
  db: Queryable,
  tenant: string,
  agentId: string,
  seqs: number[],
): Promise<number | undefined> {
  const { rows } = await db.query<{ acked_version: string }>(
    `INSERT INTO push_acks AS k (tenant, agent_id, acked_version, acked_at)
     SELECT $1, $2, max((data->>'version')::bigint), now() FROM push_messages
      WHERE tenant = $1 AND agent_id = $2 AND seq = ANY($3::bigint[]) AND topic = 'status'
     HAVING count(*) > 0
     ON CONFLICT (tenant, agent_id) DO UPDATE SET acked_version = EXCLUDED.acked_version, acked_at = now()
       WHERE k.acked_version < EXCLUDED.acked_version
     RETURNING acked_version`,
    [tenant, agentId, seqs],
  );
  return rows[0] && Number(rows[0].acked_version);
}

/** The newest status version a workbench of the agent acknowledged (0 when none). */
export async function pushAckedVersion(db: Queryable, tenant: string, agentId: string): Promise<number> {
  const { rows } = await db.query<{ acked_version: string }>(
    'SELECT acked_version FROM push_acks WHERE tenant = $1 AND agent_id = $2',
    [tenant, agentId],
  );
  return rows[0] ? Number(rows[0].acked_version) : 0;
}

export interface PushReconcileOptions {
  /** The push lane's name (workers/lanes/push.ts). */
  lane: string;
  /** A status younger than this, or re-pushed less than this ago, still has time to be acked. */
  graceSec: number;
  /** Re-pushes of one version at most; a workbench that never acks is not pushed forever. */
  maxRepushes: number;
  limit: number;
}

/**
 * Push lane reconciliation: agents with a websocket device connected whose acknowledged status
 * version (push_acks) is behind status_table.version, with nothing pending in the push lane for
 * them, get their latest status outbox row delivered again (pending again; a dead one too). Each
 * version is re-pushed at most `maxRepushes` times, `graceSec` apart. Returns the re-enqueued rows.
 */
export async function reenqueueUnackedPushes(
  db: Queryable,
  o: PushReconcileOptions,
): Promise<{ outboxId: number; tenant: string; agentId: string; version: number }[]> {
  const { rows } = await db.query(
    `WITH owed AS (
       SELECT o.id AS outbox_id, st.tenant, st.agent_id, st.version
         FROM (SELECT DISTINCT tenant, agent_id FROM device_sessions WHERE via = 'ws') ds
         JOIN status_table st ON st.tenant = ds.tenant AND st.agent_id = ds.agent_id
         JOIN status_change_outbox o
           ON o.tenant = st.tenant AND o.agent_id = st.agent_id AND o.topic = 'status' AND o.version = st.version
         LEFT JOIN push_acks k ON k.tenant = st.tenant AND k.agent_id = st.agent_id
        WHERE st.version > COALESCE(k.acked_version, 0)
          AND o.created_at < now() - make_interval(secs => $2)
          AND (k.repushed_version IS DISTINCT FROM st.version
               OR (k.repushes < $3 AND k.repushed_at < now() - make_interval(secs => $2)))
          AND NOT EXISTS (
                SELECT 1 FROM outbox_deliveries d JOIN status_change_outbox p ON p.id = d.outbox_id
                 WHERE d.lane = $1 AND d.state = 'pending' AND p.tenant = st.tenant AND p.agent_id = st.agent_id)
        ORDER BY o.id
        LIMIT $4),
     marked AS (
       INSERT INTO push_acks AS k (tenant, agent_id, repushed_version, repushes, repushed_at)
       SELECT tenant, agent_id, version, 1, now() FROM owed
       ON CONFLICT (tenant, agent_id) DO UPDATE
         SET repushes = CASE WHEN k.repushed_version = EXCLUDED.repushed_version THEN k.repushes + 1 ELSE 1 END,
             repushed_version = EXCLUDED.repushed_version, repushed_at = now())
     INSERT INTO outbox_deliveries (lane, outbox_id)
     SELECT $1, outbox_id FROM owed
     ON CONFLICT (lane, outbox_id) DO UPDATE
       SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, delivered_at = NULL
     RETURNING outbox_id`,
    [o.lane, o.graceSec, o.maxRepushes, o.limit],
  );
  if (rows.length === 0) return [];
  const { rows: details } = await db.query(
    `SELECT id, tenant, agent_id, version FROM status_change_outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
    [rows.map((r) => r.outbox_id)],
  );
  return details.map((d) => ({
    outboxId: Number(d.id),
    tenant: d.tenant,
    agentId: d.agent_id,
    version: Number(d.version),
  }));
}

/**
 * Where a device's pushes stand (README "The gateway", push): the newest message it acknowledged.
 * A device seen for the first time starts from the agent's newest message (it is not sent the past).
 */
export async function deviceAckedSeq(
  db: Queryable,
  tenant: string,
  agentId: string,
  deviceId: string,
): Promise<number> {
  await db.query(
    `INSERT INTO push_device_acks (tenant, agent_id, device_id, acked_seq)
     SELECT $1, $2, $3, coalesce(max(seq), 0) FROM push_messages WHERE tenant = $1 AND agent_id = $2
     ON CONFLICT DO NOTHING`,
    [tenant, agentId, deviceId],
  );
  const { rows } = await db.query<{ acked_seq: number }>(
    'SELECT acked_seq FROM push_device_acks WHERE tenant = $1 AND agent_id = $2 AND device_id = $3',
    [tenant, agentId, deviceId],
  );
  return rows[0]?.acked_seq ?? 0;
}

/** A device acknowledged these messages (of its agent): its high-water mark moves up. */
export async function ackDevice(
  db: Queryable,
  tenant: string,
  agentId: string,
  deviceId: string,
  seqs: number[],
): Promise<void> {
  await db.query(
    `UPDATE push_device_acks SET acked_seq = GREATEST(acked_seq, m.top), acked_at = now()
       FROM (SELECT max(seq) AS top FROM push_messages WHERE tenant = $1 AND agent_id = $2 AND seq = ANY($4::bigint[])) m
      WHERE tenant = $1 AND agent_id = $2 AND device_id = $3 AND m.top IS NOT NULL`,
    [tenant, agentId, deviceId, seqs],
  );
}
