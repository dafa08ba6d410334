// What the gateway answers, as the console reads it (docs/openapi.json has the full schemas). Types
// only: the ones the server side declares are taken from there, and esbuild drops these imports.
export type { DeadLetter } from '../db/deliveries.ts';
export type { Floor, StatusCounts as Counts } from '../gateway/floor.ts';
import type { AgentStateRow } from '../db/agents.ts';
import type { fleetHealth, FleetHook as FleetHookRow, listSteps } from '../db/fleet.ts';
import type { inputHealthLog, listHeld, SourceSample } from '../db/input-health.ts';
import type { RuleRow } from '../db/rules.ts';
import type { SimulationSummary } from '../simulator/run.ts';
import type { HealthState, ServiceState } from '../workflows/fleet.ts';
import type { Status } from '../workflows/model.ts';

export interface ConsoleConfig {
  tenant: string;
  sub: string;
  role: 'agent' | 'instance' | 'supervisor' | 'admin' | 'service';
  namespace: string;
  temporalUiUrl: string;
}

/** A row of `GET /v1/agents`: the committed state with the profile and an estimated next deadline. */
export type AgentRow = Omit<AgentStateRow, 'status'> & {
  /** An instance's (README "Fleet mode") is one of its health states. */
  status: Status | HealthState;
  nextDeadline: { at: string; action: 'IDLE' | 'REMIND' | 'ABNORMAL' | 'OFFLINE' } | null;
};

export interface TimelineEntry {
  at: string;
  source: 'record' | 'workflow' | 'hcm' | 'delivery';
  kind: string;
  detail: string;
}

export type Rule = Omit<RuleRow, 'tenant'>;

export interface Webhook {
  id: string;
  url: string;
  lane: string;
  enabled: boolean;
  filter: { businessLines?: string[]; statuses?: Status[]; topics?: ('status' | 'reminder')[] };
  createdAt: string;
  updatedAt: string;
}

/** One scope of `GET /v1/health/input`: a business line ('*' = the tenant-wide override row). */
export interface InputScope {
  businessLine: string;
  state: 'healthy' | 'degraded' | 'recovering' | 'forced on' | 'forced off';
  /** HCM holds windows of absence for this scope now. */
  holding: boolean;
  reason: string | null;
  degradedSince: string | null;
  recoveredAt: string | null;
  forced: 'on' | 'off' | null;
  forcedBy: string | null;
  forcedReason: string | null;
  forcedAt: string | null;
  actions: number;
  baselineActions: number | null;
  connected: number;
  heard: number;
  acted: number;
  lagMs: number | null;
  rejects: number;
  storeErrors: number;
  heldNow: number;
  evaluatedAt: string | null;
}

export interface InputHealth {
  at: string;
  windowSec: number;
  scopes: InputScope[];
  sources: Omit<SourceSample, 'tenant'>[];
  /** The route's schema leaves out the dedupe key and window start. */
  held: Omit<Awaited<ReturnType<typeof listHeld>>[number], 'dedupeKey' | 'windowStart'>[];
  log: Awaited<ReturnType<typeof inputHealthLog>>;
}

/** An instance not HEALTHY, as `GET /v1/fleet/health` lists it (README "Fleet mode"). */
export type FleetInstance = Omit<Awaited<ReturnType<typeof fleetHealth>>['unhealthy'][number], 'status'> & {
  status: HealthState;
};

/** One step of a recovery ladder and how it went, newest first. */
export type RecoveryStepRow = Awaited<ReturnType<typeof listSteps>>[number];

export interface FleetHealth {
  counts: Record<HealthState, number>;
  unhealthy: FleetInstance[];
  recoveries: RecoveryStepRow[];
}

/** A recovery step's hook (`GET /v1/fleet/hooks`): the secret is never shown. */
export type FleetHook = Omit<FleetHookRow, 'secret'>;

/** `GET /v1/agents/:id/live` of an instance: its workflow's health state (times in ms). */
export type ServiceLive = Pick<ServiceState, 'lastSeq' | 'metrics' | 'over' | 'incident'> & {
  kind: 'service';
  status: HealthState;
  cause: string;
  since: number;
  version: number;
  lastBeatAt: number;
  next: { at: number; action: string } | null;
  rule: { ruleId: string; version: number };
};

/** `GET /v1/rules/simulations/:id` (README "Rule simulator"): progress while it runs, then the summary. */
export type { SimulationSummary };
export interface SimulationState {
  state: 'running' | 'done' | 'failed';
  progress?: { done: number; total: number };
  result?: SimulationSummary;
  error?: string;
}
