// What the operator console reads besides the agent list: the floor (counts per status, per
// business line and skill group, the last hour minute by minute) and the console's own settings.
import type { FastifyInstance } from 'fastify';
import { latestFeedSeq } from '../../db/feed.ts';
import { floorSnapshot } from '../../db/floor.ts';
import { loadConfig } from '../../platform/config.ts';
import { STATUSES } from '../../workflows/model.ts';
import { FLOOR_HISTORY, floorView, type Floor } from '../floor.ts';
import { ANY_ROLE, authenticate, type GatewayDeps } from '../http.ts';
import { LruMap } from '../rate-limit.ts';
import { AUTHED, NO_QUERY } from '../schemas.ts';

const COUNT = { type: 'integer', minimum: 0 } as const;
const STATUS_COUNTS = {
  type: 'object',
  description: 'Agents per status; all five statuses are always there',
  required: [...STATUSES],
  properties: Object.fromEntries(STATUSES.map((s) => [s, COUNT])),
} as const;
const ISO = { type: 'string', format: 'date-time' } as const;

/**
 * A tenant's floor is read at most this often per gateway, however many consoles ask: the statement
 * aggregates the tenant's agents and its last hour of status changes (a million rows an hour for a
 * large floor), and every console asking at once shares one read. `at` says how fresh it is.
 */
const FLOOR_CACHE_MS = 2000;
/** Bound of the floor cache (least recently used forgotten first). */
const FLOOR_CACHE_KEYS = 10_000;

/** Counts per group of one kind (business line, skill group), keyed by `key`. */
const groups = (key: string, description: string) =>
  ({
    type: 'array',
    description,
    items: {
      type: 'object',
      required: [key, 'total', 'byStatus'],
      properties: { [key]: { type: 'string' }, total: COUNT, byStatus: STATUS_COUNTS },
    },
  }) as const;

const FLOOR = {
  type: 'object',
  required: ['at', 'total', 'byStatus', 'byBusinessLine', 'bySkillGroup', 'history', 'feedSeq'],
  properties: {
    at: ISO,
    feedSeq: {
      type: 'integer',
      description:
        "The status feed's newest seq when this was read: `GET /v1/status-changes?after=<feedSeq>` long-polls for what changes next",
    },
    total: COUNT,
    byStatus: STATUS_COUNTS,
    byBusinessLine: groups('businessLine', "Sorted by business line; '' holds the agents without one"),
    bySkillGroup: groups('skillGroup', 'Sorted by skill group; an agent in several groups counts in each'),
    history: {
      type: 'object',
      description:
        'The counts at each minute of the last hour, oldest first, the last point being `at`: the current counts with the status changes committed since undone. An agent created within the hour counts before its creation too, in the status it had before its first change.',
      required: ['stepSec', 'points'],
      properties: {
        stepSec: { type: 'integer' },
        points: {
          type: 'array',
          items: { type: 'object', required: ['at', 'byStatus'], properties: { at: ISO, byStatus: STATUS_COUNTS } },
        },
      },
    },
  },
} as const;

export async function floorRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const temporalUiUrl = d.temporalUiUrl ?? loadConfig({}).temporalUiUrl;
  const floors = new LruMap<string, { at: number; floor: Promise<Floor & { feedSeq: number }> }>(FLOOR_CACHE_KEYS);
  const readFloor = (tenant: string): Promise<Floor & { feedSeq: number }> => {
    const hit = floors.get(tenant);
    if (hit && Date.now() - hit.at < FLOOR_CACHE_MS) return hit.floor;
    // The feed's seq is read first: every change the snapshot may miss has a later seq, so a
    // console long-polling from it reloads for it.
    const floor = latestFeedSeq(d.pool, tenant).then(async (feedSeq) => ({
      ...floorView(await floorSnapshot(d.pool, tenant, FLOOR_HISTORY)),
      feedSeq,
    }));
    const entry = { at: Date.now(), floor };
    floors.set(tenant, entry);
    // A failed read is not kept: the next request tries again.
    floor.catch(() => floors.get(tenant) === entry && floors.delete(tenant));
    return floor;
  };

  app.get(
    '/v1/floor',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        summary: "The tenant's floor: agents per status, per business line and per skill group, and the last hour",
        querystring: NO_QUERY,
        response: { 200: FLOOR, ...AUTHED },
      },
    },
    async (req) => readFloor(req.principal!.tenant),
  );

  app.get(
    '/v1/console/config',
    {
      config: { roles: ANY_ROLE },
      schema: {
        summary:
          "What the operator console needs to know: the caller (from its token), Temporal's namespace and Web UI",
        querystring: NO_QUERY,
        response: {
          200: {
            type: 'object',
            required: ['tenant', 'sub', 'role', 'namespace', 'temporalUiUrl'],
            properties: {
              tenant: { type: 'string' },
              sub: { type: 'string' },
              role: { type: 'string', enum: [...ANY_ROLE] },
              namespace: { type: 'string', description: 'Temporal namespace of the agent workflows' },
              temporalUiUrl: {
                type: 'string',
                description: 'Base URL of the Temporal Web UI (`VIGIL_TEMPORAL_UI_URL`), no trailing slash',
              },
            },
          },
          ...AUTHED,
        },
      },
    },
    async (req) => {
      const { tenant, sub, role } = req.principal!;
      return { tenant, sub, role, namespace: d.namespace, temporalUiUrl };
    },
  );
}
