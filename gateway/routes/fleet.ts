// Fleet mode (README "Fleet mode"): the fleet's health, the recovery ladder's hooks, and an
// instance's deregistration over HTTP (the websocket has the `deregister` frame).
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { fleetHealth, listHooks, listSteps, putHook, type RecoveryStepName } from '../../db/fleet.ts';
import { refusedTarget } from '../../platform/address-policy.ts';
import { HEALTH_STATES } from '../../workflows/fleet.ts';
import { authenticate, fail, type GatewayDeps } from '../http.ts';
import { AUTHED, errors, ID, idParams, NO_QUERY } from '../schemas.ts';

const ISO_OR_NULL = { type: ['string', 'null'] } as const;
const STEP = { type: 'string', enum: ['restart', 'replace', 'alert'] } as const;
const HOOK_OUT = {
  type: 'object',
  properties: {
    step: STEP,
    url: { type: 'string' },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'string' },
  },
} as const;

export async function fleetRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/fleet/health',
    {
      config: { roles: ['supervisor', 'admin', 'service'] },
      schema: {
        summary:
          "The tenant's instances (services, AI agents): counts per health state, those not HEALTHY with their last heartbeat and metrics, and the latest recovery steps",
        querystring: NO_QUERY,
        response: {
          200: {
            type: 'object',
            required: ['counts', 'unhealthy', 'recoveries'],
            properties: {
              counts: {
                type: 'object',
                description: 'Instances per health state; all six states are always there',
                required: [...HEALTH_STATES],
                properties: Object.fromEntries(HEALTH_STATES.map((s) => [s, { type: 'integer' }])),
              },
              unhealthy: {
                type: 'array',
                description: 'Oldest first, at most 500',
                items: {
                  type: 'object',
                  properties: {
                    agentId: { type: 'string' },
                    displayName: { type: 'string' },
                    businessLine: { type: 'string' },
                    status: { type: 'string', enum: [...HEALTH_STATES] },
                    cause: { type: 'string' },
                    since: { type: 'string' },
                    version: { type: 'integer' },
                    lastBeatAt: ISO_OR_NULL,
                    lastSeq: { type: ['integer', 'null'] },
                    metrics: { type: 'object', additionalProperties: { type: 'number' } },
                  },
                },
              },
              recoveries: {
                type: 'array',
                description: 'Recovery steps, newest first, at most 100',
                items: {
                  type: 'object',
                  properties: {
                    agentId: { type: 'string' },
                    incident: { type: 'string' },
                    step: STEP,
                    outcome: { type: 'string', enum: ['done', 'failed', 'no hook', 'abandoned'] },
                    detail: { type: ['string', 'null'] },
                    at: { type: 'string' },
                  },
                },
              },
            },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const { tenant } = req.principal!;
      const [health, recoveries] = await Promise.all([
        fleetHealth(d.pool, tenant, 500),
        listSteps(d.pool, tenant, null, 100),
      ]);
      const counts = Object.fromEntries(HEALTH_STATES.map((s) => [s, health.counts[s] ?? 0]));
      return { counts, unhealthy: health.unhealthy, recoveries };
    },
  );

  app.put<{ Params: { step: RecoveryStepName }; Body: { url: string; secret?: string; enabled?: boolean } }>(
    '/v1/fleet/hooks/:step',
    {
      config: { roles: ['admin'] },
      schema: {
        summary:
          'Sets the hook a recovery step POSTs to (signed like a webhook); an update may leave out the secret to keep it',
        params: {
          type: 'object',
          required: ['step'],
          additionalProperties: false,
          properties: { step: STEP },
        },
        body: {
          type: 'object',
          required: ['url'],
          additionalProperties: false,
          properties: {
            url: { type: 'string', format: 'uri', maxLength: 2048 },
            secret: { type: 'string', minLength: 16, maxLength: 256 },
            enabled: { type: 'boolean' },
          },
        },
        response: { 200: HOOK_OUT, ...AUTHED },
      },
    },
    async (req, reply) => {
      const url = new URL(req.body.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        return fail(reply, 400, 'BAD_REQUEST', 'body/url must be http or https');
      const refused = await refusedTarget(url, { allowPrivate: d.webhookAllowPrivate ?? false });
      if (refused) return fail(reply, 400, 'BAD_REQUEST', `body/url: ${refused}`);
      const { tenant } = req.principal!;
      const known = (await listHooks(d.pool, tenant)).some((h) => h.step === req.params.step);
      if (!known && !req.body.secret)
        return fail(reply, 400, 'BAD_REQUEST', `body/secret: required to create the ${req.params.step} hook`);
      const { secret: _, ...hook } = (await putHook(d.pool, tenant, { step: req.params.step, ...req.body }))!;
      return hook;
    },
  );

  app.get(
    '/v1/fleet/hooks',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: "The tenant's recovery hooks (secrets are never shown)",
        querystring: NO_QUERY,
        response: {
          200: { type: 'object', properties: { hooks: { type: 'array', items: HOOK_OUT } } },
          ...AUTHED,
        },
      },
    },
    async (req) => ({
      hooks: (await listHooks(d.pool, req.principal!.tenant)).map(({ secret: _, ...h }) => h),
    }),
  );

  app.post<{ Params: { agentId: string }; Body: { reason?: string } }>(
    '/v1/fleet/instances/:agentId/deregister',
    {
      config: { roles: ['instance', 'supervisor', 'admin'] },
      schema: {
        summary:
          'Deregisters an instance at once (DEREGISTERED: no MISSING, no recovery); its next heartbeat registers it again',
        params: idParams('agentId'),
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { reason: { type: 'string', minLength: 1, maxLength: 500, pattern: '^[^\\u0000]*$' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              agentId: ID,
              status: { type: 'string' },
              since: { type: 'string' },
              version: { type: 'integer' },
            },
          },
          ...AUTHED,
          ...errors(404, 409),
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.role === 'instance' && p.sub !== req.params.agentId)
        return fail(reply, 403, 'FORBIDDEN', 'an instance may deregister only itself');
      try {
        const res = await app.vigil.deregister(p, req.params.agentId, req.body.reason);
        if (res === 'not an instance')
          return fail(reply, 409, 'NOT_AN_INSTANCE', `${req.params.agentId} is not an instance (kind service)`);
        if (!res.committed && res.reason !== 'NO_CHANGE')
          return fail(reply, 409, res.reason, `HCM rejected the change: ${res.reason}`);
        return {
          agentId: req.params.agentId,
          status: res.facts.status,
          since: new Date(res.facts.since).toISOString(),
          version: res.facts.version,
        };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          return fail(reply, 409, 'CONFLICT', String((err.cause as Error)?.message ?? err.message));
        throw err;
      }
    },
  );
}
