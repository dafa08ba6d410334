// What every HTTP route of the gateway shares: its dependencies, the one error shape and bearer auth.
import type { Client } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool.ts';
import type { GatewayTuning } from '../platform/config.ts';
import { verifyToken, type Principal, type Role } from '../platform/auth.ts';

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
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** PROTOCOL.md's error body: `{code, message}`. */
export const fail = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ code, message });

/** preHandler: a valid bearer token sets `req.principal`; anything else is a 401. */
export function bearerAuth(secret: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) return fail(reply, 401, 'UNAUTHORIZED', 'missing bearer token');
    try {
      req.principal = await verifyToken(secret, h.slice(7));
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
