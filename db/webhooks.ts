// webhook_subscriptions and webhook_acks: admin-managed subscriptions and what each acknowledged.
import type { Queryable, Row } from './pool.ts';

export interface WebhookFilter {
  businessLines?: string[];
  statuses?: string[];
  topics?: ('status' | 'reminder')[];
}

export interface WebhookInput {
  url: string;
  /** Required to create; left out on an update, the subscription keeps its secret. */
  secret?: string;
  filter?: WebhookFilter;
  enabled?: boolean;
}

export interface Webhook {
  tenant: string;
  id: string;
  url: string;
  secret: string;
  filter: WebhookFilter;
  enabled: boolean;
  /** The lane its deliveries use in outbox_deliveries. */
  lane: string;
  createdAt: string;
  updatedAt: string;
}

/** The internal lane of a subscription ('webhook:<tenant>:<id>', as the generated column says). */
export const webhookLane = (tenant: string, id: string) => `webhook:${tenant}:${id}`;

const toWebhook = (r: Row): Webhook => ({
  tenant: r.tenant,
  id: r.id,
  url: r.url,
  secret: r.secret,
  enabled: r.enabled,
  lane: r.lane,
  filter: {
    ...(r.business_lines ? { businessLines: r.business_lines } : {}),
    ...(r.statuses ? { statuses: r.statuses } : {}),
    ...(r.topics ? { topics: r.topics } : {}),
  },
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Upsert; returns the subscription and whether it was created. */
export async function putWebhook(
  db: Queryable,
  tenant: string,
  id: string,
  w: WebhookInput,
): Promise<{ webhook: Webhook; created: boolean } | undefined> {
  if (w.secret === undefined) return updateWebhook(db, tenant, id, w);
  const { rows } = await db.query(
    `INSERT INTO webhook_subscriptions (tenant, id, url, secret, business_lines, statuses, topics, enabled)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant, id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret,
       business_lines = EXCLUDED.business_lines, statuses = EXCLUDED.statuses, topics = EXCLUDED.topics,
       enabled = EXCLUDED.enabled, updated_at = now()
     RETURNING *, (xmax = 0) AS created`,
    [
      tenant,
      id,
      w.url,
      w.secret,
      w.filter?.businessLines ?? null,
      w.filter?.statuses ?? null,
      w.filter?.topics ?? null,
      w.enabled ?? true,
    ],
  );
  await notifySubscriptionsChanged(db);
  return { webhook: toWebhook(rows[0]), created: rows[0].created };
}

/** An update that keeps the secret; undefined when there is no such subscription. */
async function updateWebhook(db: Queryable, tenant: string, id: string, w: WebhookInput) {
  const { rows } = await db.query(
    `UPDATE webhook_subscriptions SET url = $3, business_lines = $4, statuses = $5, topics = $6, enabled = $7, updated_at = now()
      WHERE tenant = $1 AND id = $2 RETURNING *`,
    [
      tenant,
      id,
      w.url,
      w.filter?.businessLines ?? null,
      w.filter?.statuses ?? null,
      w.filter?.topics ?? null,
      w.enabled ?? true,
    ],
  );
  if (!rows[0]) return undefined;
  await notifySubscriptionsChanged(db);
  return { webhook: toWebhook(rows[0]), created: false };
}

export async function listWebhooks(db: Queryable, tenant?: string): Promise<Webhook[]> {
  const { rows } = await db.query(
    `SELECT * FROM webhook_subscriptions WHERE ($1::text IS NULL OR tenant = $1) ORDER BY tenant, id`,
    [tenant ?? null],
  );
  return rows.map(toWebhook);
}

export async function enabledWebhooks(db: Queryable): Promise<Webhook[]> {
  const { rows } = await db.query(`SELECT * FROM webhook_subscriptions WHERE enabled ORDER BY lane`);
  return rows.map(toWebhook);
}

/** Deletes the subscription with its acks and its undelivered rows; false when there was none. */
export async function deleteWebhook(db: Queryable, tenant: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1 AND id = $2`, [tenant, id]);
  if (!rowCount) return false;
  await db.query(`DELETE FROM outbox_deliveries WHERE lane = $1 AND state <> 'done'`, [webhookLane(tenant, id)]);
  await notifySubscriptionsChanged(db);
  return true;
}

/** Dispatchers LISTEN here and start or stop lanes at once (they also re-read periodically). */
export const WEBHOOKS_CHANNEL = 'vigil_webhooks';

async function notifySubscriptionsChanged(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${WEBHOOKS_CHANNEL}', '')`);
}

/** A 2xx for a status change: the subscription has seen this agent up to `version`. */
export async function recordAck(
  db: Queryable,
  tenant: string,
  subscriptionId: string,
  agentId: string,
  version: number,
): Promise<void> {
  await db.query(
    `INSERT INTO webhook_acks (tenant, subscription_id, agent_id, acked_version) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant, subscription_id, agent_id) DO UPDATE
       SET acked_version = GREATEST(webhook_acks.acked_version, EXCLUDED.acked_version), acked_at = now()`,
    [tenant, subscriptionId, agentId, version],
  );
}

export async function ackedVersion(
  db: Queryable,
  tenant: string,
  subscriptionId: string,
  agentId: string,
): Promise<number | undefined> {
  const { rows } = await db.query(
    `SELECT acked_version FROM webhook_acks WHERE tenant = $1 AND subscription_id = $2 AND agent_id = $3`,
    [tenant, subscriptionId, agentId],
  );
  return rows[0]?.acked_version;
}

/**
 * Reconciliation: for each enabled subscription and agent whose acknowledged version is behind
 * status_table.version, with nothing pending in that lane for the agent, re-enqueues the agent's
 * latest status outbox row (a dead one becomes pending again). Only changes committed after the
 * subscription was created and that its filter selects are owed. Returns the re-enqueued rows.
 */
export async function reenqueueBehind(
  db: Queryable,
  limit = 1000,
): Promise<{ lane: string; outboxId: number; agentId: string; version: number }[]> {
  const { rows } = await db.query(
    `WITH owed AS (
       SELECT s.lane, o.id AS outbox_id, st.agent_id, st.version
         FROM webhook_subscriptions s
         JOIN status_table st ON st.tenant = s.tenant
         JOIN agents a ON a.tenant = st.tenant AND a.agent_id = st.agent_id
         JOIN status_change_outbox o
           ON o.tenant = st.tenant AND o.agent_id = st.agent_id AND o.topic = 'status' AND o.version = st.version
         LEFT JOIN webhook_acks k ON k.tenant = s.tenant AND k.subscription_id = s.id AND k.agent_id = st.agent_id
        WHERE s.enabled AND st.version > COALESCE(k.acked_version, 0)
          AND o.created_at >= s.created_at
          AND (s.topics IS NULL OR 'status' = ANY (s.topics))
          AND (s.statuses IS NULL OR o.payload->>'status' = ANY (s.statuses))
          AND (s.business_lines IS NULL OR a.business_line = ANY (s.business_lines))
          AND NOT EXISTS (
                SELECT 1 FROM outbox_deliveries d JOIN status_change_outbox p ON p.id = d.outbox_id
                 WHERE d.lane = s.lane AND d.state = 'pending' AND p.tenant = st.tenant AND p.agent_id = st.agent_id)
        LIMIT $1)
     INSERT INTO outbox_deliveries (lane, outbox_id)
     SELECT lane, outbox_id FROM owed
     ON CONFLICT (lane, outbox_id) DO UPDATE
       SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, delivered_at = NULL
     RETURNING lane, outbox_id`,
    [limit],
  );
  if (rows.length === 0) return [];
  const { rows: details } = await db.query(
    `SELECT id, agent_id, version FROM status_change_outbox WHERE id = ANY($1::bigint[])`,
    [rows.map((r) => r.outbox_id)],
  );
  const byId = new Map(details.map((d) => [d.id, d]));
  return rows.map((r) => ({
    lane: r.lane,
    outboxId: r.outbox_id,
    agentId: byId.get(r.outbox_id)!.agent_id,
    version: byId.get(r.outbox_id)!.version,
  }));
}
