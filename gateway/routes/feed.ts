// The status feed (docs/PROTOCOL.md "HTTP API"): committed status changes of the tenant in commit
// order, for service, admin and supervisor tokens (the operator console long-polls it for live
// updates), with an optional long poll.
import type { FastifyInstance } from 'fastify';
import { readFeed } from '../../db/feed.ts';
import { authenticate, type GatewayDeps } from '../http.ts';
import { AUTHED } from '../schemas.ts';

/** How often a long poll looks for new entries. */
const POLL_MS = 100;

const FEED_ENTRY = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    eventId: { type: 'string' },
    agentId: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    cause: { type: 'string' },
    actor: { type: 'string' },
    version: { type: 'integer' },
    committedAt: { type: 'string' },
  },
} as const;

export async function feedRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);

  app.get<{ Querystring: { after: number; limit: number; waitMs: number } }>(
    '/v1/status-changes',
    {
      config: { roles: ['service', 'admin', 'supervisor'] },
      schema: {
        summary: 'Committed status changes after `after` (a seq), oldest first; `waitMs` long-polls for the first one',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            waitMs: { type: 'integer', minimum: 0, maximum: 30_000, default: 0 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { changes: { type: 'array', items: FEED_ENTRY }, next: { type: 'integer' } },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const { after, limit, waitMs } = req.query;
      const until = Date.now() + waitMs;
      for (;;) {
        const changes = await readFeed(d.pool, req.principal!.tenant, after, limit);
        if (changes.length > 0 || Date.now() >= until) return { changes, next: changes.at(-1)?.seq ?? after };
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
  );
}
