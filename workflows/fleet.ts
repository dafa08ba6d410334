// Fleet mode (README "Fleet mode"): the health of a service or AI-agent instance, decided from its
// heartbeats. Pure and deterministic like workflows/decide.ts: (state, input) → new state,
// candidates for HCM, recovery-ladder steps to run and timeline notes.

export const HEALTH_STATES = ['HEALTHY', 'DEGRADED', 'MISSING', 'RECOVERING', 'FAILED', 'DEREGISTERED'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export const HEALTH_CODE: Record<HealthState, number> = {
  HEALTHY: 2000,
  DEGRADED: 2001,
  MISSING: 2002,
  RECOVERING: 2003,
  FAILED: 2004,
  DEREGISTERED: 2005,
};

export function isHealthState(s: unknown): s is HealthState {
  return typeof s === 'string' && (HEALTH_STATES as readonly string[]).includes(s);
}

export type HealthCause =
  | 'REGISTERED'
  | 'METRICS'
  | 'METRICS_OK'
  | 'NO_HEARTBEAT'
  | 'RECOVERY'
  | 'RECOVERY_EXHAUSTED'
  | 'HEARTBEAT_RESUMED'
  | 'DEREGISTERED';

export const RECOVERY_STEPS = ['restart', 'replace', 'alert'] as const;
export type RecoveryStep = (typeof RECOVERY_STEPS)[number];

/** The documented core of a heartbeat's `metrics` (any other number is kept and shown too). */
export const CORE_METRICS = ['cpu', 'memory', 'queueDepth', 'inFlight', 'errorRate'] as const;

/** A rule's `fleet` part: what healthy means for the instances it covers. */
export interface FleetRule {
  /** Interval the instances beat at. */
  heartbeatSec: number;
  /** MISSING after this many intervals without a heartbeat. */
  missingAfterBeats: number;
  /** DEGRADED while any reported metric is at or above its limit (metrics without a limit are only shown). */
  limits: Record<string, number>;
  /** The recovery ladder: each step after the previous one (or after MISSING), if the instance is still missing. */
  ladder: { step: RecoveryStep; afterSec: number }[];
  /** Each step's activity: its timeout and attempts. */
  stepTimeoutSec: number;
  stepAttempts: number;
}

export const DEFAULT_FLEET_RULE: FleetRule = {
  heartbeatSec: 30,
  missingAfterBeats: 3,
  limits: { cpu: 0.95, memory: 0.95, errorRate: 0.05 },
  ladder: [
    { step: 'restart', afterSec: 0 },
    { step: 'replace', afterSec: 120 },
    { step: 'alert', afterSec: 120 },
  ],
  stepTimeoutSec: 10,
  stepAttempts: 3,
};

/** What HCM knows of an instance; the workflow adopts it. */
export interface HealthFacts {
  health: HealthState;
  cause: string;
  since: number;
  version: number;
  /** ms, gateway clock: the latest heartbeat HCM recorded (absent before the first). */
  lastBeatAt?: number;
  lastSeq?: number | null;
  rule: { ruleId: string; version: number; fleet: FleetRule };
}

export interface Incident {
  /** `<MISSING since>`: names the incident in the recovery log. */
  id: string;
  /** Steps of the ladder started so far. */
  done: number;
  /** ms: when the next step is due. */
  nextAt: number;
}

export interface ServiceState {
  tenant: string;
  agentId: string;
  health: HealthState;
  cause: string;
  since: number;
  version: number;
  lastBeatAt: number;
  lastSeq: number | null;
  metrics: Record<string, number>;
  /** Metrics at or above their limit at the last heartbeat. */
  over: string[];
  rule: HealthFacts['rule'];
  incident: Incident | null;
  /** Dedupe keys HCM answered at this version (cleared when the version changes). */
  proposedKeys: string[];
}

export interface HealthCandidate {
  tenant: string;
  agentId: string;
  from: HealthState;
  to: HealthState;
  cause: HealthCause;
  actor: { kind: 'system' | 'agent' | 'supervisor' | 'admin'; id: string };
  reason?: string;
  windowStart: number;
  dedupeKey: string;
  ruleId: string;
  ruleVersion: number;
  basis: { lastBeatAt: number; lastSeq: number | null; metrics: Record<string, number>; over: string[] };
}

export type HealthReply =
  { committed: true; facts: HealthFacts } | { committed: false; reason: string; facts: HealthFacts };

export interface Beat {
  /** ms, gateway clock (the event's receivedAt). */
  at: number;
  seq?: number;
  metrics?: Record<string, number>;
}

export type ServiceInput =
  | { kind: 'beats'; beats: Beat[]; at: number }
  | { kind: 'timer'; at: number }
  | { kind: 'facts'; facts: HealthFacts; at: number }
  | {
      kind: 'request';
      to: HealthState;
      actor: HealthCandidate['actor'];
      reason?: string;
      requestId: string;
      at: number;
    };

export interface ServiceDecision {
  state: ServiceState;
  candidates: HealthCandidate[];
  /** Ladder steps to run now (the workflow runs them as activities and records each outcome). */
  steps: { incident: string; step: RecoveryStep; index: number }[];
  /** An incident given up because the instance came back. */
  abandoned: { incident: string; step: RecoveryStep } | null;
  notes: string[];
  next: { at: number; action: 'MISSING' | RecoveryStep } | null;
}

const SYSTEM = { kind: 'system', id: 'vigil' } as const;
const PRESENT: readonly HealthState[] = ['HEALTHY', 'DEGRADED'];
const LADDER: readonly HealthState[] = ['MISSING', 'RECOVERING', 'FAILED'];

export function initialService(tenant: string, agentId: string, f: HealthFacts, now: number): ServiceState {
  return {
    tenant,
    agentId,
    health: f.health,
    cause: f.cause,
    since: f.since,
    version: f.version,
    lastBeatAt: f.lastBeatAt ?? now,
    lastSeq: f.lastSeq ?? null,
    metrics: {},
    over: [],
    rule: f.rule,
    incident: null,
    proposedKeys: [],
  };
}

/** Metrics at or above their limit. */
export function overLimits(metrics: Record<string, number>, limits: Record<string, number>): string[] {
  return Object.keys(limits)
    .filter((k) => typeof metrics[k] === 'number' && metrics[k] >= limits[k]!)
    .sort();
}

export function adoptHealth(s: ServiceState, f: HealthFacts): ServiceState {
  if (f.version < s.version) return { ...s, lastBeatAt: Math.max(s.lastBeatAt, f.lastBeatAt ?? 0) };
  const next: ServiceState = {
    ...s,
    health: f.health,
    cause: f.cause,
    since: f.since,
    version: f.version,
    lastBeatAt: Math.max(s.lastBeatAt, f.lastBeatAt ?? 0),
    rule: f.rule,
    proposedKeys: f.version === s.version ? s.proposedKeys : [],
  };
  // MISSING committed: an incident begins, its first step after the ladder's first wait.
  if (f.health === 'MISSING' && !s.incident && f.version > s.version) {
    const first = f.rule.fleet.ladder[0];
    next.incident = first ? { id: `inc-${f.since}`, done: 0, nextAt: f.since + first.afterSec * 1000 } : null;
  }
  if (PRESENT.includes(f.health) || f.health === 'DEREGISTERED') next.incident = null;
  return next;
}

export function decideService(state: ServiceState, input: ServiceInput): ServiceDecision {
  const s: ServiceState = { ...state, proposedKeys: [...state.proposedKeys], metrics: { ...state.metrics } };
  const notes: string[] = [];
  const candidates: HealthCandidate[] = [];
  const steps: ServiceDecision['steps'] = [];
  let abandoned: ServiceDecision['abandoned'] = null;

  const propose = (to: HealthState, cause: HealthCause, windowStart: number, dedupeKey: string, extra = {}) => {
    if (s.proposedKeys.includes(dedupeKey)) return;
    s.proposedKeys = [...s.proposedKeys, dedupeKey].slice(-16);
    candidates.push({
      tenant: s.tenant,
      agentId: s.agentId,
      from: s.health,
      to,
      cause,
      actor: SYSTEM,
      windowStart,
      dedupeKey,
      ruleId: s.rule.ruleId,
      ruleVersion: s.rule.version,
      basis: { lastBeatAt: s.lastBeatAt, lastSeq: s.lastSeq, metrics: s.metrics, over: s.over },
      ...extra,
    });
  };
  /** Where a beating instance belongs: DEGRADED while a metric is over its limit. */
  const present = (): HealthState => (s.over.length > 0 ? 'DEGRADED' : 'HEALTHY');

  switch (input.kind) {
    case 'beats': {
      const beats = [...input.beats].sort((a, b) => a.at - b.at);
      for (const b of beats) {
        if (b.seq !== undefined) {
          if (s.lastSeq !== null && b.seq > s.lastSeq + 1)
            notes.push(`gap: ${b.seq - s.lastSeq - 1} heartbeats lost (seq ${s.lastSeq} → ${b.seq})`);
          if (s.lastSeq !== null && b.seq <= s.lastSeq) notes.push(`restart: seq ${s.lastSeq} → ${b.seq}`);
          s.lastSeq = b.seq;
        }
        if (b.metrics) s.metrics = { ...b.metrics };
        s.lastBeatAt = Math.max(s.lastBeatAt, b.at);
      }
      s.over = overLimits(s.metrics, s.rule.fleet.limits);
      const last = beats[beats.length - 1];
      if (!last) break;
      const to = present();
      if (LADDER.includes(s.health) || s.health === 'DEREGISTERED') {
        if (s.incident) abandoned = { incident: s.incident.id, step: currentStep(s) };
        s.incident = null;
        const cause = s.health === 'DEREGISTERED' ? 'REGISTERED' : 'HEARTBEAT_RESUMED';
        propose(to, cause, last.at, `${cause}:${last.at}`);
      } else if (to !== s.health) {
        propose(to, to === 'DEGRADED' ? 'METRICS' : 'METRICS_OK', last.at, `${to}:${s.over.join(',')}:${last.at}`);
      }
      break;
    }
    case 'facts': {
      Object.assign(s, adoptHealth(s, input.facts));
      break;
    }
    case 'request': {
      propose(input.to, 'DEREGISTERED', input.at, `request:${input.requestId}`, {
        actor: input.actor,
        ...(input.reason ? { reason: input.reason } : {}),
      });
      break;
    }
    case 'timer': {
      const due = deadline(s);
      if (!due || due.at > input.at) break;
      if (due.action === 'MISSING') {
        propose('MISSING', 'NO_HEARTBEAT', s.lastBeatAt, `MISSING:${s.rule.ruleId}@${s.rule.version}:${s.lastBeatAt}`);
        break;
      }
      const inc = s.incident!;
      const ladder = s.rule.fleet.ladder;
      const index = inc.done;
      steps.push({ incident: inc.id, step: due.action, index });
      if (index === 0) propose('RECOVERING', 'RECOVERY', inc.nextAt, `RECOVERING:${inc.id}`);
      if (index === ladder.length - 1) propose('FAILED', 'RECOVERY_EXHAUSTED', inc.nextAt, `FAILED:${inc.id}`);
      const following = ladder[index + 1];
      s.incident = following
        ? { ...inc, done: index + 1, nextAt: input.at + following.afterSec * 1000 }
        : { ...inc, done: index + 1, nextAt: Infinity };
      break;
    }
  }
  return { state: s, candidates, steps, abandoned, notes, next: deadline(s) };
}

function currentStep(s: ServiceState): RecoveryStep {
  const ladder = s.rule.fleet.ladder;
  return ladder[Math.min(s.incident?.done ?? 0, ladder.length - 1)]?.step ?? 'restart';
}

/** The next thing due: MISSING while beating, the next ladder step during an incident. */
export function deadline(s: ServiceState): ServiceDecision['next'] {
  if (PRESENT.includes(s.health)) {
    const f = s.rule.fleet;
    const key = `MISSING:${s.rule.ruleId}@${s.rule.version}:${s.lastBeatAt}`;
    if (s.proposedKeys.includes(key)) return null;
    return { at: s.lastBeatAt + f.missingAfterBeats * f.heartbeatSec * 1000, action: 'MISSING' };
  }
  const inc = s.incident;
  if (inc && LADDER.includes(s.health) && Number.isFinite(inc.nextAt)) {
    const step = s.rule.fleet.ladder[inc.done];
    if (step) return { at: inc.nextAt, action: step.step };
  }
  return null;
}
