// The gateway's HTTP side: health, readiness, metrics and the agent-state API of PROTOCOL.md.
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import client from 'prom-client';
import { readFeed } from '../workers/dispatcher.ts';
import type { Principal } from '../platform/auth.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { bearerAuth, fail, type GatewayDeps } from './http.ts';
import { registerPropagationRoutes } from './propagation-routes.ts';
import { agentWorkflowId, eventsSignal, setStatusUpdate, stateQuery } from '../workflows/contract.ts';
import { STATUSES, type Status } from '../workflows/model.ts';

export type { GatewayDeps };

export function buildGateway(d: GatewayDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpRequests = new client.Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests', labelNames: ['route', 'code'], registers: [registry] });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
    if (err.validation) return fail(reply, 400, 'BAD_REQUEST', err.message);
    if (err.statusCode && err.statusCode < 500) return fail(reply, err.statusCode, 'BAD_REQUEST', err.message);
    return fail(reply, 503, 'UNAVAILABLE', 'a dependency is unavailable; retry');
  });
  app.addHook('onResponse', async (req, reply) => {
    httpRequests.inc({ route: req.routeOptions.url ?? 'unknown', code: String(reply.statusCode) });
  });

  const auth = bearerAuth(d.jwtSecret);
  /** Self, or staff of the same tenant (tenant isolation is by construction: the tenant comes from the token). */
  const mayRead = (p: Principal, agentId: string) => p.sub === agentId || p.role !== 'agent';

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    await d.pool.query('SELECT 1').then(() => (checks.postgres = 'ok'), (e: Error) => (checks.postgres = e.message));
    try {
      const tq = await d.temporal.workflowService.describeTaskQueue({
        namespace: d.namespace, taskQueue: { name: d.taskQueue }, taskQueueType: 1,
      });
      checks.temporal = 'ok';
      checks.worker = (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'no worker polls the task queue';
    } catch (e) {
      checks.temporal = (e as Error).message;
      checks.worker = 'unknown';
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  app.get<{ Params: { agentId: string } }>('/v1/agents/:agentId', { preHandler: auth }, async (req, reply) => {
    const p = req.principal!;
    if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
    const { rows } = await d.pool.query(
      `SELECT s.agent_id, s.tenant, s.status, s.status_code, s.cause, s.since, s.version, s.last_action_at,
              a.skill_groups, (SELECT count(*)::int FROM tasks t WHERE t.tenant = s.tenant AND t.agent_id = s.agent_id AND t.state = 'open') AS task_count
         FROM status_table s JOIN agents a USING (tenant, agent_id) WHERE s.tenant = $1 AND s.agent_id = $2`,
      [p.tenant, req.params.agentId],
    );
    const r = rows[0];
    if (!r) return fail(reply, 404, 'NOT_FOUND', `no agent ${req.params.agentId}`);
    return {
      agentId: r.agent_id, tenant: r.tenant, status: r.status, statusCode: r.status_code, cause: r.cause,
      since: r.since.toISOString(), taskCount: r.task_count, skillGroups: r.skill_groups,
      lastActionAt: r.last_action_at?.toISOString() ?? null, version: r.version,
    };
  });

  app.get<{ Params: { agentId: string } }>('/v1/agents/:agentId/live', { preHandler: auth }, async (req, reply) => {
    const p = req.principal!;
    if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
    try {
      return await d.temporal.workflow.getHandle(agentWorkflowId(p.tenant, req.params.agentId)).query(stateQuery);
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
        const handle = await d.temporal.workflow.signalWithStart('agentWorkflow', {
          workflowId: agentWorkflowId(p.tenant, req.params.agentId),
          taskQueue: d.taskQueue,
          args: [{ tenant: p.tenant, agentId: req.params.agentId }],
          signal: eventsSignal,
          signalArgs: [{}],
        });
        const res = await handle.executeUpdate(setStatusUpdate, {
            args: [{ status: req.body.status, reason: req.body.reason, requestId: randomUUID(), actor: { kind: staff && !self ? p.role as 'supervisor' : 'agent', id: p.sub } }],
          });
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

  registerAdminRoutes(app, d);
  registerPropagationRoutes(app, d);
  return app;
}
