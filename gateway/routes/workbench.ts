// The workbench's HTTP fallback (docs/PROTOCOL.md "HTTP fallback"): `POST /v1/events` while the
// websocket is down, and `GET /v1/messages?after=` for the pushes it may have missed.
import type { FastifyInstance } from 'fastify';
import { listPushMessages } from '../../db/push.ts';
import { MAX_EVENTS_PER_FRAME } from '../../sdk/protocol.ts';
import { authenticate, fail, type GatewayDeps } from '../http.ts';
import { AUTHED, ID } from '../schemas.ts';

/** `GET /v1/messages` reads pushes this recent (the contract promises at least 10 minutes). */
const MESSAGES_WINDOW_MIN = 15;

const RECEIPT = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['receipt'] },
    accepted: { type: 'array', items: { type: 'string' } },
    duplicates: { type: 'array', items: { type: 'string' } },
    rejected: {
      type: 'array',
      items: {
        type: 'object',
        properties: { reqId: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    retry: {
      type: 'array',
      items: { type: 'string' },
      description: 'Not stored (a dependency failed): send these again',
    },
  },
} as const;

export async function workbenchRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const core = app.vigil;

  app.post<{ Body: { deviceId: string; events: unknown[] } }>(
    '/v1/events',
    {
      config: { roles: ['agent', 'instance'], eventsInReceipt: true },
      schema: {
        summary:
          'Events from a workbench whose websocket is down; answered with a receipt (bad events are rejected in it)',
        body: {
          type: 'object',
          required: ['deviceId', 'events'],
          additionalProperties: false,
          properties: {
            deviceId: ID,
            // Events are checked one by one (gateway/frames.ts), so a newer client's fields inside one are
            // dropped rather than refused; the body itself stays strict, as every route's.
            events: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_EVENTS_PER_FRAME,
              description:
                'Events as on the websocket, checked one by one: a bad one is rejected in the receipt, and fields of an event this gateway does not know are ignored (docs/PROTOCOL.md "Versions and compatibility")',
            },
          },
        },
        response: { 200: RECEIPT, ...AUTHED },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      const refused = core.eventsRefused(p.tenant, p.sub, req.body.events.length);
      if (refused) return fail(reply, 429, 'RATE_LIMITED', refused.message);
      await core.ensureAgent(p.tenant, p.sub, p.role === 'instance' ? 'service' : 'person');
      // A device only heard over HTTP counts as connected until it goes silent (the sweeper expires it).
      const fresh = await core.presence.httpDevice(p.tenant, p.sub, req.body.deviceId).catch((err) => {
        core.log.warn({ err }, 'http device bookkeeping failed');
        return false;
      });
      if (fresh) core.device(p.tenant, p.sub, req.body.deviceId, true);
      return core.ingest(p.tenant, p.sub, req.body.deviceId, req.body.events, 'http');
    },
  );

  app.get<{ Querystring: { after?: string; limit: number } }>(
    '/v1/messages',
    {
      config: { roles: ['agent', 'instance'] },
      schema: {
        summary: `The agent's pushes after \`after\` (a msgId), oldest first, from the last ${MESSAGES_WINDOW_MIN} minutes`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'string', pattern: '^m-[0-9]{1,18}$' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              messages: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { msgId: { type: 'string' }, topic: { type: 'string' }, data: {} },
                },
              },
            },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const p = req.principal!;
      const after = req.query.after ? req.query.after.slice(2) : '0';
      return { messages: await listPushMessages(d.pool, p.tenant, p.sub, after, req.query.limit, MESSAGES_WINDOW_MIN) };
    },
  );
}
