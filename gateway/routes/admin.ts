// Administration (docs/PROTOCOL.md "HTTP API"): agent profiles, rules and their versions. An edit
// that can bring a deadline forward reaches the running windows at once (gateway/rule-changes.ts).
import type { FastifyInstance } from 'fastify';
import { getAgent, switchRegions, upsertAgent, type AgentInput, type RegionSwitch } from '../../db/agents.ts';
import { INPUT_THRESHOLDS as INPUT_THRESHOLD_DEFAULTS } from '../../db/input-health.ts';
import { getRule, listRules, listRuleVersions, upsertRule, type RuleInput } from '../../db/rules.ts';
import { DEFAULT_RULE } from '../../workflows/model.ts';
import { authenticate, fail, type GatewayDeps } from '../http.ts';
import { notifyRuleChange, refreshAgents } from '../rule-changes.ts';
import {
  AGENT_PROFILE,
  AUTHED,
  errors,
  FLEET_RULE,
  ID,
  idParams,
  INPUT_THRESHOLDS,
  NO_QUERY,
  RULE,
} from '../schemas.ts';

const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;
const NAMES = { type: 'array', items: NAME, minItems: 1, maxItems: 500, uniqueItems: true } as const;
const SECONDS = { type: 'integer', minimum: 1, maximum: 7 * 86_400 } as const;
const REASON = { type: 'string', minLength: 1, maxLength: 500, description: 'Why: kept in agent_region_log' } as const;
const SWITCHED = {
  switched: { type: 'integer', description: 'Agents moved to the region (those already there are left alone)' },
  reached: {
    type: 'integer',
    description: 'Running agent workflows told to re-read their facts now (they move to the new owner queue)',
  },
} as const;

/** The body of PUT /v1/rules/:ruleId (and the proposal of POST /v1/rules/simulate). */
export const RULE_INPUT = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scope: {
      type: 'object',
      additionalProperties: false,
      properties: { businessLine: NAME, skillGroups: NAMES, channels: NAMES },
    },
    windows: {
      type: 'object',
      additionalProperties: false,
      properties: {
        idleAfterNoTaskSec: SECONDS,
        remindAfterNoActionSec: SECONDS,
        abnormalAfterNoActionSec: SECONDS,
        offlineAfterAbnormalSec: SECONDS,
      },
    },
    reminderLockSec: { ...SECONDS, minimum: 0 },
    reconnectGraceSec: { ...SECONDS, minimum: 0 },
    offlineRecovery: { type: 'string', enum: ['manual', 'onActivity'] },
    enabled: { type: 'boolean' },
    inputHealth: INPUT_THRESHOLDS,
    fleet: FLEET_RULE,
  },
} as const;

export async function adminRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  // Agents created here belong to this gateway's region until an operator moves them.
  const region = d.region ?? 'local';

  app.put<{ Params: { agentId: string }; Body: AgentInput }>(
    '/v1/agents/:agentId',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: "Creates or updates an agent's profile (omitted fields keep their value)",
        params: idParams('agentId'),
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            displayName: { type: 'string', maxLength: 200 },
            businessLine: { type: 'string', maxLength: 200 },
            skillGroups: { ...NAMES, minItems: 0 },
            channels: { ...NAMES, minItems: 0 },
            kind: {
              type: 'string',
              enum: ['person', 'service'],
              description:
                '\'service\': an instance of a service or AI agent (README "Fleet mode"); set when the agent is created',
            },
          },
        },
        response: { 200: AGENT_PROFILE, ...AUTHED, ...errors(409) },
      },
    },
    async (req, reply) => {
      const { tenant } = req.principal!;
      const before = await getAgent(d.pool, tenant, req.params.agentId);
      // Its workflow runs a person's or an instance's loop from its start: the kind is fixed then.
      if (before && req.body.kind !== undefined && req.body.kind !== before.kind) {
        return fail(
          reply,
          409,
          'KIND_FIXED',
          `${req.params.agentId} exists as a ${before.kind}; an agent's kind is set when it is created`,
        );
      }
      await upsertAgent(d.pool, tenant, req.params.agentId, req.body, region);
      return getAgent(d.pool, tenant, req.params.agentId);
    },
  );

  /** Switches in Postgres, then tells the moved agents' running workflows (README "Regions and business lines"). */
  const switchNow = async (tenant: string, actor: string, s: Omit<RegionSwitch, 'actor'>) => {
    const moved = await switchRegions(d.pool, tenant, { ...s, actor });
    if (s.agentId !== undefined) app.vigil.queues.forget(tenant, s.agentId);
    else app.vigil.queues.forget(tenant);
    const ids = moved.map((m) => m.agentId);
    const reached = await refreshAgents(d.temporal, tenant, ids, app.vigil.tuning.temporalTimeoutMs, 'region');
    return { moved, reached };
  };

  app.put<{ Params: { agentId: string }; Body: { region: string; reason: string } }>(
    '/v1/agents/:agentId/region',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: "Switches the agent's owner region: only that region's workers commit it from now on",
        params: idParams('agentId'),
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['region', 'reason'],
          properties: { region: ID, reason: REASON },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              agentId: { type: 'string' },
              region: { type: 'string' },
              from: { type: 'string' },
              ...SWITCHED,
            },
          },
          ...AUTHED,
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      const { agentId } = req.params;
      const agent = await getAgent(d.pool, p.tenant, agentId);
      if (!agent) return fail(reply, 404, 'NOT_FOUND', `no agent ${agentId}`);
      const { moved, reached } = await switchNow(p.tenant, `${p.role}:${p.sub}`, {
        agentId,
        region: req.body.region,
        reason: req.body.reason,
      });
      return {
        agentId,
        region: req.body.region,
        from: moved[0]?.from ?? agent.region,
        switched: moved.length,
        reached,
      };
    },
  );

  app.post<{ Body: { region: string; businessLine?: string; reason: string } }>(
    '/v1/regions/switch',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: "Switches the owner region of a business line's agents, or of all the tenant's agents",
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['region', 'reason'],
          properties: { region: ID, businessLine: NAME, reason: REASON },
        },
        response: {
          200: {
            type: 'object',
            properties: { region: { type: 'string' }, businessLine: { type: 'string' }, ...SWITCHED },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const p = req.principal!;
      const { region, businessLine, reason } = req.body;
      const { moved, reached } = await switchNow(p.tenant, `${p.role}:${p.sub}`, { region, businessLine, reason });
      return { region, ...(businessLine !== undefined ? { businessLine } : {}), switched: moved.length, reached };
    },
  );

  app.put<{ Params: { ruleId: string }; Body: RuleInput }>(
    '/v1/rules/:ruleId',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: 'Replaces a rule (omitted fields take the defaults) and bumps its version',
        params: idParams('ruleId'),
        body: RULE_INPUT,
        response: {
          ...Object.fromEntries(
            [200, 201].map((code) => [
              code,
              {
                ...RULE,
                properties: {
                  ...RULE.properties,
                  reached: { type: 'integer', description: 'Running agent workflows told to re-read their rule now' },
                },
              },
            ]),
          ),
          ...AUTHED,
        },
      },
    },
    async (req, reply) => {
      const w = { ...DEFAULT_RULE.windows, ...req.body.windows };
      // The reminder comes before ABNORMAL (also a CHECK in the rules table: answer 400, not 503).
      if (w.remindAfterNoActionSec > w.abnormalAfterNoActionSec) {
        return fail(
          reply,
          400,
          'BAD_REQUEST',
          `body/windows/remindAfterNoActionSec (${w.remindAfterNoActionSec}) must not exceed abnormalAfterNoActionSec (${w.abnormalAfterNoActionSec})`,
        );
      }
      const ih = { ...INPUT_THRESHOLD_DEFAULTS, ...req.body.inputHealth };
      if (ih.recoverRatio < ih.dropRatio) {
        return fail(
          reply,
          400,
          'BAD_REQUEST',
          `body/inputHealth/recoverRatio (${ih.recoverRatio}) must not be below dropRatio (${ih.dropRatio})`,
        );
      }
      const steps = req.body.fleet?.ladder?.map((l) => l.step) ?? [];
      if (new Set(steps).size !== steps.length) {
        return fail(reply, 400, 'BAD_REQUEST', 'body/fleet/ladder: each step at most once');
      }
      const { tenant } = req.principal!;
      const before = await getRule(d.pool, tenant, req.params.ruleId);
      const rule = await upsertRule(d.pool, tenant, req.params.ruleId, req.body);
      // `reached`: running agent workflows told to re-read their rule now (0 when the edit can
      // only move deadlines later: each workflow learns that at its next wake-up).
      const reached = await notifyRuleChange(
        d.pool,
        d.temporal,
        tenant,
        before,
        rule,
        app.vigil.tuning.temporalTimeoutMs,
      );
      return reply.code(rule.version === 1 ? 201 : 200).send({ ...rule, reached });
    },
  );

  app.get(
    '/v1/rules',
    {
      config: { roles: ['admin', 'supervisor'] },
      schema: {
        summary: "The tenant's rules",
        querystring: NO_QUERY,
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: RULE } } }, ...AUTHED },
      },
    },
    async (req) => ({ rules: await listRules(d.pool, req.principal!.tenant) }),
  );

  app.get<{ Params: { ruleId: string } }>(
    '/v1/rules/:ruleId/versions',
    {
      config: { roles: ['admin', 'supervisor'] },
      schema: {
        summary: "A rule's versions, newest first, each as it was written",
        params: idParams('ruleId'),
        querystring: NO_QUERY,
        response: {
          200: { type: 'object', properties: { versions: { type: 'array', items: RULE } } },
          ...AUTHED,
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const versions = await listRuleVersions(d.pool, req.principal!.tenant, req.params.ruleId);
      // Every rule has at least the version it has now: none is a rule the tenant does not have.
      if (versions.length === 0) return fail(reply, 404, 'NOT_FOUND', `no rule ${req.params.ruleId}`);
      return { versions };
    },
  );
}
