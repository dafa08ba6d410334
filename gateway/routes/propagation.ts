// Routes for propagation (README "Propagation"): webhook subscriptions and dead letters, admin
// only, always within the token's tenant. Lanes are named 'feed', 'push' and 'webhook:<id>' here.
import type { FastifyInstance } from 'fastify';
import { listDeadLetters, notifyOutbox, redriveDeadLetters } from '../../db/deliveries.ts';
import {
  deleteWebhook,
  listWebhooks,
  putWebhook,
  webhookLane,
  type Webhook,
  type WebhookInput,
} from '../../db/webhooks.ts';
import { refusedTarget } from '../../platform/address-policy.ts';
import { ID_CHARS, ID_MAX } from '../../platform/ids.ts';
import { authenticate, fail, type GatewayDeps } from '../http.ts';
import { AUTHED, errors, idParams, NO_QUERY, STATUS } from '../schemas.ts';

const LANE = { type: 'string', pattern: `^(feed|push|webhook:${ID_CHARS}{1,${ID_MAX}})$` } as const;
const STRINGS = (items: object) => ({ type: 'array', items, minItems: 1, maxItems: 100, uniqueItems: true });

const webhookInput = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', format: 'uri', maxLength: 2048 },
    secret: { type: 'string', minLength: 16, maxLength: 256 },
    filter: {
      type: 'object',
      additionalProperties: false,
      properties: {
        businessLines: STRINGS({ type: 'string', minLength: 1, maxLength: 128 }),
        statuses: STRINGS(STATUS),
        topics: STRINGS({ type: 'string', enum: ['status', 'reminder'] }),
      },
    },
    enabled: { type: 'boolean', default: true },
  },
} as const;

const webhookOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    lane: { type: 'string' },
    enabled: { type: 'boolean' },
    filter: { type: 'object', additionalProperties: true },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

/** What an admin sees: no secret, the public lane name. */
const view = (w: Webhook) => ({
  id: w.id,
  url: w.url,
  lane: `webhook:${w.id}`,
  enabled: w.enabled,
  filter: w.filter,
  createdAt: w.createdAt,
  updatedAt: w.updatedAt,
});

const internalLane = (tenant: string, lane: string) =>
  lane.startsWith('webhook:') ? webhookLane(tenant, lane.slice(8)) : lane;
const publicLane = (tenant: string, lane: string) => lane.replace(`webhook:${tenant}:`, 'webhook:');

export async function propagationRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const admin = { roles: ['admin'] } as const;

  app.put<{ Params: { id: string }; Body: WebhookInput }>(
    '/v1/webhooks/:id',
    {
      config: admin,
      schema: {
        summary:
          'Creates (201) or replaces (200) a webhook subscription; an update may leave out the secret to keep it',
        params: idParams('id'),
        body: webhookInput,
        response: { 200: webhookOut, 201: webhookOut, ...AUTHED },
      },
    },
    async (req, reply) => {
      const url = new URL(req.body.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        return fail(reply, 400, 'BAD_REQUEST', 'body/url must be http or https');
      const refused = await refusedTarget(url, { allowPrivate: d.webhookAllowPrivate ?? false });
      if (refused) return fail(reply, 400, 'BAD_REQUEST', `body/url: ${refused}`);
      const saved = await putWebhook(d.pool, req.principal!.tenant, req.params.id, req.body);
      // An update may leave the secret out (e.g. to disable a subscription); a new one needs it.
      if (!saved) return fail(reply, 400, 'BAD_REQUEST', `body/secret: required to create webhook ${req.params.id}`);
      const { webhook, created } = saved;
      return reply.code(created ? 201 : 200).send(view(webhook));
    },
  );

  app.get(
    '/v1/webhooks',
    {
      config: admin,
      schema: {
        summary: "The tenant's webhook subscriptions (without their secrets)",
        querystring: NO_QUERY,
        response: {
          200: { type: 'object', properties: { webhooks: { type: 'array', items: webhookOut } } },
          ...AUTHED,
        },
      },
    },
    async (req) => ({ webhooks: (await listWebhooks(d.pool, req.principal!.tenant)).map(view) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    {
      config: admin,
      schema: {
        summary: 'Deletes a webhook subscription',
        params: idParams('id'),
        response: { 204: { type: 'null' }, ...AUTHED, ...errors(404) },
      },
    },
    async (req, reply) => {
      if (!(await deleteWebhook(d.pool, req.principal!.tenant, req.params.id)))
        return fail(reply, 404, 'NOT_FOUND', `no webhook ${req.params.id}`);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { lane?: string; limit?: number } }>(
    '/v1/dead-letters',
    {
      config: admin,
      schema: {
        summary: 'Dead letters of the tenant, per lane (feed, push, webhook:<id>)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { lane: LANE, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              deadLetters: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    lane: { type: 'string' },
                    outboxId: { type: 'integer' },
                    eventId: { type: 'string' },
                    agentId: { type: 'string' },
                    topic: { type: 'string' },
                    version: { type: 'integer' },
                    attempts: { type: 'integer' },
                    lastError: { type: ['string', 'null'] },
                    committedAt: { type: 'string' },
                  },
                },
              },
            },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const t = req.principal!.tenant;
      const rows = await listDeadLetters(
        d.pool,
        t,
        req.query.lane && internalLane(t, req.query.lane),
        req.query.limit ?? 100,
      );
      return { deadLetters: rows.map((r) => ({ ...r, lane: publicLane(t, r.lane) })) };
    },
  );

  app.post<{ Body: { lane: string; outboxIds?: number[] } }>(
    '/v1/dead-letters/redrive',
    {
      config: admin,
      schema: {
        summary: "Sends a lane's dead letters (all, or these outbox ids) again",
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['lane'],
          properties: {
            lane: LANE,
            outboxIds: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 10_000 },
          },
        },
        response: { 200: { type: 'object', properties: { redriven: { type: 'integer' } } }, ...AUTHED, ...errors(404) },
      },
    },
    async (req, reply) => {
      const t = req.principal!.tenant;
      const redriven = await redriveDeadLetters(d.pool, t, internalLane(t, req.body.lane), req.body.outboxIds);
      if (redriven > 0) await notifyOutbox(d.pool);
      if (redriven === 0 && req.body.outboxIds)
        return fail(reply, 404, 'NOT_FOUND', 'none of these outbox ids is a dead letter of the lane');
      return { redriven };
    },
  );
}
