// The agent-state API (docs/PROTOCOL.md "HTTP API"): the agent list, one agent's committed state,
// its live workflow state and timeline, and setting a status. The tenant always comes from the token.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { getAgent, getAgentState, listAgents, listAgentVersions } from '../../db/agents.ts';
import { listRules, pickRule, plainRule } from '../../db/rules.ts';
import { hcmTimeline, recordTimeline } from '../../db/timeline.ts';
import { SELF_ROLES, type Principal } from '../../platform/auth.ts';
import { idKey } from '../../platform/ids.ts';
import { badString } from '../../platform/text.ts';
import { setAgentStatus } from '../../workflows/client.ts';
import { agentWorkflowId, stateQuery, type TimelineEntry } from '../../workflows/contract.ts';
import { DEFAULT_RULE, isWorkStatus, type Status } from '../../workflows/model.ts';
import { estimateNextDeadline } from '../next-deadline.ts';
import { LruMap } from '../rate-limit.ts';
import { withDeadline } from '../temporal-deadline.ts';
import { ANY_ROLE, authenticate, fail, type GatewayDeps } from '../http.ts';
import { AGENT_LIST_ITEM, AGENT_STATE, ANY_OBJECT, AUTHED, errors, ID, idParams, STATUS } from '../schemas.ts';

/** Hot state reads are served from this cache for a moment; a status change through this gateway clears it. */
const STATE_CACHE_MS = 500;
/** Bound of the cache (least recently used forgotten first). */
const STATE_CACHE_KEYS = 50_000;
/** Agents per page of the list; of the versions-only list (`fields=version`). */
const MAX_PAGE = 500;
const MAX_VERSIONS_PAGE = 5000;
/** A supervisor gets HCM's side of a timeline when the workflow has not answered by then. */
const WORKFLOW_QUERY_MS = 2000;

const encodeCursor = (agentId: string) => Buffer.from(agentId, 'utf8').toString('base64url');
const decodeCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8');

/** Self, or staff of the same tenant (tenant isolation is by construction: the tenant comes from the token). */
const mayRead = (p: Principal, agentId: string) => p.sub === agentId || !SELF_ROLES.includes(p.role);

const agentParams = idParams('agentId');

export async function agentRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const tuning = app.vigil.tuning;
  const inTime = <T>(fn: () => Promise<T>) => withDeadline(d.temporal, tuning.temporalTimeoutMs, fn);
  const stateCache = new LruMap<string, { at: number; body: object }>(STATE_CACHE_KEYS, STATE_CACHE_MS);

  /** The workflow's recent timeline; [] without a workflow, undefined when it does not answer in time. */
  const workflowTimeline = async (tenant: string, agentId: string): Promise<TimelineEntry[] | undefined> => {
    const stop = new AbortController();
    // A query waits for a worker; a supervisor still gets HCM's side when none answers.
    const late = sleep(WORKFLOW_QUERY_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    // The deadline ends the call itself; the race only answers the supervisor sooner.
    const answer = inTime(() => d.temporal.workflow.getHandle(agentWorkflowId(tenant, agentId)).query(stateQuery)).then(
      (s) => s.timeline,
      (err: unknown) => (err instanceof WorkflowNotFoundError ? [] : undefined),
    );
    try {
      return await Promise.race([answer, late]);
    } finally {
      stop.abort();
    }
  };

  app.get<{
    Querystring: {
      status?: string;
      skillGroup?: string;
      businessLine?: string;
      q?: string;
      limit: number;
      cursor?: string;
      fields?: 'version';
    };
  }>(
    '/v1/agents',
    {
      config: { roles: ['supervisor', 'admin', 'service'] },
      schema: {
        summary:
          "A page of the tenant's agents with their committed state and estimated next deadline, in agent-id order",
        description:
          '`q` matches a case-insensitive prefix of the agent id or a case-insensitive part of the display name; filters combine. `fields=version` answers only `agentId` and `version` per agent, up to 5,000 a page: what a feed consumer compares with the versions it holds (docs/PROTOCOL.md "Reconciling a feed consumer").',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: STATUS,
            skillGroup: { type: 'string', minLength: 1, maxLength: 200 },
            businessLine: { type: 'string', minLength: 1, maxLength: 200 },
            q: { type: 'string', minLength: 1, maxLength: 128 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_VERSIONS_PAGE, default: 100 },
            cursor: { type: 'string', minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$' },
            fields: { type: 'string', enum: ['version'] },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              agents: {
                type: 'array',
                description: 'With `fields=version`, each item has only `agentId` and `version`',
                items: AGENT_LIST_ITEM,
              },
              next: { type: ['string', 'null'] },
            },
          },
          ...AUTHED,
        },
      },
    },
    async (req, reply) => {
      const { status, skillGroup, businessLine, q, limit, cursor, fields } = req.query;
      const { tenant } = req.principal!;
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (after !== undefined && (encodeCursor(after) !== cursor || badString(after)))
        return fail(reply, 400, 'BAD_REQUEST', 'querystring/cursor is not a cursor this API returned');
      if (fields === 'version') {
        const page = await listAgentVersions(d.pool, tenant, {
          status,
          skillGroup,
          businessLine,
          q,
          afterAgentId: after,
          limit: limit + 1,
        });
        const agents = page.slice(0, limit);
        return { agents, next: page.length > limit ? encodeCursor(agents.at(-1)!.agentId) : null };
      }
      if (limit > MAX_PAGE)
        return fail(
          reply,
          400,
          'BAD_REQUEST',
          `querystring/limit must be <= ${MAX_PAGE} (${MAX_VERSIONS_PAGE} with fields=version)`,
        );
      // The tenant's rules once per page; each agent's is picked in memory, as HCM picks it.
      const [page, rules] = await Promise.all([
        listAgents(d.pool, tenant, { status, skillGroup, businessLine, q, afterAgentId: after, limit: limit + 1 }),
        listRules(d.pool, tenant),
      ]);
      const agents = page.slice(0, limit).map((a) => {
        const { deadlineFacts, ...state } = a;
        const picked = pickRule(rules, { ...state, channels: deadlineFacts.channels });
        return { ...state, nextDeadline: estimateNextDeadline(a, picked ? plainRule(picked) : DEFAULT_RULE) };
      });
      return { agents, next: page.length > limit ? encodeCursor(agents.at(-1)!.agentId) : null };
    },
  );

  app.get<{ Params: { agentId: string } }>(
    '/v1/agents/:agentId',
    {
      config: { roles: ANY_ROLE },
      schema: {
        summary: "An agent's committed state (an agent token reads only itself)",
        params: agentParams,
        response: { 200: AGENT_STATE, ...AUTHED, ...errors(404) },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
      const cacheKey = idKey(p.tenant, req.params.agentId);
      const hit = stateCache.get(cacheKey);
      if (hit && Date.now() - hit.at < STATE_CACHE_MS) return hit.body;
      const state = await getAgentState(d.pool, p.tenant, req.params.agentId);
      if (!state) return fail(reply, 404, 'NOT_FOUND', `no agent ${req.params.agentId}`);
      // The single agent's answer keeps its documented shape: the list's profile fields stay out.
      const { displayName: _n, businessLine: _b, ...body } = state;
      stateCache.set(cacheKey, { at: Date.now(), body });
      return body;
    },
  );

  app.get<{ Params: { agentId: string } }>(
    '/v1/agents/:agentId/live',
    {
      config: { roles: ANY_ROLE },
      schema: {
        summary: "The agent workflow's live state (its `state` query): facts, devices, next deadline, recent timeline",
        params: agentParams,
        response: { 200: ANY_OBJECT, ...AUTHED, ...errors(404) },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (!mayRead(p, req.params.agentId)) return fail(reply, 403, 'FORBIDDEN', 'an agent may read only itself');
      try {
        return await inTime(() =>
          d.temporal.workflow.getHandle(agentWorkflowId(p.tenant, req.params.agentId)).query(stateQuery),
        );
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          return fail(reply, 404, 'NOT_FOUND', `no workflow for ${req.params.agentId}`);
        throw err;
      }
    },
  );

  app.get<{ Params: { agentId: string }; Querystring: { limit: number; from?: string; to?: string } }>(
    '/v1/agents/:agentId/timeline',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        summary:
          "The agent's timeline, newest first: its activity record over [from, to) (default the last hour), the workflow's entries, HCM commits and deliveries per lane",
        params: agentParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              agentId: { type: 'string' },
              timeline: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    source: { type: 'string', enum: ['record', 'workflow', 'hcm', 'delivery'] },
                    kind: { type: 'string' },
                    detail: { type: 'string' },
                  },
                },
              },
              partial: { type: 'string', description: "Set when the workflow did not answer in time: HCM's side only" },
            },
          },
          ...AUTHED,
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const { tenant } = req.principal!;
      const { agentId } = req.params;
      const { limit } = req.query;
      const to = req.query.to ? Date.parse(req.query.to) : Date.now() + 1000;
      const from = req.query.from ? Date.parse(req.query.from) : to - 3_600_000;
      if (!(from < to)) return fail(reply, 400, 'BAD_REQUEST', 'querystring/from must be before querystring/to');
      if (!(await getAgent(d.pool, tenant, agentId))) return fail(reply, 404, 'NOT_FOUND', `no agent ${agentId}`);
      const [hcm, workflow, record] = await Promise.all([
        hcmTimeline(d.pool, tenant, agentId, limit, { from, to }),
        workflowTimeline(tenant, agentId),
        recordTimeline(d.pool, tenant, agentId, from, to),
      ]);
      const inRange = (at: number) => at >= from && at < to;
      const entries = [
        ...record,
        ...(workflow ?? [])
          .filter((t) => inRange(t.at))
          .map((t) => ({
            at: new Date(t.at).toISOString(),
            source: 'workflow' as const,
            kind: t.kind,
            detail: t.detail,
          })),
        ...hcm,
      ];
      // Stable sort: equal instants keep workflow (newest first already) before HCM rows.
      entries.sort((a, b) => b.at.localeCompare(a.at));
      return { agentId, timeline: entries.slice(0, limit), ...(workflow ? {} : { partial: 'workflow unavailable' }) };
    },
  );

  app.put<{ Params: { agentId: string }; Body: { status: Status; reason?: string } }>(
    '/v1/agents/:agentId/status',
    {
      config: { roles: ANY_ROLE },
      schema: {
        summary: 'Sets a status: staff for any agent of the tenant, an agent for itself (ONLINE, BUSY, OFFLINE)',
        params: agentParams,
        body: {
          type: 'object',
          required: ['status'],
          additionalProperties: false,
          properties: { status: STATUS, reason: { type: 'string', maxLength: 500 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              agentId: ID,
              status: STATUS,
              cause: { type: 'string' },
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
      const self = p.sub === req.params.agentId;
      const staff = p.role === 'supervisor' || p.role === 'admin';
      if (!staff && !(self && isWorkStatus(req.body.status))) {
        return fail(reply, 403, 'FORBIDDEN', 'not allowed to set this status for this agent');
      }
      try {
        // One workflow per agent, forever: a request for an agent not yet seen starts it.
        const taskQueue = await app.vigil.queues.queueFor(p.tenant, req.params.agentId);
        const res = await inTime(() =>
          setAgentStatus(
            d.temporal,
            taskQueue,
            { tenant: p.tenant, agentId: req.params.agentId },
            {
              status: req.body.status,
              reason: req.body.reason,
              requestId: randomUUID(),
              actor: { kind: staff && !self ? (p.role as 'supervisor') : 'agent', id: p.sub },
            },
          ),
        );
        stateCache.delete(idKey(p.tenant, req.params.agentId));
        if (!res.committed && res.reason !== 'NO_CHANGE')
          return fail(reply, 409, res.reason, `HCM rejected the change: ${res.reason}`);
        return {
          agentId: req.params.agentId,
          status: res.facts.status,
          cause: res.facts.cause,
          since: new Date(res.facts.since).toISOString(),
          version: res.facts.version,
        };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          return fail(reply, 404, 'NOT_FOUND', `no workflow for ${req.params.agentId}`);
        if (err instanceof WorkflowUpdateFailedError)
          return fail(reply, 400, 'BAD_REQUEST', String((err.cause as Error)?.message ?? err.message));
        throw err;
      }
    },
  );
}
