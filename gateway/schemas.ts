// JSON schemas the routes share (registered once with addSchema, referenced as `{ $ref: 'Id#' }`),
// and the shapes of what the API answers. They validate requests, serialize answers and make up
// the OpenAPI document at /openapi.json.
import type { FastifyInstance } from 'fastify';
import { ID_RULE, ID_SCHEMA } from '../platform/ids.ts';
import { STATUSES } from '../workflows/model.ts';

export const ID = { $ref: 'Id#' } as const;
export const STATUS = { $ref: 'Status#' } as const;
const ERROR = { $ref: 'Error#' } as const;

export function addSharedSchemas(app: FastifyInstance): void {
  app.addSchema({ $id: 'Id', ...ID_SCHEMA, description: `An id: ${ID_RULE}` });
  app.addSchema({ $id: 'Status', type: 'string', enum: [...STATUSES] });
  app.addSchema({
    $id: 'Error',
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'string' }, message: { type: 'string' } },
  });
}

/** Params made of ids, e.g. `idParams('agentId')`. */
export function idParams(...names: string[]) {
  return {
    type: 'object',
    required: names,
    additionalProperties: false,
    properties: Object.fromEntries(names.map((n) => [n, ID])),
  };
}

/**
 * The query string of a route that takes no parameters: any is a 400 naming it. `properties` must be
 * there, or the OpenAPI generator reads the schema's own keys as parameters named `type` and
 * `additionalProperties`.
 */
export const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;

/** The error answers a route documents, e.g. `errors(400, 401, 403)`. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR]));

/** Answers of every authenticated route: a bad request, no or a bad token, a role it may not use, over quota, a dependency down. */
export const AUTHED = errors(400, 401, 403, 429, 503);

const STRING_OR_NULL = { type: ['string', 'null'] } as const;
const STRINGS = { type: 'array', items: { type: 'string' } } as const;

/** An agent's committed state (`GET /v1/agents/:agentId`); the list adds the profile fields. */
export const AGENT_STATE = {
  type: 'object',
  properties: {
    agentId: { type: 'string' },
    tenant: { type: 'string' },
    status: STATUS,
    statusCode: { type: 'integer' },
    cause: { type: 'string' },
    since: { type: 'string', format: 'date-time' },
    taskCount: { type: 'integer' },
    skillGroups: STRINGS,
    onApp: { type: 'boolean' },
    devices: STRINGS,
    lastSeenAt: STRING_OR_NULL,
    deviceSessions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          deviceId: { type: 'string' },
          via: { type: 'string', enum: ['ws', 'http'] },
          lastSeenAt: { type: 'string' },
        },
      },
    },
    lastActionAt: STRING_OR_NULL,
    version: { type: 'integer' },
  },
} as const;

export const AGENT_LIST_ITEM = {
  ...AGENT_STATE,
  properties: {
    ...AGENT_STATE.properties,
    displayName: { type: 'string' },
    businessLine: { type: 'string' },
    nextDeadline: {
      type: ['object', 'null'],
      description:
        "An estimate from HCM's facts of the agent's next window and when it falls due (in the past: due now); null when none runs. The workflow's `state` query (`/live`) has the exact one",
      required: ['at', 'action'],
      properties: {
        at: { type: 'string', format: 'date-time' },
        action: { type: 'string', enum: ['IDLE', 'REMIND', 'ABNORMAL', 'OFFLINE'] },
      },
    },
  },
} as const;

export const AGENT_PROFILE = {
  type: 'object',
  properties: {
    agentId: { type: 'string' },
    tenant: { type: 'string' },
    displayName: { type: 'string' },
    businessLine: { type: 'string' },
    skillGroups: STRINGS,
    channels: STRINGS,
    region: { type: 'string' },
    kind: { type: 'string', enum: ['person', 'service'] },
    updatedAt: { type: 'string' },
  },
} as const;

const SECONDS_OUT = { type: 'integer' } as const;

/** A rule's input-health thresholds (README "Input health and degrade"); each one optional. */
export const INPUT_THRESHOLDS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dropRatio: { type: 'number', minimum: 0, maximum: 1 },
    recoverRatio: { type: 'number', minimum: 0, maximum: 1 },
    connectedRatio: { type: 'number', minimum: 0, maximum: 1 },
    minConnected: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    minBaselineActions: { type: 'number', minimum: 1, maximum: 1e9 },
    baselineSec: { type: 'integer', minimum: 1, maximum: 604_800 },
    holdRecheckSec: { type: 'integer', minimum: 1, maximum: 86_400 },
    recoveryGraceSec: { type: 'integer', minimum: 0, maximum: 86_400 },
  },
} as const;

/** A rule's fleet part (README "Fleet mode"); each field optional, the rest default. */
export const FLEET_RULE = {
  type: 'object',
  additionalProperties: false,
  properties: {
    heartbeatSec: { type: 'number', minimum: 0.1, maximum: 86_400 },
    missingAfterBeats: { type: 'integer', minimum: 1, maximum: 1000 },
    limits: {
      type: 'object',
      maxProperties: 32,
      propertyNames: { minLength: 1, maxLength: 64 },
      additionalProperties: { type: 'number' },
    },
    ladder: {
      type: 'array',
      minItems: 1,
      maxItems: 3,
      items: {
        type: 'object',
        required: ['step', 'afterSec'],
        additionalProperties: false,
        properties: {
          step: { type: 'string', enum: ['restart', 'replace', 'alert'] },
          afterSec: { type: 'number', minimum: 0, maximum: 86_400 },
        },
      },
    },
    stepTimeoutSec: { type: 'integer', minimum: 1, maximum: 3600 },
    stepAttempts: { type: 'integer', minimum: 1, maximum: 20 },
  },
} as const;

export const RULE = {
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    ruleId: { type: 'string' },
    version: { type: 'integer' },
    windows: {
      type: 'object',
      properties: {
        idleAfterNoTaskSec: SECONDS_OUT,
        remindAfterNoActionSec: SECONDS_OUT,
        abnormalAfterNoActionSec: SECONDS_OUT,
        offlineAfterAbnormalSec: SECONDS_OUT,
      },
    },
    reminderLockSec: SECONDS_OUT,
    reconnectGraceSec: SECONDS_OUT,
    offlineRecovery: { type: 'string' },
    scope: {
      type: 'object',
      properties: { businessLine: { type: 'string' }, skillGroups: STRINGS, channels: STRINGS },
    },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'string' },
    inputHealth: INPUT_THRESHOLDS,
    fleet: FLEET_RULE,
  },
} as const;

/** Open-ended objects (the workflow's live state, push data) are passed through as they are. */
export const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
