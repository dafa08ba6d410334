import path from 'node:path';
import { z } from 'zod';
import type { RetentionPolicy } from '../db/retention.ts';
import { SHARED_LANE, type Routing } from '../workflows/routing.ts';
import { Id, ID_RULE, isId } from './ids.ts';

/** An optional setting where an empty value counts as unset (`VAR=` in a compose file or a shell). */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);

// The one place that reads the environment (docs/PROTOCOL.md "Start-up and configuration"); every
// variable here has a row in the README's configuration table (test/unit/config.test.ts checks).
const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(3).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TLS: unsetIfEmpty(z.enum(['on', 'off']).optional()),
  TEMPORAL_TLS_CA: unsetIfEmpty(z.string().optional()),
  TEMPORAL_TLS_CERT: unsetIfEmpty(z.string().optional()),
  TEMPORAL_TLS_KEY: unsetIfEmpty(z.string().optional()),
  TEMPORAL_TLS_SERVER_NAME: unsetIfEmpty(z.string().optional()),
  TEMPORAL_API_KEY: unsetIfEmpty(z.string().optional()),
  TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  // The operator console links to it: http(s) only, so a configured value cannot become a script link.
  VIGIL_TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/, error: 'VIGIL_TEMPORAL_UI_URL must be an http(s) URL' })
    .optional(),
  TEMPORAL_CLI: z.string().min(1).optional(),
  TEMPORAL_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  VIGIL_JWT_SECRET: z.string().min(16, 'VIGIL_JWT_SECRET must be at least 16 characters').optional(),
  VIGIL_DATA_DIR: z.string().min(1).default('.data'),
  VIGIL_CACHE_DIR: z.string().min(1).optional(),
  VIGIL_ALLOWED_ORIGINS: z.string().default(''),
  VIGIL_REGION: Id.default('local'),
  VIGIL_TASK_QUEUE: z.string().min(1).default('vigil-agents'),
  VIGIL_REGIONAL_QUEUES: z.enum(['on', 'off']).default('off'),
  VIGIL_ISOLATED_LINES: z.string().default(''),
  VIGIL_WORKER_LINES: unsetIfEmpty(z.string().optional()),
  VIGIL_HEARTBEAT_MS: z.coerce.number().int().min(100).default(30_000),
  VIGIL_HEARTBEAT_MIN_MS: unsetIfEmpty(z.coerce.number().int().min(100).optional()),
  VIGIL_HEARTBEAT_MAX_MS: unsetIfEmpty(z.coerce.number().int().min(100).max(3_600_000).optional()),
  VIGIL_HEARTBEAT_BUDGET_PER_SEC: z.coerce.number().min(1).default(200),
  VIGIL_CADENCE_HOLD_SEC: z.coerce.number().min(0.1).max(3_600).default(60),
  VIGIL_DIGEST_MS: z.coerce.number().int().min(10).max(3_600_000).default(300_000),
  VIGIL_COALESCE: z.enum(['on', 'off']).default('on'),
  VIGIL_GATEWAY_LEASE_SEC: z.coerce.number().min(0.5).default(15),
  VIGIL_DRAIN_GRACE_SEC: z.coerce.number().min(0).default(30),
  VIGIL_WS_PING_SEC: z.coerce.number().min(0.1).default(20),
  VIGIL_HTTP_DEVICE_TIMEOUT_SEC: z.coerce.number().min(0.5).optional(),
  VIGIL_CONN_EVENTS_PER_SEC: z.coerce.number().min(1).default(100),
  VIGIL_TENANT_EVENTS_PER_SEC: z.coerce.number().min(1).default(5_000),
  VIGIL_HTTP_REQ_PER_SEC: z.coerce.number().min(1).default(50),
  VIGIL_AGENT_EVENTS_PER_SEC: z.coerce.number().min(1).default(100),
  VIGIL_AGENT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(5),
  VIGIL_WS_MAX_INFLIGHT_FRAMES: z.coerce.number().int().min(1).max(10_000).default(32),
  VIGIL_AGENT_TOKEN_MAX_SEC: z.coerce
    .number()
    .int()
    .min(60)
    .default(24 * 3600),
  VIGIL_TEMPORAL_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  VIGIL_PUSH_ACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  VIGIL_INPUT_FLUSH_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  VIGIL_INPUT_EVAL_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  VIGIL_INPUT_WINDOW_SEC: z.coerce.number().min(1).max(3_600).default(60),
  VIGIL_WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1']).default('0'),
  VIGIL_DISPATCHER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  VIGIL_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  VIGIL_WORKER_CACHED_WORKFLOWS: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  VIGIL_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  VIGIL_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  VIGIL_RECONCILE_EVERY_SEC: z.coerce.number().int().min(5).default(60),
  VIGIL_RETENTION_EVERY_SEC: z.coerce.number().int().min(10).default(600),
  VIGIL_RETENTION_OUTBOX_DAYS: z.coerce.number().positive().default(7),
  VIGIL_RETENTION_DEAD_LETTER_DAYS: z.coerce.number().positive().default(30),
  VIGIL_RETENTION_STATUS_LOG_DAYS: z.coerce.number().positive().default(90),
  VIGIL_RETENTION_FEED_DAYS: z.coerce.number().positive().default(7),
  VIGIL_RETENTION_PUSH_MIN: z.coerce
    .number()
    .min(10, 'VIGIL_RETENTION_PUSH_MIN: docs/PROTOCOL.md promises pushes for at least 10 minutes')
    .default(15),
  VIGIL_RETENTION_DEDUPE_HOURS: z.coerce.number().positive().default(24),
  VIGIL_RETENTION_CLOSED_TASK_DAYS: z.coerce.number().positive().default(30),
  VIGIL_RETENTION_ACTIVITY_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  VIGIL_RETENTION_BATCH: z.coerce.number().int().min(1).max(100_000).default(5_000),
  VIGIL_RETENTION_BUDGET_SEC: z.coerce.number().min(1).max(3_600).default(60),
  VIGIL_FAULT: z.enum(['exit-after-deliver']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Where the machine-wide cache goes without VIGIL_CACHE_DIR (empty counts as unset, as XDG says).
  XDG_CACHE_HOME: z.string().optional(),
  HOME: z.string().optional(),
});

/** The variables loadConfig reads. */
export const ENV_VARIABLES: readonly string[] = Object.keys(Env.shape);

export interface Config {
  port: number;
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  /** TLS to TEMPORAL_ADDRESS; undefined = plain connections (the dev server). */
  temporalTls: TemporalTls | undefined;
  /** Temporal Cloud API key, sent as a bearer token on every call (only ever over TLS). A secret: never logged. */
  temporalApiKey: string | undefined;
  /** Port of the dev server `npm start` runs when TEMPORAL_ADDRESS is unset. */
  temporalPort: number;
  temporalUiPort: number;
  /** Base URL of the Temporal Web UI as an operator's browser reaches it (no trailing slash). */
  temporalUiUrl: string;
  temporalCli: string | undefined;
  /** The Temporal SDK's own log level in the worker process (its Rust core logs through it). */
  temporalLogLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * HS256 token secret; undefined when VIGIL_JWT_SECRET is unset. The gateway requires it
   * (requireSettings); `npm start` and `npm run token` fall back to the dev secret in the data dir.
   */
  jwtSecret: string | undefined;
  dataDir: string;
  cacheDir: string;
  allowedOrigins: string[];
  region: string;
  /** The worker's Prometheus `GET /metrics` port; 0 = off. */
  workerMetricsPort: number;
  /** Agent workflows the worker keeps in memory (sticky cache); more agents than this replay on wake-up. */
  workerCachedWorkflows: number;
  /** The base task queue; agents' queues derive from it (workflows/routing.ts). */
  taskQueue: string;
  /** How agents are split over task queues: per region, and isolated business lines. */
  routing: Routing;
  /** The lanes this worker polls (isolated lines, `*` = the shared queue); undefined = all. */
  workerLines: string[] | undefined;
  logLevel: string;
  /** Webhooks may target loopback/private/link-local addresses (local development and tests only). */
  webhookAllowPrivate: boolean;
  gateway: GatewayTuning;
  dispatcher: DispatcherTuning;
  /** Read by the worker's retention activity (README "Limits and retention"). */
  retention: RetentionPolicy;
}

/**
 * Where the TLS material for Temporal lives (platform/temporal-connection.ts reads the files when a
 * process connects). Paths are absolute.
 */
export interface TemporalTls {
  /** PEM CA certificate(s) the server's certificate must chain to; undefined = the system's trusted roots. */
  caFile: string | undefined;
  /** PEM client certificate and its private key for mTLS: both or neither. */
  certFile: string | undefined;
  keyFile: string | undefined;
  /** Name checked against the server's certificate (and sent as SNI) instead of the address's host. */
  serverName: string | undefined;
}

/** Dispatcher knobs (README "Propagation"); `fault` exists for crash tests only. */
export interface DispatcherTuning {
  metricsPort: number;
  webhookTimeoutMs: number;
  webhookMaxAttempts: number;
  reconcileEverySec: number;
  /** Interval of the `vigil-retention` schedule when the dispatcher creates it. */
  retentionEverySec: number;
  fault: 'exit-after-deliver' | undefined;
}

/** Gateway knobs (README "Configuration"); tests shorten them, production keeps the defaults. */
export interface GatewayTuning {
  /** The base heartbeat interval (README "Heartbeat cadence")… */
  heartbeatMs: number;
  /** …and the bounds of what the gateway advises; undefined = a third of the base / four times it. */
  heartbeatMinMs: number | undefined;
  heartbeatMaxMs: number | undefined;
  /** Heartbeats a second one gateway aims to receive at most: beyond it, intervals grow with the fleet. */
  heartbeatBudgetPerSec: number;
  /** A connection's advised interval changes at most once per this many seconds. */
  cadenceHoldSec: number;
  /** At most one digest signal of pure activity per agent this often (correctness never waits for it). */
  digestMs: number;
  /** false: one signal per accepted frame (the benchmark's naive side). */
  coalesce: boolean;
  leaseSec: number;
  drainGraceSec: number;
  /** Websocket ping interval; a socket silent for two of them (no pong, no frame) is terminated. */
  wsPingSec: number;
  /** An HTTP-only device silent this long is disconnected; undefined = three heartbeat intervals. */
  httpDeviceTimeoutSec: number | undefined;
  connEventsPerSec: number;
  tenantEventsPerSec: number;
  httpReqPerSec: number;
  /** Per agent across all its websockets and posts on one gateway (burst twice that). */
  agentEventsPerSec: number;
  /** Open websockets per agent on one gateway; one more is refused (4429 TOO_MANY_CONNECTIONS). */
  agentMaxConnections: number;
  /** Frames of one websocket received but not yet answered; one more closes it (4429). */
  wsMaxInflightFrames: number;
  /** Longest lifetime (exp - iat) of an agent token. */
  agentTokenMaxSec: number;
  /** Deadline of every Temporal call the gateway makes (signal, query, update, describeTaskQueue). */
  temporalTimeoutMs: number;
  /** A push not acknowledged on its connection within this long is sent again (README "The gateway", push). */
  pushAckTimeoutMs: number;
  /** Input health (README "Input health and degrade"): intake counts are written this often… */
  inputFlushMs: number;
  /** …scopes are judged this often (by one gateway at a time)… */
  inputEvalMs: number;
  /** …over the last this many seconds of intake. */
  inputWindowSec: number;
  /** Days of the activity record kept (`VIGIL_RETENTION_ACTIVITY_DAYS`): how far back a simulation may go. */
  recordDays: number;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  heartbeatBounds(e);
  const temporalTls = tlsSettings(e);
  const { routing, workerLines } = routingSettings(e);
  const xdgCache = e.XDG_CACHE_HOME || path.join(e.HOME || '/tmp', '.cache');
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalTls,
    temporalApiKey: e.TEMPORAL_API_KEY,
    temporalPort: e.TEMPORAL_PORT,
    temporalUiPort: e.TEMPORAL_UI_PORT,
    temporalUiUrl: (e.VIGIL_TEMPORAL_UI_URL ?? `http://localhost:${e.TEMPORAL_UI_PORT}`).replace(/\/+$/, ''),
    temporalCli: e.TEMPORAL_CLI,
    temporalLogLevel: e.TEMPORAL_LOG_LEVEL,
    jwtSecret: e.VIGIL_JWT_SECRET,
    dataDir: path.resolve(e.VIGIL_DATA_DIR),
    cacheDir: path.resolve(e.VIGIL_CACHE_DIR ?? path.join(xdgCache, 'vigil')),
    allowedOrigins: e.VIGIL_ALLOWED_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    region: e.VIGIL_REGION,
    workerMetricsPort: e.VIGIL_WORKER_METRICS_PORT,
    workerCachedWorkflows: e.VIGIL_WORKER_CACHED_WORKFLOWS,
    taskQueue: e.VIGIL_TASK_QUEUE,
    routing,
    workerLines,
    logLevel: e.LOG_LEVEL,
    webhookAllowPrivate: e.VIGIL_WEBHOOK_ALLOW_PRIVATE === '1',
    gateway: {
      heartbeatMs: e.VIGIL_HEARTBEAT_MS,
      heartbeatMinMs: e.VIGIL_HEARTBEAT_MIN_MS,
      heartbeatMaxMs: e.VIGIL_HEARTBEAT_MAX_MS,
      heartbeatBudgetPerSec: e.VIGIL_HEARTBEAT_BUDGET_PER_SEC,
      cadenceHoldSec: e.VIGIL_CADENCE_HOLD_SEC,
      digestMs: e.VIGIL_DIGEST_MS,
      coalesce: e.VIGIL_COALESCE === 'on',
      leaseSec: e.VIGIL_GATEWAY_LEASE_SEC,
      drainGraceSec: e.VIGIL_DRAIN_GRACE_SEC,
      wsPingSec: e.VIGIL_WS_PING_SEC,
      httpDeviceTimeoutSec: e.VIGIL_HTTP_DEVICE_TIMEOUT_SEC,
      connEventsPerSec: e.VIGIL_CONN_EVENTS_PER_SEC,
      tenantEventsPerSec: e.VIGIL_TENANT_EVENTS_PER_SEC,
      httpReqPerSec: e.VIGIL_HTTP_REQ_PER_SEC,
      agentEventsPerSec: e.VIGIL_AGENT_EVENTS_PER_SEC,
      agentMaxConnections: e.VIGIL_AGENT_MAX_CONNECTIONS,
      wsMaxInflightFrames: e.VIGIL_WS_MAX_INFLIGHT_FRAMES,
      agentTokenMaxSec: e.VIGIL_AGENT_TOKEN_MAX_SEC,
      temporalTimeoutMs: e.VIGIL_TEMPORAL_TIMEOUT_MS,
      pushAckTimeoutMs: e.VIGIL_PUSH_ACK_TIMEOUT_MS,
      inputFlushMs: e.VIGIL_INPUT_FLUSH_MS,
      inputEvalMs: e.VIGIL_INPUT_EVAL_MS,
      inputWindowSec: e.VIGIL_INPUT_WINDOW_SEC,
      recordDays: e.VIGIL_RETENTION_ACTIVITY_DAYS,
    },
    dispatcher: {
      metricsPort: e.VIGIL_DISPATCHER_METRICS_PORT,
      webhookTimeoutMs: e.VIGIL_WEBHOOK_TIMEOUT_MS,
      webhookMaxAttempts: e.VIGIL_WEBHOOK_MAX_ATTEMPTS,
      reconcileEverySec: e.VIGIL_RECONCILE_EVERY_SEC,
      retentionEverySec: e.VIGIL_RETENTION_EVERY_SEC,
      fault: e.VIGIL_FAULT,
    },
    retention: {
      outboxDays: e.VIGIL_RETENTION_OUTBOX_DAYS,
      deadLetterDays: e.VIGIL_RETENTION_DEAD_LETTER_DAYS,
      statusLogDays: e.VIGIL_RETENTION_STATUS_LOG_DAYS,
      feedDays: e.VIGIL_RETENTION_FEED_DAYS,
      pushMinutes: e.VIGIL_RETENTION_PUSH_MIN,
      dedupeHours: e.VIGIL_RETENTION_DEDUPE_HOURS,
      closedTaskDays: e.VIGIL_RETENTION_CLOSED_TASK_DAYS,
      activityDays: e.VIGIL_RETENTION_ACTIVITY_DAYS,
      batch: e.VIGIL_RETENTION_BATCH,
      budgetMs: e.VIGIL_RETENTION_BUDGET_SEC * 1000,
    },
  };
}

/** The interval bounds must hold the base interval: min ≤ VIGIL_HEARTBEAT_MS ≤ max. */
function heartbeatBounds(e: z.infer<typeof Env>): void {
  const problems: string[] = [];
  if (e.VIGIL_HEARTBEAT_MIN_MS !== undefined && e.VIGIL_HEARTBEAT_MIN_MS > e.VIGIL_HEARTBEAT_MS)
    problems.push(
      `VIGIL_HEARTBEAT_MIN_MS: ${e.VIGIL_HEARTBEAT_MIN_MS} is above VIGIL_HEARTBEAT_MS (${e.VIGIL_HEARTBEAT_MS})`,
    );
  if (e.VIGIL_HEARTBEAT_MAX_MS !== undefined && e.VIGIL_HEARTBEAT_MAX_MS < e.VIGIL_HEARTBEAT_MS)
    problems.push(
      `VIGIL_HEARTBEAT_MAX_MS: ${e.VIGIL_HEARTBEAT_MAX_MS} is below VIGIL_HEARTBEAT_MS (${e.VIGIL_HEARTBEAT_MS})`,
    );
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** The advised interval's bounds (README "Heartbeat cadence"), defaults filled in, always holding the base. */
export function cadenceBounds(t: GatewayTuning): { baseMs: number; minMs: number; maxMs: number } {
  const baseMs = t.heartbeatMs;
  return {
    baseMs,
    minMs: Math.min(baseMs, t.heartbeatMinMs ?? Math.round(baseMs / 3)),
    maxMs: Math.max(baseMs, t.heartbeatMaxMs ?? baseMs * 4),
  };
}

/**
 * TLS is on when TEMPORAL_TLS says so, or when anything that only makes sense over TLS is given (a
 * CA, a client certificate, a server name, an API key). Settings that contradict each other stop
 * start-up instead of one of them being ignored: an API key must never go out in plain text.
 */
function tlsSettings(e: z.infer<typeof Env>): TemporalTls | undefined {
  const needTls = (
    [
      ['TEMPORAL_TLS_CA', e.TEMPORAL_TLS_CA],
      ['TEMPORAL_TLS_CERT', e.TEMPORAL_TLS_CERT],
      ['TEMPORAL_TLS_KEY', e.TEMPORAL_TLS_KEY],
      ['TEMPORAL_TLS_SERVER_NAME', e.TEMPORAL_TLS_SERVER_NAME],
      ['TEMPORAL_API_KEY', e.TEMPORAL_API_KEY],
    ] as const
  )
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const problems: string[] = [];
  if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined)) {
    problems.push(
      `${e.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'}: a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY`,
    );
  }
  if (e.TEMPORAL_TLS === 'off' && needTls.length) {
    problems.push(`TEMPORAL_TLS: off, but ${needTls.join(', ')} ${needTls.length === 1 ? 'needs' : 'need'} TLS`);
  }
  const on = e.TEMPORAL_TLS === 'on' || (e.TEMPORAL_TLS === undefined && needTls.length > 0);
  if (on && e.TEMPORAL_ADDRESS === undefined) {
    problems.push(
      `${e.TEMPORAL_TLS === 'on' ? 'TEMPORAL_TLS' : needTls.join(', ')}: TLS needs TEMPORAL_ADDRESS (the dev server npm start runs takes plain connections)`,
    );
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  if (!on) return undefined;
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(p));
  return {
    caFile: abs(e.TEMPORAL_TLS_CA),
    certFile: abs(e.TEMPORAL_TLS_CERT),
    keyFile: abs(e.TEMPORAL_TLS_KEY),
    serverName: e.TEMPORAL_TLS_SERVER_NAME,
  };
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Isolated lines must be ids (they become part of queue names), and a worker can only poll lines
 * that have a queue: a line it names that is not isolated would be a queue nobody routes to.
 */
function routingSettings(e: z.infer<typeof Env>): { routing: Routing; workerLines: string[] | undefined } {
  const isolatedLines = [...new Set(list(e.VIGIL_ISOLATED_LINES))];
  const workerLines = e.VIGIL_WORKER_LINES === undefined ? undefined : [...new Set(list(e.VIGIL_WORKER_LINES))];
  const problems: string[] = [];
  const bad = isolatedLines.filter((l) => !isId(l));
  if (bad.length) problems.push(`VIGIL_ISOLATED_LINES: ${bad.join(', ')}: a line must be ${ID_RULE}`);
  const unknown = (workerLines ?? []).filter((l) => l !== SHARED_LANE && !isolatedLines.includes(l));
  if (unknown.length)
    problems.push(
      `VIGIL_WORKER_LINES: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in VIGIL_ISOLATED_LINES (${SHARED_LANE} = every other line)`,
    );
  if (workerLines?.length === 0) problems.push(`VIGIL_WORKER_LINES: names no line (${SHARED_LANE} = the shared queue)`);
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return { routing: { regional: e.VIGIL_REGIONAL_QUEUES === 'on', isolatedLines }, workerLines };
}

/** Settings left undefined when unset, which some processes cannot run without. */
const REQUIRABLE = {
  databaseUrl: 'DATABASE_URL',
  temporalAddress: 'TEMPORAL_ADDRESS',
  jwtSecret: 'VIGIL_JWT_SECRET',
} as const;
export type Requirable = keyof typeof REQUIRABLE;

/**
 * Throws a ConfigError naming the variables of `keys` that are unset; after it, `cfg` has them
 * (typed as set). `npm start` sets all three for the processes it runs.
 */
export function requireSettings<K extends Requirable>(
  cfg: Config,
  ...keys: K[]
): asserts cfg is Config & { [P in K]: string } {
  const missing = keys.filter((k) => cfg[k] === undefined).map((k) => REQUIRABLE[k]);
  if (missing.length === 0) return;
  const names = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  throw new ConfigError(
    `${names} ${missing.length === 1 ? 'is' : 'are'} required (npm start sets ${missing.length === 1 ? 'it' : 'them'})`,
  );
}
