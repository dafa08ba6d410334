import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import type { RetentionPolicy } from '../db/retention.ts';

// The one place that reads the environment (PROTOCOL.md "Start-up and configuration").
const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(3).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  TEMPORAL_CLI: z.string().min(1).optional(),
  VIGIL_JWT_SECRET: z.string().min(16, 'VIGIL_JWT_SECRET must be at least 16 characters').optional(),
  VIGIL_DATA_DIR: z.string().min(1).default('.data'),
  VIGIL_CACHE_DIR: z.string().min(1).optional(),
  VIGIL_ALLOWED_ORIGINS: z.string().default(''),
  VIGIL_REGION: z.string().min(1).default('local'),
  VIGIL_TASK_QUEUE: z.string().min(1).default('vigil-agents'),
  VIGIL_HEARTBEAT_MS: z.coerce.number().int().min(100).default(30_000),
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
  VIGIL_AGENT_TOKEN_MAX_SEC: z.coerce.number().int().min(60).default(24 * 3600),
  VIGIL_TEMPORAL_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
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
  VIGIL_RETENTION_PUSH_MIN: z.coerce.number().min(10, 'VIGIL_RETENTION_PUSH_MIN: PROTOCOL.md promises pushes for at least 10 minutes').default(15),
  VIGIL_RETENTION_DEDUPE_HOURS: z.coerce.number().positive().default(24),
  VIGIL_RETENTION_CLOSED_TASK_DAYS: z.coerce.number().positive().default(30),
  VIGIL_RETENTION_BATCH: z.coerce.number().int().min(1).max(100_000).default(5_000),
  VIGIL_RETENTION_BUDGET_SEC: z.coerce.number().min(1).max(3_600).default(60),
  VIGIL_FAULT: z.enum(['exit-after-deliver']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  port: number;
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  temporalUiPort: number;
  temporalCli: string | undefined;
  jwtSecret: string;
  jwtSecretGenerated: boolean;
  dataDir: string;
  cacheDir: string;
  allowedOrigins: string[];
  region: string;
  /** The worker's Prometheus `GET /metrics` port; 0 = off. */
  workerMetricsPort: number;
  /** Agent workflows the worker keeps in memory (sticky cache); more agents than this replay on wake-up. */
  workerCachedWorkflows: number;
  taskQueue: string;
  logLevel: string;
  /** Webhooks may target loopback/private/link-local addresses (local development and tests only). */
  webhookAllowPrivate: boolean;
  gateway: GatewayTuning;
  dispatcher: DispatcherTuning;
  /** Read by the worker's retention activity (README "Limits and retention"). */
  retention: RetentionPolicy;
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
  heartbeatMs: number;
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
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const home = process.env.HOME ?? '/tmp';
  const xdgCache = process.env.XDG_CACHE_HOME ?? path.join(home, '.cache');
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalUiPort: e.TEMPORAL_UI_PORT,
    temporalCli: e.TEMPORAL_CLI,
    jwtSecret: e.VIGIL_JWT_SECRET ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: e.VIGIL_JWT_SECRET === undefined,
    dataDir: path.resolve(e.VIGIL_DATA_DIR),
    cacheDir: path.resolve(e.VIGIL_CACHE_DIR ?? path.join(xdgCache, 'vigil')),
    allowedOrigins: e.VIGIL_ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    region: e.VIGIL_REGION,
    workerMetricsPort: e.VIGIL_WORKER_METRICS_PORT,
    workerCachedWorkflows: e.VIGIL_WORKER_CACHED_WORKFLOWS,
    taskQueue: e.VIGIL_TASK_QUEUE,
    logLevel: e.LOG_LEVEL,
    webhookAllowPrivate: e.VIGIL_WEBHOOK_ALLOW_PRIVATE === '1',
    gateway: {
      heartbeatMs: e.VIGIL_HEARTBEAT_MS,
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
      batch: e.VIGIL_RETENTION_BATCH,
      budgetMs: e.VIGIL_RETENTION_BUDGET_SEC * 1000,
    },
  };
}
