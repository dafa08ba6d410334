// What every HTTP route of the gateway shares: its dependencies, the one error shape and bearer auth.
import type { Client } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool.ts';
import type { GatewayTuning } from '../platform/config.ts';
import { badText } from '../platform/text.ts';
import { AGENT_TOKEN_MAX_SEC, verifyToken, type Principal, type Role } from '../platform/auth.ts';

export interface GatewayDeps {
  pool: Pool;
  temporal: Client;
  namespace: string;
  taskQueue: string;
  jwtSecret: string;
  /** Defaults come from the config loader's defaults. */
  tuning?: Partial<GatewayTuning>;
  /** Browser origins allowed on the websocket; empty = only localhost origins. */
  allowedOrigins?: string[];
  /** Region this gateway writes agents for (default `local`). */
  region?: string;
  /** Unique per process; default hostname-pid-random. */
  gatewayId?: string;
  log?: import('pino').Logger;
  /** Webhook URLs may point at loopback/private/link-local addresses (`VIGIL_WEBHOOK_ALLOW_PRIVATE`). */
  webhookAllowPrivate?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The body's `events` are checked one by one and rejected in the receipt, not with a 400. */
    eventsInReceipt?: boolean;
  }
}

/** PROTOCOL.md's error body: `{code, message}`. */
export const fail = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ code, message });

/** preHandler: a valid bearer token sets `req.principal`; anything else is a 401. */
export function bearerAuth(d: Pick<GatewayDeps, 'jwtSecret' | 'tuning'>) {
  const agentTokenMaxSec = d.tuning?.agentTokenMaxSec ?? AGENT_TOKEN_MAX_SEC;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) return fail(reply, 401, 'UNAUTHORIZED', 'missing bearer token');
    if (req.principal) return; // verified by the gateway's quota hook, with the same options
    try {
      req.principal = await verifyToken(d.jwtSecret, h.slice(7), { agentTokenMaxSec });
    } catch (err) {
      return fail(reply, 401, 'UNAUTHORIZED', `bad or expired token: ${(err as Error).message}`);
    }
  };
}

/** preHandler (after bearerAuth): only these roles pass; others get a 403. */
export function requireRole(...roles: Role[]) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!roles.includes(req.principal!.role)) return fail(reply, 403, 'FORBIDDEN', `needs one of the roles ${roles.join(', ')}`);
  };
}

/**
 * preValidation for every route: NUL and lone UTF-16 surrogates (Postgres refuses both in text and
 * json) anywhere in params, query string or body are a 400 naming the field, e.g. `body/reason`.
 */
export async function refuseUnstorableText(req: FastifyRequest, reply: FastifyReply) {
  const o = { sep: '/' };
  let body = req.body;
  if (req.routeOptions.config?.eventsInReceipt && body && typeof body === 'object' && !Array.isArray(body)) {
    const { events: _events, ...rest } = body as Record<string, unknown>;
    body = rest;
  }
  const why = badText(req.params, 'params', o) ?? badText(req.query, 'querystring', o) ?? badText(body, 'body', o);
  if (why) return fail(reply, 400, 'BAD_REQUEST', why);
}
