// HCM for instances (README "Fleet mode"): the same transaction as a person's commit (lock the
// status row, re-read the facts, write status, log and outbox together) with the checks of health
// states; and the recovery ladder's steps, each a signed POST to the tenant's hook for the step.
import { recordStep, getHook, lastBeat, type RecoveryRecord } from '../db/fleet.ts';
import { inTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { resolveFleetRule } from '../db/rules.ts';
import { lockStatus, transitionCommitted, writeTransition } from '../db/status.ts';
import { postSigned } from '../platform/signed-post.ts';
import {
  HEALTH_CODE,
  isHealthState,
  type HealthCandidate,
  type HealthFacts,
  type HealthReply,
  type RecoveryStep,
} from '../workflows/fleet.ts';

export interface FleetActivities {
  loadHealth(a: { tenant: string; agentId: string }): Promise<HealthFacts>;
  commitHealth(c: HealthCandidate): Promise<HealthReply>;
  /** One step of the ladder: POSTs to the tenant's hook for it (retried by Temporal), records the outcome. */
  recoveryStep(a: { tenant: string; agentId: string; incident: string; step: RecoveryStep }): Promise<string>;
  /** Records an outcome the workflow decided (a step that failed every attempt, an abandoned recovery). */
  recordRecovery(r: RecoveryRecord): Promise<void>;
}

export interface FleetDeps {
  pool: Pool;
  region: string;
  /** Hooks may go to loopback/private addresses (`VIGIL_WEBHOOK_ALLOW_PRIVATE`; development and tests). */
  allowPrivate?: boolean;
  onOutbox?: () => void;
}

async function healthFacts(c: Queryable, tenant: string, agentId: string) {
  const row = await lockStatus(c, tenant, agentId);
  if (!row) return undefined;
  const beat = await lastBeat(c, tenant, agentId);
  const rule = await resolveFleetRule(c, tenant, agentId);
  const facts: HealthFacts = {
    // A person's status on an agent declared an instance later reads as not registered yet.
    health: isHealthState(row.status) ? row.status : 'DEREGISTERED',
    cause: row.cause,
    since: row.since.getTime(),
    version: row.version,
    ...(beat ? { lastBeatAt: beat.at, lastSeq: beat.seq } : {}),
    rule,
  };
  return { row, facts };
}

/** Why HCM does not commit an instance's candidate, or undefined when it does. */
export function recheckHealth(c: HealthCandidate, f: HealthFacts, owner: string, region: string): string | undefined {
  if (owner !== region) return 'REGION_NOT_OWNER';
  if (c.from !== f.health) return 'STALE_STATUS';
  if (c.to === f.health) return 'NO_CHANGE';
  if (c.actor.kind !== 'system') return undefined;
  if (c.to === 'MISSING' && (c.ruleId !== f.rule.ruleId || c.ruleVersion !== f.rule.version)) return 'RULE_CHANGED';
  // Absence is rechecked against HCM's last heartbeat: one that arrived since means it is back.
  const beat = f.lastBeatAt ?? 0;
  if (c.to === 'MISSING' && beat > c.windowStart + 0.5) return 'HEARTBEAT_SINCE';
  if ((c.to === 'RECOVERING' || c.to === 'FAILED') && beat > f.since) return 'HEARTBEAT_SINCE';
  return undefined;
}

export function createFleetActivities(deps: FleetDeps): FleetActivities {
  const { pool, region } = deps;
  return {
    async loadHealth({ tenant, agentId }) {
      return inTransaction(pool, async (c) => {
        const got = await healthFacts(c, tenant, agentId);
        if (!got) throw new Error(`no status row for ${tenant}/${agentId}`);
        return got.facts;
      });
    },

    async commitHealth(cand) {
      const reply = await inTransaction(pool, async (c): Promise<HealthReply> => {
        const got = await healthFacts(c, cand.tenant, cand.agentId);
        if (!got) throw new Error(`no status row for ${cand.tenant}/${cand.agentId}`);
        const { row, facts } = got;
        if (await transitionCommitted(c, cand.tenant, cand.agentId, cand.dedupeKey))
          return { committed: false, reason: 'ALREADY_HANDLED', facts };
        const why = recheckHealth(cand, facts, row.region, region);
        if (why) return { committed: false, reason: why, facts };
        const version = facts.version + 1;
        const since = await writeTransition(c, {
          tenant: cand.tenant,
          agentId: cand.agentId,
          from: row.status,
          to: cand.to,
          statusCode: HEALTH_CODE[cand.to],
          cause: cand.cause,
          actor: `${cand.actor.kind}:${cand.actor.id}`,
          reason: cand.reason ?? null,
          version,
          priorStatus: null,
          offlineByWindow: false,
          rule: { ruleId: facts.rule.ruleId, version: facts.rule.version },
          candidateRule: { ruleId: cand.ruleId, version: cand.ruleVersion },
          windowStart: cand.windowStart,
          dedupeKey: cand.dedupeKey,
          basis: cand.basis,
        });
        return {
          committed: true,
          facts: { ...facts, health: cand.to, cause: cand.cause, since: since.getTime(), version },
        };
      });
      if (reply.committed) deps.onOutbox?.();
      return reply;
    },

    async recoveryStep({ tenant, agentId, incident, step }) {
      const hook = await getHook(pool, tenant, step);
      if (!hook?.enabled) {
        await recordStep(pool, { tenant, agentId, incident, step, outcome: 'no hook', detail: null });
        return 'no hook';
      }
      const body = JSON.stringify({ tenant, agentId, incident, step, at: new Date().toISOString() });
      await postSigned(hook.url, hook.secret, body, {
        timeoutMs: 10_000,
        allowPrivate: deps.allowPrivate ?? false,
        headers: { 'x-vigil-recovery-step': step },
      });
      await recordStep(pool, { tenant, agentId, incident, step, outcome: 'done', detail: null });
      return 'done';
    },

    async recordRecovery(r) {
      await recordStep(pool, r);
    },
  };
}
