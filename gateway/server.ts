// The gateway's HTTP side, assembled: the core (intake, push fan-out, presence, metrics), what
// every request goes through (caller and quota, unstorable text, one error shape), the websocket,
// and one plugin per feature (gateway/routes/), described by the OpenAPI document at /openapi.json.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import client from 'prom-client';
import { idKey } from '../platform/ids.ts';
import { createCore, type GatewayCore } from './core.ts';
import { fail, refuseUnstorableText, resolvePrincipal, validationMessage, type GatewayDeps } from './http.ts';
import { registerOpenApi } from './openapi.ts';
import { BucketMap } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import { consoleRoutes } from './routes/console.ts';
import { exampleRoutes } from './routes/examples.ts';
import { agentRoutes } from './routes/agents.ts';
import { feedRoutes } from './routes/feed.ts';
import { floorRoutes } from './routes/floor.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { simulateRoutes } from './routes/simulate.ts';
import { inputHealthRoutes } from './routes/input-health.ts';
import { healthRoutes } from './routes/health.ts';
import { propagationRoutes } from './routes/propagation.ts';
import { workbenchRoutes } from './routes/workbench.ts';
import { addSharedSchemas } from './schemas.ts';
import { attachWebsocket, websocketRoute } from './ws.ts';

export type { GatewayDeps };

declare module 'fastify' {
  interface FastifyInstance {
    vigil: GatewayCore;
  }
}

/** Bound of the per-caller quota map (least recently used forgotten first). */
const QUOTA_KEYS = 50_000;

export function buildGateway(d: GatewayDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // Room for a 128-character id even when every character is percent-encoded.
    routerOptions: { maxParamLength: 512 },
    // `additionalProperties: false` rejects an unknown field (a 400 naming it) instead of dropping it
    // silently: an admin's misspelt window must not quietly fall back to a default.
    ajv: { customOptions: { removeAdditional: false } },
  });
  const core = createCore(d);
  app.decorate('vigil', core);
  addSharedSchemas(app);
  registerOpenApi(app);

  const ws = attachWebsocket(app, {
    core,
    jwtSecret: d.jwtSecret,
    allowedOrigins: d.allowedOrigins ?? [],
    pool: d.pool,
  });
  app.addHook('onReady', async () => core.start());
  app.addHook('preClose', async () => ws.closeAll());
  app.addHook('onClose', async () => core.stop());

  // Who is calling, once per request, then a quota per caller: a verified caller is keyed by tenant
  // and subject (all its tokens share one quota), anything else by its address, so made-up bearer
  // strings neither get a quota each nor grow the map. Plugins' `authenticate` answers 401/403.
  const quota = new BucketMap(core.tuning.httpReqPerSec, core.tuning.httpReqPerSec * 2, QUOTA_KEYS);
  app.addHook('onRequest', async (req, reply) => {
    if (!req.headers.authorization?.startsWith('Bearer ')) return;
    await resolvePrincipal(req, { jwtSecret: d.jwtSecret, agentTokenMaxSec: core.tuning.agentTokenMaxSec });
    const key = req.principal ? idKey('p', req.principal.tenant, req.principal.sub) : idKey('ip', req.ip);
    if (!quota.take(key)) {
      core.metrics.rejects.inc({ code: 'RATE_LIMITED' });
      return fail(reply, 429, 'RATE_LIMITED', 'too many requests; slow down');
    }
  });
  app.addHook('preValidation', refuseUnstorableText);

  // Callers learn what they did wrong (4xx), never internal detail (5xx): that goes to the log.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return fail(reply, 400, 'BAD_REQUEST', validationMessage(err));
    if (err.statusCode && err.statusCode < 500) return fail(reply, err.statusCode, 'BAD_REQUEST', err.message);
    core.log.error({ err, method: req.method, route: req.routeOptions.url }, 'request failed');
    return fail(reply, 503, 'UNAVAILABLE', 'a dependency is unavailable; retry');
  });
  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
  );

  const httpRequests = new client.Counter({
    name: 'vigil_http_requests_total',
    help: 'HTTP requests',
    labelNames: ['route', 'code'],
    registers: [core.metrics.registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    httpRequests.inc({ route: req.routeOptions.url ?? 'unknown', code: String(reply.statusCode) });
  });

  // Plugins load in this order when the app starts (listen, ready or the first inject).
  for (const plugin of [
    healthRoutes,
    agentRoutes,
    feedRoutes,
    workbenchRoutes,
    adminRoutes,
    propagationRoutes,
    floorRoutes,
    inputHealthRoutes,
    fleetRoutes,
    simulateRoutes,
    websocketRoute,
    consoleRoutes,
    exampleRoutes,
  ]) {
    void app.register(plugin, d);
  }
  return app;
}
