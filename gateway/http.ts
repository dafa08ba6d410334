// What every HTTP route of the gateway shares: its dependencies, the one error shape, who the
// caller is (resolved once per request) and what it may call (each route's `config.roles`).
import type { Client } from '@temporalio/client';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import type { GatewayTuning } from '../platform/config.ts';
import type { Routing } from '../workflows/routing.ts';
import { badText } from '../platform/text.ts';
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
  /** How agents are split over task queues (`VIGIL_REGIONAL_QUEUES`, `VIGIL_ISOLATED_LINES`); default: all on `taskQueue`. */
  routing?: Routing;
  /** Unique per process; default hostname-pid-random. */
  gatewayId?: string;
  log?: Logger;
  /** Webhook URLs may point at loopback/private/link-local addresses (`VIGIL_WEBHOOK_ALLOW_PRIVATE`). */
  webhookAllowPrivate?: boolean;
  /** The Temporal Web UI the operator console links to (`VIGIL_TEMPORAL_UI_URL`; default the config loader's). */
  temporalUiUrl?: string;
  /** The load the heartbeat cadence reads, as event-loop delay in ms (gateway/cadence.ts); default measured. */
  loadLagMs?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified bearer token's caller; unset without a valid token. */
    principal?: Principal;
    /** Why the bearer token was refused, when one was sent and failed verification. */
    tokenError?: string;
  }
  interface FastifyContextConfig {
    /** Roles that may call the route (checked by `authenticate`); routes outside authenticated plugins have none. */
    roles?: readonly Role[];
    /** The body's `events` are checked one by one and rejected in the receipt, not with a 400. */
    eventsInReceipt?: boolean;
  }
}

/** The error body of docs/PROTOCOL.md "Error body": `{code, message}`. */
export const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).send({ code, message });

/** Every role: routes any caller may reach, whose handler decides per resource (self or staff). */
export const ANY_ROLE: readonly Role[] = ['agent', 'instance', 'supervisor', 'admin', 'service'];

/**
 * Resolves the caller from the bearer token, once per request (the gateway's first hook; the
 * quota is keyed by it). A refused token leaves `tokenError`; `authenticate` answers 401 with it.
 */
export async function resolvePrincipal(
  req: FastifyRequest,
  opts: { jwtSecret: string; agentTokenMaxSec: number },
): Promise<void> {
  const h = req.headers.authorization;
  if (!h?.startsWith('Bearer ')) return;
  try {
    req.principal = await verifyToken(opts.jwtSecret, h.slice(7), { agentTokenMaxSec: opts.agentTokenMaxSec });
  } catch (err) {
    req.tokenError = (err as Error).message;
  }
}

/**
 * onRequest hook of every authenticated plugin: no valid bearer token is a 401, a role the route
 * does not list (`config.roles`) a 403. Per-resource checks (an agent reads only itself) stay in
 * the handlers.
 */
export async function authenticate(req: FastifyRequest, reply: FastifyReply) {
  if (!req.principal) {
    if (req.tokenError === undefined) return fail(reply, 401, 'UNAUTHORIZED', 'missing bearer token');
    return fail(reply, 401, 'UNAUTHORIZED', `bad or expired token: ${req.tokenError}`);
  }
  const roles = req.routeOptions.config.roles;
  if (!roles) return fail(reply, 403, 'FORBIDDEN', 'this route takes no bearer token');
  if (!roles.includes(req.principal.role))
    return fail(reply, 403, 'FORBIDDEN', `needs one of the roles ${roles.join(', ')}`);
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

/** A schema validation failure as one line naming the field, e.g. `body/windows/idleAfterNoTaskSec: unknown field`. */
export function validationMessage(err: FastifyError): string {
  const v = err.validation?.[0];
  if (v?.keyword === 'additionalProperties') {
    return `${err.validationContext ?? 'request'}${v.instancePath}/${String(v.params.additionalProperty)}: unknown field`;
  }
  return err.message;
}
