// Routes for propagation (README "Propagation"): webhook subscriptions and dead letters, admin
// only, always within the token's tenant. Lanes are named 'feed', 'push' and 'webhook:<id>' here.
import type { FastifyInstance } from 'fastify';
import { listDeadLetters, redriveDeadLetters } from '../db/deliveries.ts';
import { deleteWebhook, listWebhooks, putWebhook, webhookLane, type Webhook, type WebhookInput } from '../db/webhooks.ts';
import { STATUSES } from '../workflows/model.ts';
import { refusedTarget } from '../platform/address-policy.ts';
import { ID_CHARS, ID_MAX, idParams } from '../platform/ids.ts';
import { bearerAuth, fail, requireRole, type GatewayDeps } from './http.ts';

const LANE = { type: 'string', pattern: `^(feed|push|webhook:${ID_CHARS}{1,${ID_MAX}})$` } as const;
const ERROR = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;
const STRINGS = (items: object) => ({ type: 'array', items, minItems: 1, maxItems: 100, uniqueItems: true });

const webhookInput = {
  type: 'object', additionalProperties: false, required: ['url', 'secret'],
  properties: {
    url: { type: 'string', format: 'uri', maxLength: 2048 },
    secret: { type: 'string', minLength: 16, maxLength: 256 },
    filter: {
      type: 'object', additionalProperties: false,
      properties: {
        businessLines: STRINGS({ type: 'string', minLength: 1, maxLength: 128 }),
        statuses: STRINGS({ type: 'string', enum: [...STATUSES] }),
        topics: STRINGS({ type: 'string', enum: ['status', 'reminder'] }),
      },
    },
    enabled: { type: 'boolean', default: true },
  },
} as const;

const webhookOut = {
  type: 'object',
  properties: {
    id: { type: 'string' }, url: { type: 'string' }, lane: { type: 'string' }, enabled: { type: 'boolean' },
    filter: { type: 'object', additionalProperties: true }, createdAt: { type: 'string' }, updatedAt: { type: 'string' },
  },
} as const;

/** What an admin sees: no secret, the public lane name. */
const view = (w: Webhook) => ({
  id: w.id, url: w.url, lane: `webhook:${w.id}`, enabled: w.enabled, filter: w.filter, createdAt: w.createdAt, updatedAt: w.updatedAt,
});

const internalLane = (tenant: string, lane: string) => (lane.startsWith('webhook:') ? webhookLane(tenant, lane.slice(8)) : lane);
const publicLane = (tenant: string, lane: string) => lane.replace(`webhook:${tenant}:`, 'webhook:');

export function registerPropagationRoutes(app: FastifyInstance, d: GatewayDeps): void {
  const admin = [bearerAuth(d), requireRole('admin')];
  const errors = { 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR };

  app.put<{ Params: { id: string }; Body: WebhookInput }>(
    '/v1/webhooks/:id',
    {
      preHandler: admin,
      schema: {
        params: idParams('id'),
        body: webhookInput,
        response: { 200: webhookOut, 201: webhookOut, ...errors },
      },
    },
    async (req, reply) => {
      const url = new URL(req.body.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(reply, 400, 'BAD_REQUEST', 'body/url must be http or https');
      const refused = await refusedTarget(url, { allowPrivate: d.webhookAllowPrivate ?? false });
      if (refused) return fail(reply, 400, 'BAD_REQUEST', `body/url: ${refused}`);
      const { webhook, created } = await putWebhook(d.pool, req.principal!.tenant, req.params.id, req.body);
      return reply.code(created ? 201 : 200).send(view(webhook));
    },
  );

  app.get(
    '/v1/webhooks',
    {
      preHandler: admin,
      schema: { response: { 200: { type: 'object', properties: { webhooks: { type: 'array', items: webhookOut } } }, ...errors } },
    },
    async (req) => ({ webhooks: (await listWebhooks(d.pool, req.principal!.tenant)).map(view) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { preHandler: admin, schema: { params: idParams('id'), response: errors } },
    async (req, reply) => {
      if (!(await deleteWebhook(d.pool, req.principal!.tenant, req.params.id))) return fail(reply, 404, 'NOT_FOUND', `no webhook ${req.params.id}`);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { lane?: string; limit?: number } }>(
    '/v1/dead-letters',
    {
      preHandler: admin,
      schema: {
        querystring: {
          type: 'object', additionalProperties: false,
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
                    lane: { type: 'string' }, outboxId: { type: 'integer' }, eventId: { type: 'string' }, agentId: { type: 'string' },
                    topic: { type: 'string' }, version: { type: 'integer' }, attempts: { type: 'integer' },
                    lastError: { type: ['string', 'null'] }, committedAt: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      const t = req.principal!.tenant;
      const rows = await listDeadLetters(d.pool, t, req.query.lane && internalLane(t, req.query.lane), req.query.limit ?? 100);
      return { deadLetters: rows.map((r) => ({ ...r, lane: publicLane(t, r.lane) })) };
    },
  );

  app.post<{ Body: { lane: string; outboxIds?: number[] } }>(
    '/v1/dead-letters/redrive',
    {
      preHandler: admin,
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['lane'],
          properties: { lane: LANE, outboxIds: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 10_000 } },
        },
        response: { 200: { type: 'object', properties: { redriven: { type: 'integer' } } }, ...errors },
      },
    },
    async (req, reply) => {
      const t = req.principal!.tenant;
      const redriven = await redriveDeadLetters(d.pool, t, internalLane(t, req.body.lane), req.body.outboxIds);
      if (redriven > 0) await d.pool.query(`SELECT pg_notify('vigil_outbox', '')`);
      if (redriven === 0 && req.body.outboxIds) return fail(reply, 404, 'NOT_FOUND', 'none of these outbox ids is a dead letter of the lane');
      return { redriven };
    },
  );
}
