// Routes of PROTOCOL.md's HTTP API for supervisors and admins: the agent list, an agent's timeline,
// agent and rule administration. The tenant always comes from the token.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { getAgent, listAgents, upsertAgent, type AgentInput } from '../db/agents.ts';
import { getRule, listRules, upsertRule, type RuleInput } from '../db/rules.ts';
import { hcmTimeline } from '../db/timeline.ts';
import { agentWorkflowId, stateQuery, type TimelineEntry } from '../workflows/contract.ts';
import { DEFAULT_RULE, STATUSES } from '../workflows/model.ts';
import { idParams } from '../platform/ids.ts';
import { badString } from '../platform/text.ts';
import { bearerAuth, fail, requireRole, type GatewayDeps } from './http.ts';
import { notifyRuleChange } from './rule-changes.ts';
import { withDeadline } from './temporal-deadline.ts';

const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;
const NAMES = { type: 'array', items: NAME, minItems: 1, maxItems: 500, uniqueItems: true } as const;
const SECONDS = { type: 'integer', minimum: 1, maximum: 7 * 86_400 } as const;
const agentParams = idParams('agentId');
// Unknown fields are a 400 naming the field: under `additionalProperties: false` fastify's Ajv
// would strip them silently, and an admin's misspelt window would quietly fall back to a default.
const CLOSED = { not: {} } as const;

const WORKFLOW_QUERY_MS = 2000;

const encodeCursor = (agentId: string) => Buffer.from(agentId, 'utf8').toString('base64url');
const decodeCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8');

export function registerAdminRoutes(app: FastifyInstance, d: GatewayDeps): void {
  const auth = bearerAuth(d);
  // Agents created here belong to this gateway's region until an operator moves them.
  const region = d.region ?? 'local';

  /** The workflow's recent timeline; [] without a workflow, undefined when it does not answer in time. */
  const workflowTimeline = async (tenant: string, agentId: string): Promise<TimelineEntry[] | undefined> => {
    const stop = new AbortController();
    // A query waits for a worker; a supervisor still gets HCM's side when none answers.
    const late = sleep(WORKFLOW_QUERY_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    const query = () => d.temporal.workflow.getHandle(agentWorkflowId(tenant, agentId)).query(stateQuery);
    // The deadline ends the call itself; the race only answers the supervisor sooner.
    const answer = withDeadline(d.temporal, app.vigil.tuning.temporalTimeoutMs, query).then(
      (s) => s.timeline,
      (err: Error) => (err.name === 'WorkflowNotFoundError' ? [] : undefined),
    );
    try {
      return await Promise.race([answer, late]);
    } finally {
      stop.abort();
    }
  };

  app.get<{ Querystring: { status?: string; skillGroup?: string; limit: number; cursor?: string } }>(
    '/v1/agents',
    {
      preHandler: [auth, requireRole('supervisor', 'admin', 'service')],
      schema: {
        querystring: {
          type: 'object', additionalProperties: CLOSED,
          properties: {
            status: { type: 'string', enum: [...STATUSES] },
            skillGroup: NAME,
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            cursor: { type: 'string', minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$' },
          },
        },
      },
    },
    async (req, reply) => {
      const { status, skillGroup, limit, cursor } = req.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (after !== undefined && (encodeCursor(after) !== cursor || badString(after))) return fail(reply, 400, 'BAD_REQUEST', 'querystring/cursor is not a cursor this API returned');
      const page = await listAgents(d.pool, req.principal!.tenant, { status, skillGroup, afterAgentId: after, limit: limit + 1 });
      const agents = page.slice(0, limit);
      return { agents, next: page.length > limit ? encodeCursor(agents.at(-1)!.agentId) : null };
    },
  );

  app.get<{ Params: { agentId: string }; Querystring: { limit: number } }>(
    '/v1/agents/:agentId/timeline',
    {
      preHandler: [auth, requireRole('supervisor', 'admin')],
      schema: {
        params: agentParams,
        querystring: {
          type: 'object', additionalProperties: CLOSED,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
        },
      },
    },
    async (req, reply) => {
      const { tenant } = req.principal!;
      const { agentId } = req.params;
      const { limit } = req.query;
      if (!(await getAgent(d.pool, tenant, agentId))) return fail(reply, 404, 'NOT_FOUND', `no agent ${agentId}`);
      const [hcm, workflow] = await Promise.all([hcmTimeline(d.pool, tenant, agentId, limit), workflowTimeline(tenant, agentId)]);
      const entries = [
        ...(workflow ?? []).map((t) => ({ at: new Date(t.at).toISOString(), source: 'workflow' as const, kind: t.kind, detail: t.detail })),
        ...hcm,
      ];
      // Stable sort: equal instants keep workflow (newest first already) before HCM rows.
      entries.sort((a, b) => b.at.localeCompare(a.at));
      return { agentId, timeline: entries.slice(0, limit), ...(workflow ? {} : { partial: 'workflow unavailable' }) };
    },
  );

  app.put<{ Params: { agentId: string }; Body: AgentInput }>(
    '/v1/agents/:agentId',
    {
      preHandler: [auth, requireRole('admin')],
      schema: {
        params: agentParams,
        body: {
          type: 'object', additionalProperties: CLOSED,
          properties: {
            displayName: { type: 'string', maxLength: 200 },
            businessLine: { type: 'string', maxLength: 200 },
            skillGroups: { ...NAMES, minItems: 0 },
            channels: { ...NAMES, minItems: 0 },
          },
        },
      },
    },
    async (req) => {
      const { tenant } = req.principal!;
      await upsertAgent(d.pool, tenant, req.params.agentId, req.body, region);
      return getAgent(d.pool, tenant, req.params.agentId);
    },
  );

  app.put<{ Params: { ruleId: string }; Body: RuleInput }>(
    '/v1/rules/:ruleId',
    {
      preHandler: [auth, requireRole('admin')],
      schema: {
        params: idParams('ruleId'),
        body: {
          type: 'object', additionalProperties: CLOSED,
          properties: {
            scope: {
              type: 'object', additionalProperties: CLOSED,
              properties: { businessLine: NAME, skillGroups: NAMES, channels: NAMES },
            },
            windows: {
              type: 'object', additionalProperties: CLOSED,
              properties: {
                idleAfterNoTaskSec: SECONDS, remindAfterNoActionSec: SECONDS,
                abnormalAfterNoActionSec: SECONDS, offlineAfterAbnormalSec: SECONDS,
              },
            },
            reminderLockSec: { ...SECONDS, minimum: 0 },
            reconnectGraceSec: { ...SECONDS, minimum: 0 },
            offlineRecovery: { type: 'string', enum: ['manual', 'onActivity'] },
            enabled: { type: 'boolean' },
          },
        },
      },
    },
    async (req, reply) => {
      const w = { ...DEFAULT_RULE.windows, ...req.body.windows };
      // The reminder comes before ABNORMAL (also a CHECK in the rules table: answer 400, not 503).
      if (w.remindAfterNoActionSec > w.abnormalAfterNoActionSec) {
        return fail(reply, 400, 'BAD_REQUEST', `body/windows/remindAfterNoActionSec (${w.remindAfterNoActionSec}) must not exceed abnormalAfterNoActionSec (${w.abnormalAfterNoActionSec})`);
      }
      const { tenant } = req.principal!;
      const before = await getRule(d.pool, tenant, req.params.ruleId);
      const rule = await upsertRule(d.pool, tenant, req.params.ruleId, req.body);
      // `reached`: running agent workflows told to re-read their rule now (0 when the edit can
      // only move deadlines later: each workflow learns that at its next wake-up).
      const reached = await notifyRuleChange(d.pool, d.temporal, tenant, before, rule, app.vigil.tuning.temporalTimeoutMs);
      return reply.code(rule.version === 1 ? 201 : 200).send({ ...rule, reached });
    },
  );

  app.get(
    '/v1/rules',
    { preHandler: [auth, requireRole('admin', 'supervisor')], schema: { querystring: { type: 'object', additionalProperties: CLOSED } } },
    async (req) => ({ rules: await listRules(d.pool, req.principal!.tenant) }),
  );
}
