// The gateway's HTTP side: health, readiness, metrics and the agent-state API of PROTOCOL.md.
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import client from 'prom-client';
import { createCore, type GatewayCore } from './core.ts';
import { BucketMap, LruMap } from './rate-limit.ts';
import { registerWorkbenchRoutes } from './workbench-routes.ts';
import { attachWebsocket } from './ws.ts';
import { readFeed } from '../workers/dispatcher.ts';
import { verifyToken, type Principal } from '../platform/auth.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { DEVICE_SESSIONS_COLUMN, deviceFields } from '../db/agents.ts';
import { bearerAuth, fail, refuseUnstorableText, type GatewayDeps } from './http.ts';
import { idKey, idParams } from '../platform/ids.ts';
import { registerPropagationRoutes } from './propagation-routes.ts';
import { agentWorkflowId, eventsSignal, setStatusUpdate, stateQuery } from '../workflows/contract.ts';
import { STATUSES, type Status } from '../workflows/model.ts';
import { withDeadline } from './temporal-deadline.ts';

export type { GatewayDeps };

declare module 'fastify' {
  interface FastifyInstance {
    vigil: GatewayCore;
  }
}

/** Hot state reads are served from this cache for a moment; a status change through this gateway clears it. */
const STATE_CACHE_MS = 500;
/** Bounds of the per-key maps of the HTTP side (least recently used forgotten first). */
const STATE_CACHE_KEYS = 50_000;
const QUOTA_KEYS = 50_000;

export function buildGateway(d: GatewayDeps): FastifyInstance {
  // maxParamLength: room for a 128-character id even when every character is percent-encoded.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 512 } });
  const core = createCore(d);
  app.decorate('vigil', core);
  const registry = core.metrics.registry;
  const ws = attachWebsocket(app, { core, jwtSecret: d.jwtSecret, allowedOrigins: d.allowedOrigins ?? [], pool: d.pool });
  app.addHook('onReady', async () => core.start());
  app.addHook('preClose', async () => ws.closeAll());
  app.addHook('onClose', async () => core.stop());

  // Per-caller quota on every route with a bearer: a verified caller is keyed by tenant and subject
  // (all its tokens share one quota), anything else by its address, so made-up bearer strings
  // neither get a quota each nor grow the map; the map itself keeps at most QUOTA_KEYS callers.
  // The token is verified here once; bearerAuth reuses the principal.
  const quota = new BucketMap(core.tuning.httpReqPerSec, core.tuning.httpReqPerSec * 2, QUOTA_KEYS);
  app.addHook('onRequest', async (req, reply) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) return;
    let key = idKey('ip', req.ip);
    try {
      req.principal = await verifyToken(d.jwtSecret, h.slice(7), { agentTokenMaxSec: core.tuning.agentTokenMaxSec });
      key = idKey('p', req.principal.tenant, req.principal.sub);
    } catch {
      // bearerAuth answers 401 with the reason, within this address's quota.
    }
    if (!quota.take(key)) {
      core.metrics.rejects.inc({ code: 'RATE_LIMITED' });
      return fail(reply, 429, 'RATE_LIMITED', 'too many requests; slow down');
    }
  });
  const stateCache = new LruMap<string, { at: number; body: object }>(STATE_CACHE_KEYS, STATE_CACHE_MS);
  const httpRequests = new client.Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests', labelNames: ['route', 'code'], registers: [registry] });

  app.addHook('preValidation', refuseUnstorableText);
  // Callers learn what they did wrong (4xx), never internal detail (5xx): that goes to the log.
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (err.validation) return fail(reply, 400, 'BAD_REQUEST', err.message);
    if (err.statusCode && err.statusCode < 500) return fail(reply, err.statusCode, 'BAD_REQUEST', err.message);
    core.log.error({ err, method: req.method, route: req.routeOptions.url }, 'request failed');
    return fail(reply, 503, 'UNAVAILABLE', 'a dependency is unavailable; retry');
  });
  app.addHook('onResponse', async (req, reply) => {
    httpRequests.inc({ route: req.routeOptions.url ?? 'unknown', code: String(reply.statusCode) });
  });

  const auth = bearerAuth(d);
  const inTime = <T>(fn: () => Promise<T>) => withDeadline(d.temporal, core.tuning.temporalTimeoutMs, fn);
  /** Self, or staff of the same tenant (tenant isolation is by construction: the tenant comes from the token). */
  const mayRead = (p: Principal, agentId: string) => p.sub === agentId || p.role !== 'agent';

  app.get('/healthz', async () => ({ ok: true }));

  // Anonymous: says what is down, never why (the reason goes to the log).
  app.get('/readyz', async (_req, reply) => {
    const checks: Record<'postgres' | 'temporal' | 'worker', 'ok' | 'down'> = { postgres: 'down', temporal: 'down', worker: 'down' };
    try {
      await d.pool.query('SELECT 1');
      checks.postgres = 'ok';
    } catch (err) {
      core.log.warn({ err }, 'readyz: postgres is down');
    }
    try {
      const tq = await inTime(() => d.temporal.workflowService.describeTaskQueue({
        namespace: d.namespace, taskQueue: { name: d.taskQueue }, taskQueueType: 1,
      }));
      checks.temporal = 'ok';
      checks.worker = (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'down';
    } catch (err) {
      core.log.warn({ err }, 'readyz: temporal is down');
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  const agentParams = idParams('agentId');
  app.get<{ Params: { agentId: string } }>('/v1/agents/:agentId', { preHandler: auth, schema: { params: agentParams } }, async (req, reply) => {
    const p = req.principal!;
    if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
    const cacheKey = idKey(p.tenant, req.params.agentId);
    const hit = stateCache.get(cacheKey);
    if (hit && Date.now() - hit.at < STATE_CACHE_MS) return hit.body;
    const { rows } = await d.pool.query(
      `SELECT s.agent_id, s.tenant, s.status, s.status_code, s.cause, s.since, s.version, s.last_action_at,
              a.skill_groups, (SELECT count(*)::int FROM tasks t WHERE t.tenant = s.tenant AND t.agent_id = s.agent_id AND t.state = 'open') AS task_count,
              ${DEVICE_SESSIONS_COLUMN}
         FROM status_table s JOIN agents a USING (tenant, agent_id) WHERE s.tenant = $1 AND s.agent_id = $2`,
      [p.tenant, req.params.agentId],
    );
    const r = rows[0];
    if (!r) return fail(reply, 404, 'NOT_FOUND', `no agent ${req.params.agentId}`);
    const body = {
      agentId: r.agent_id, tenant: r.tenant, status: r.status, statusCode: r.status_code, cause: r.cause,
      since: r.since.toISOString(), taskCount: r.task_count, skillGroups: r.skill_groups,
      ...deviceFields(r.device_sessions),
      lastActionAt: r.last_action_at?.toISOString() ?? null, version: Number(r.version),
    };
    stateCache.set(cacheKey, { at: Date.now(), body });
    return body;
  });

  app.get<{ Params: { agentId: string } }>('/v1/agents/:agentId/live', { preHandler: auth, schema: { params: agentParams } }, async (req, reply) => {
    const p = req.principal!;
    if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
    try {
      return await inTime(() => d.temporal.workflow.getHandle(agentWorkflowId(p.tenant, req.params.agentId)).query(stateQuery));
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') return fail(reply, 404, 'NOT_FOUND', `no workflow for ${req.params.agentId}`);
      throw err;
    }
  });

  app.put<{ Params: { agentId: string }; Body: { status: Status; reason?: string } }>(
    '/v1/agents/:agentId/status',
    {
      preHandler: auth,
      schema: {
        params: agentParams,
        body: {
          type: 'object', required: ['status'], additionalProperties: false,
          properties: { status: { type: 'string', enum: [...STATUSES] }, reason: { type: 'string', maxLength: 500 } },
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      const self = p.sub === req.params.agentId;
      const staff = p.role === 'supervisor' || p.role === 'admin';
      if (!staff && !(self && ['ONLINE', 'BUSY', 'OFFLINE'].includes(req.body.status))) {
        return fail(reply, 403, 'FORBIDDEN', 'not allowed to set this status for this agent');
      }
      try {
        // One workflow per agent, forever: a request for an agent not yet seen starts it.
        const res = await inTime(async () => {
          const handle = await d.temporal.workflow.signalWithStart('agentWorkflow', {
            workflowId: agentWorkflowId(p.tenant, req.params.agentId),
            taskQueue: d.taskQueue,
            args: [{ tenant: p.tenant, agentId: req.params.agentId }],
            signal: eventsSignal,
            signalArgs: [{}],
          });
          return handle.executeUpdate(setStatusUpdate, {
            args: [{ status: req.body.status, reason: req.body.reason, requestId: randomUUID(), actor: { kind: staff && !self ? p.role as 'supervisor' : 'agent', id: p.sub } }],
          });
        });
        stateCache.delete(idKey(p.tenant, req.params.agentId));
        if (!res.committed && res.reason !== 'NO_CHANGE') return fail(reply, 409, res.reason, `HCM rejected the change: ${res.reason}`);
        return { agentId: req.params.agentId, status: res.facts.status, cause: res.facts.cause, since: new Date(res.facts.since).toISOString(), version: res.facts.version };
      } catch (err) {
        if ((err as Error).name === 'WorkflowNotFoundError') return fail(reply, 404, 'NOT_FOUND', `no workflow for ${req.params.agentId}`);
        if (err instanceof WorkflowUpdateFailedError) return fail(reply, 400, 'BAD_REQUEST', String((err.cause as Error)?.message ?? err.message));
        throw err;
      }
    },
  );

  app.get<{ Querystring: { after?: number; limit?: number; waitMs?: number } }>(
    '/v1/status-changes',
    {
      preHandler: auth,
      schema: {
        querystring: {
          type: 'object', additionalProperties: false,
          properties: {
            after: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            waitMs: { type: 'integer', minimum: 0, maximum: 30_000, default: 0 },
          },
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.role !== 'service' && p.role !== 'admin') return fail(reply, 403, 'FORBIDDEN', 'the status feed is for service and admin tokens');
      const { after = 0, limit = 100, waitMs = 0 } = req.query;
      const until = Date.now() + waitMs;
      for (;;) {
        const changes = await readFeed(d.pool, p.tenant, after, limit);
        if (changes.length > 0 || Date.now() >= until) return { changes, next: changes.at(-1)?.seq ?? after };
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  );

  registerWorkbenchRoutes(app, d, core);
  registerAdminRoutes(app, d);
  registerPropagationRoutes(app, d);
  return app;
}
