// The workbench's HTTP fallback (PROTOCOL.md): `POST /v1/events` while the websocket is down, and
// `GET /v1/messages?after=` for the pushes it may have missed (kept at least 10 minutes).
import type { FastifyInstance } from 'fastify';
import { MAX_EVENTS_PER_FRAME } from '../sdk/protocol.ts';
import type { GatewayCore } from './core.ts';
import { ID_SCHEMA } from '../platform/ids.ts';
import { bearerAuth, fail, type GatewayDeps } from './http.ts';

export function registerWorkbenchRoutes(app: FastifyInstance, d: GatewayDeps, core: GatewayCore): void {
  const auth = bearerAuth(d);

  app.post<{ Body: { deviceId: string; events: unknown[] } }>(
    '/v1/events',
    {
      preHandler: auth,
      config: { eventsInReceipt: true },
      schema: {
        body: {
          type: 'object', required: ['deviceId', 'events'], additionalProperties: false,
          properties: {
            deviceId: ID_SCHEMA,
            events: { type: 'array', minItems: 1, maxItems: MAX_EVENTS_PER_FRAME },
          },
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.role !== 'agent') return fail(reply, 403, 'FORBIDDEN', 'only agent tokens send workbench events');
      const refused = core.eventsRefused(p.tenant, p.sub, req.body.events.length);
      if (refused) return fail(reply, 429, 'RATE_LIMITED', refused.message);
      await core.ensureAgent(p.tenant, p.sub);
      // A device only heard over HTTP counts as connected until it goes silent (the sweeper expires it).
      const fresh = await core.presence.httpDevice(p.tenant, p.sub, req.body.deviceId).catch((err) => {
        core.log.warn({ err }, 'http device bookkeeping failed');
        return false;
      });
      if (fresh) core.device(p.tenant, p.sub, req.body.deviceId, true);
      return core.ingest(p.tenant, p.sub, req.body.deviceId, req.body.events, 'http');
    },
  );

  app.get<{ Querystring: { after?: string; limit?: number } }>(
    '/v1/messages',
    {
      preHandler: auth,
      schema: {
        querystring: {
          type: 'object', additionalProperties: false,
          properties: {
            after: { type: 'string', pattern: '^m-[0-9]{1,18}$' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.role !== 'agent') return fail(reply, 403, 'FORBIDDEN', 'messages are read by the agent they are for');
      const after = req.query.after ? req.query.after.slice(2) : '0';
      const { rows } = await d.pool.query(
        `SELECT seq, topic, data FROM push_messages
          WHERE tenant = $1 AND agent_id = $2 AND seq > $3::bigint AND created_at > now() - interval '15 minutes'
          ORDER BY seq LIMIT $4`,
        [p.tenant, p.sub, after, req.query.limit ?? 100],
      );
      return { messages: rows.map((r) => ({ msgId: `m-${r.seq}`, topic: r.topic, data: r.data })) };
    },
  );
}
