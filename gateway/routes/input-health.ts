// Input health (README "Input health and degrade"): what the console shows per scope, and the
// operator's override that holds (or never holds) automatic ABNORMAL/OFFLINE for a business line
// or a whole tenant. The verdicts come from gateway/input-health.ts; HCM applies them.
import type { FastifyInstance } from 'fastify';
import {
  forceInputHealth,
  holdOf,
  INPUT_THRESHOLDS as DEFAULTS,
  inputHealthLog,
  listHeld,
  listInputHealth,
  sampleSources,
  type ScopeHealth,
} from '../../db/input-health.ts';
import { inTransaction } from '../../db/pool.ts';
import { inputHealthRules } from '../../db/rules.ts';
import { authenticate, type GatewayDeps } from '../http.ts';
import { thresholdsFor } from '../input-health.ts';
import { AUTHED, NO_QUERY } from '../schemas.ts';

const ISO = { type: ['string', 'null'], format: 'date-time' } as const;
const NUM = { type: ['number', 'null'] } as const;
const INT = { type: 'integer', minimum: 0 } as const;
/** A business line as agents carry it ('' = none); '*' is the whole tenant. */
const LINE = { type: 'string', maxLength: 200, pattern: '^[^\\u0000]*$' } as const;

const SCOPE = {
  type: 'object',
  required: ['businessLine', 'state', 'holding'],
  properties: {
    businessLine: { type: 'string', description: "'*' = the whole tenant (overrides only)" },
    state: {
      type: 'string',
      enum: ['healthy', 'degraded', 'recovering', 'forced on', 'forced off'],
      description: 'What HCM does with windows of absence now: held unless healthy or forced off',
    },
    holding: { type: 'boolean', description: 'HCM holds ABNORMAL/OFFLINE by a window for this scope now' },
    reason: { type: ['string', 'null'], description: 'RATE_DROP, STORE_ERRORS, FORCED or RECOVERING' },
    degradedSince: ISO,
    recoveredAt: ISO,
    forced: { type: ['string', 'null'], enum: ['on', 'off', null] },
    forcedBy: { type: ['string', 'null'] },
    forcedReason: { type: ['string', 'null'] },
    forcedAt: ISO,
    actions: { type: 'number', description: 'Actions accepted in the sample window' },
    baselineActions: { ...NUM, description: 'Actions per sample window the baseline expects' },
    connected: INT,
    heard: { ...INT, description: 'Connected agents heard from (any event) in the window' },
    acted: { ...INT, description: 'Agents whose last action is in the window' },
    lagMs: { ...NUM, description: "Mean client-to-gateway lag (receipt time minus the client's ts)" },
    rejects: INT,
    storeErrors: INT,
    heldNow: { ...INT, description: 'Windows HCM holds now' },
    evaluatedAt: ISO,
  },
} as const;

type Scope = ReturnType<typeof scopeView>;

function scopeView(h: ScopeHealth & { heldNow: number }, all: ScopeHealth | undefined, now: number) {
  const hold = holdOf(h.businessLine === '*' ? undefined : h, all ?? (h.businessLine === '*' ? h : undefined), now);
  // A line without its own override follows the tenant's.
  const forced = h.forced ?? all?.forced ?? null;
  const state = forced
    ? (`forced ${forced}` as const)
    : h.degraded
      ? ('degraded' as const)
      : hold
        ? ('recovering' as const)
        : ('healthy' as const);
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    businessLine: h.businessLine,
    state,
    holding: hold !== undefined,
    reason: hold?.reason ?? h.reason,
    degradedSince: iso(h.degradedSince),
    recoveredAt: iso(h.recoveredAt),
    forced: h.forced,
    forcedBy: h.forcedBy,
    forcedReason: h.forcedReason,
    forcedAt: iso(h.forcedAt),
    actions: h.actionsWindow,
    baselineActions: h.baselineActions,
    connected: h.connected,
    heard: h.heard,
    acted: h.acted,
    lagMs: h.lagMs,
    rejects: h.rejectsWindow,
    storeErrors: h.storeErrorsWindow,
    heldNow: h.heldNow,
    evaluatedAt: iso(h.evaluatedAt),
  };
}

export async function inputHealthRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const windowSec = () => app.vigil.tuning.inputWindowSec;

  app.get(
    '/v1/health/input',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        summary:
          "Input health of the tenant's scopes (business lines), events by region and channel, held windows and the log of overrides",
        querystring: NO_QUERY,
        response: {
          200: {
            type: 'object',
            required: ['at', 'windowSec', 'scopes', 'sources', 'held', 'log'],
            properties: {
              at: { type: 'string', format: 'date-time' },
              windowSec: { type: 'number', description: 'The sample window' },
              scopes: { type: 'array', items: SCOPE },
              sources: {
                type: 'array',
                description: 'Events of the sample window by business line, region and channel',
                items: {
                  type: 'object',
                  properties: {
                    businessLine: { type: 'string' },
                    region: { type: 'string' },
                    channel: { type: 'string' },
                    events: INT,
                    actions: INT,
                    lagMs: NUM,
                  },
                },
              },
              held: {
                type: 'array',
                description: 'Windows HCM held (open ones first, then the latest resolved), at most 50',
                items: {
                  type: 'object',
                  properties: {
                    agentId: { type: 'string' },
                    to: { type: 'string' },
                    cause: { type: 'string' },
                    businessLine: { type: 'string' },
                    dueAt: ISO,
                    firstHeldAt: ISO,
                    lastHeldAt: ISO,
                    holds: INT,
                    resolvedAt: ISO,
                    outcome: { type: ['string', 'null'] },
                  },
                },
              },
              log: {
                type: 'array',
                description: 'Verdict changes and overrides, newest first, at most 50',
                items: {
                  type: 'object',
                  properties: {
                    businessLine: { type: 'string' },
                    at: { type: 'string' },
                    change: { type: 'string' },
                    actor: { type: 'string' },
                    reason: { type: ['string', 'null'] },
                    detail: { type: 'object', additionalProperties: true },
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
      const [scopes, sources, held, log] = await Promise.all([
        listInputHealth(d.pool, tenant),
        sampleSources(d.pool, windowSec(), tenant),
        listHeld(d.pool, tenant, 50),
        inputHealthLog(d.pool, tenant, 50),
      ]);
      const all = scopes.find((s) => s.businessLine === '*');
      const now = Date.now();
      return {
        at: new Date(now).toISOString(),
        windowSec: windowSec(),
        scopes: scopes.map((s): Scope => scopeView(s, all, now)),
        sources: sources.map(({ tenant: _, ...s }) => s),
        held,
        log,
      };
    },
  );

  app.put<{ Body: { businessLine?: string; mode: 'on' | 'off' | 'auto'; reason?: string } }>(
    '/v1/health/input/degrade',
    {
      config: { roles: ['admin'] },
      schema: {
        summary:
          "Forces degrade on (hold automatic ABNORMAL/OFFLINE) or off (never hold) for a business line or the whole tenant, or gives it back to the evaluator ('auto'); logged with the actor and reason",
        querystring: NO_QUERY,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['mode', 'reason'],
          properties: {
            businessLine: { ...LINE, description: 'Omitted: the whole tenant' },
            mode: { type: 'string', enum: ['on', 'off', 'auto'] },
            reason: { type: 'string', minLength: 1, maxLength: 500, pattern: '^[^\\u0000]*$' },
          },
        },
        response: { 200: SCOPE, ...AUTHED },
      },
    },
    async (req) => {
      const { tenant, sub, role } = req.principal!;
      const businessLine = req.body.businessLine ?? '*';
      return inTransaction(d.pool, async (c) => {
        const t =
          businessLine === '*' ? DEFAULTS : thresholdsFor(await inputHealthRules(c, tenant), tenant, businessLine);
        const h = await forceInputHealth(c, {
          tenant,
          businessLine,
          mode: req.body.mode,
          actor: `${role}:${sub}`,
          reason: req.body.reason ?? null,
          thresholds: t,
        });
        const scopes = await listInputHealth(c, tenant);
        const mine = scopes.find((s) => s.businessLine === businessLine) ?? { ...h, heldNow: 0 };
        return scopeView(
          mine,
          scopes.find((s) => s.businessLine === '*'),
          Date.now(),
        );
      });
    },
  );
}
