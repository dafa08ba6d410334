// HCM: the only place a status becomes a fact. Each commit is one Postgres transaction that locks
// the agent's status row, re-reads the facts, and writes status, log and outbox rows together —
// or rejects with a reason and the fresh facts.
import { ensureAgent, ownerRegion } from '../db/agents.ts';
import { inputHold, recordHeld, resolveHeld } from '../db/input-health.ts';
import { inTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { resolveRule } from '../db/rules.ts';
import { lockStatus, openTaskCount, transitionCommitted, writeReminder, writeTransition } from '../db/status.ts';
import { STATUS_CODE, type Candidate, type Facts, type HcmReply, type Reminder } from '../workflows/model.ts';
import { recheck, recheckReminder } from './recheck.ts';

export interface ReminderReply {
  sent: boolean;
  /** Why not: ACTIVITY_SINCE (the agent acted; the facts say when), REMINDER_LOCK, ALREADY_SENT. */
  reason?: string;
  facts: Facts;
}

export interface HcmActivities {
  loadFacts(a: { tenant: string; agentId: string }): Promise<Facts>;
  commitTransition(c: Candidate): Promise<HcmReply>;
  /** Engine 1 (replays of old histories only): false when the lock or an earlier reminder suppressed it. */
  sendReminder(r: Reminder): Promise<boolean>;
  /** Engine 2: rechecks the agent's last action and the lock, and answers with the facts. */
  remind(r: Reminder): Promise<ReminderReply>;
}

export interface HcmDeps {
  pool: Pool;
  /** Only agents of this region are committed here. */
  region: string;
  /** Called after each commit that wrote outbox rows (used to wake the dispatcher). */
  onOutbox?: () => void;
  /**
   * The task queue of an agent of this region and business line (workflows/routing.ts), told to
   * the workflow in the facts: a workflow on another queue moves there. Unset: facts name none.
   */
  route?: (agent: { region: string; businessLine: string }) => string;
  /** The task queue this worker polls (facts `servedOn`); with `route`, what lets a workflow move. */
  servedOn?: string;
  /** Called after each committed transition, with the facts it committed on (the worker's metrics). */
  onCommitted?: (c: Candidate, facts: Facts, committedAt: number) => void;
  /** Called with every answer to a candidate, committed or rejected, and how long the call took (ms). */
  onAnswered?: (c: Candidate, reply: HcmReply, ms: number) => void;
  /** Called with every answer to a reminder (the worker's metrics). */
  onReminded?: (r: Reminder, reply: ReminderReply) => void;
  /** Called once per call with its outcome (the worker's metrics). */
  onCall?: (activity: keyof HcmActivities, outcome: 'committed' | 'rejected' | 'invalid_input' | 'error') => void;
}

/**
 * Postgres refused the data itself (SQLSTATE class 22, data exception, or 23, integrity, except a
 * unique violation: a concurrent commit of the same window, which the next attempt answers as
 * ALREADY_HANDLED). Retrying cannot help, so the call ends as a rejection.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23]/.test(code) && code !== '23505';
}

/**
 * Locks the agent's status row and reads its facts. `owner`: the region read again after the lock
 * (a commit checks it), so a region switch, which locks the status rows it switches, and a commit
 * are strictly ordered: a commit after the switch always sees the new owner.
 */
async function lockFacts(c: Queryable, tenant: string, agentId: string, deps: HcmDeps, owner = false) {
  const row = await lockStatus(c, tenant, agentId);
  if (!row) return undefined;
  if (owner) row.region = (await ownerRegion(c, tenant, agentId)) ?? row.region;
  const taskCount = await openTaskCount(c, tenant, agentId);
  const rule = await resolveRule(c, tenant, agentId);
  const facts: Facts = {
    status: row.status,
    cause: row.cause as Facts['cause'],
    since: row.since.getTime(),
    version: row.version,
    priorStatus: row.priorStatus,
    offlineByWindow: row.offlineByWindow,
    taskCount,
    rule,
    ...(row.lastActionAt ? { lastActionAt: row.lastActionAt.getTime() } : {}),
    lastReminderAt: row.lastReminderAt?.getTime() ?? null,
    businessLine: row.businessLine,
    skillGroups: row.skillGroups,
    // An instance's workflow runs workflows/service.ts (README "Fleet mode").
    ...(row.kind === 'service' ? { kind: 'service' as const } : {}),
    region: row.region,
    ...(deps.route && deps.servedOn !== undefined
      ? { taskQueue: deps.route({ region: row.region, businessLine: row.businessLine }), servedOn: deps.servedOn }
      : {}),
  };
  return { row, facts };
}

const actorText = (c: Candidate) => `${c.actor.kind}:${c.actor.id}`;

export function createHcmActivities(deps: HcmDeps): HcmActivities {
  const { pool, region } = deps;

  const readFacts = (tenant: string, agentId: string) =>
    inTransaction(pool, async (c) => {
      await ensureAgent(c, tenant, agentId, region);
      return (await lockFacts(c, tenant, agentId, deps))!.facts;
    });

  /** Runs one HCM call, ends a data error as INVALID_INPUT (with fresh facts) and counts the outcome. */
  async function guarded<T extends { facts: Facts }>(
    activity: keyof HcmActivities,
    a: { tenant: string; agentId: string },
    run: () => Promise<T>,
    invalid: (facts: Facts) => T,
    ok: (r: T) => boolean,
  ): Promise<T> {
    try {
      const r = await run();
      deps.onCall?.(activity, ok(r) ? 'committed' : 'rejected');
      return r;
    } catch (err) {
      if (!isDataError(err)) {
        deps.onCall?.(activity, 'error');
        throw err;
      }
      deps.onCall?.(activity, 'invalid_input');
      return invalid(await readFacts(a.tenant, a.agentId));
    }
  }

  const remind = async (r: Reminder): Promise<ReminderReply> => {
    const reply = await guarded(
      'remind',
      r,
      () => remindOnce(r),
      (facts) => ({ sent: false, reason: 'INVALID_INPUT', facts }),
      (x) => x.sent,
    );
    deps.onReminded?.(r, reply);
    return reply;
  };

  async function remindOnce(r: Reminder): Promise<ReminderReply> {
    const reply = await inTransaction(pool, async (c): Promise<ReminderReply> => {
      await ensureAgent(c, r.tenant, r.agentId, region);
      const { facts } = (await lockFacts(c, r.tenant, r.agentId, deps))!;
      const why = recheckReminder(r, facts, Date.now());
      if (why) return { sent: false, reason: why, facts };
      const at = await writeReminder(c, {
        tenant: r.tenant,
        agentId: r.agentId,
        version: facts.version,
        dedupeKey: r.dedupeKey,
        payload: {
          cause: r.cause,
          lastActionAt: new Date(r.lastActionAt).toISOString(),
          lockSec: r.lockSec,
          status: facts.status,
        },
      });
      if (!at) return { sent: false, reason: 'ALREADY_SENT', facts };
      return { sent: true, facts: { ...facts, lastReminderAt: at.getTime() } };
    });
    if (reply.sent) deps.onOutbox?.();
    return reply;
  }

  return {
    async loadFacts({ tenant, agentId }) {
      try {
        return await readFacts(tenant, agentId);
      } catch (err) {
        deps.onCall?.('loadFacts', 'error');
        throw err;
      }
    },

    async commitTransition(cand) {
      const t0 = performance.now();
      const reply = await guarded(
        'commitTransition',
        cand,
        () => commitOnce(cand),
        (facts) => ({ committed: false, candidate: cand, reason: 'INVALID_INPUT', facts }),
        (r) => r.committed,
      );
      deps.onAnswered?.(cand, reply, performance.now() - t0);
      return reply;
    },

    async sendReminder(r) {
      return (await remind(r)).sent;
    },

    remind,
  };

  async function commitOnce(cand: Candidate): Promise<HcmReply> {
    const reply = await inTransaction(pool, async (c): Promise<HcmReply> => {
      await ensureAgent(c, cand.tenant, cand.agentId, region);
      const { row, facts } = (await lockFacts(c, cand.tenant, cand.agentId, deps, true))!;
      // Already handled (activity retry, workflow reset, replay): answer as the first time did.
      if (await transitionCommitted(c, cand.tenant, cand.agentId, cand.dedupeKey))
        return { committed: false, candidate: cand, reason: 'ALREADY_HANDLED', facts };
      const why = recheck(cand, facts, row.region, region);
      // Absence by a window: held while the agent's input looks broken (README "Input health and degrade").
      const holdable = cand.actor.kind === 'system' && (cand.to === 'ABNORMAL' || cand.to === 'OFFLINE');
      if (why) {
        if (holdable && why !== 'REGION_NOT_OWNER') {
          await resolveHeld(c, cand.tenant, cand.agentId, cand.dedupeKey, 'released');
        }
        return { committed: false, candidate: cand, reason: why, facts };
      }
      let heldSince: Date | undefined;
      if (holdable) {
        const hold = await inputHold(c, cand.tenant, row.businessLine);
        if (hold) {
          const w = facts.rule.windows;
          const windowSec = cand.to === 'ABNORMAL' ? w.abnormalAfterNoActionSec : w.offlineAfterAbnormalSec;
          await recordHeld(c, {
            tenant: cand.tenant,
            agentId: cand.agentId,
            dedupeKey: cand.dedupeKey,
            to: cand.to,
            cause: cand.cause,
            businessLine: row.businessLine,
            windowStart: cand.windowStart,
            dueAt: cand.windowStart + windowSec * 1000,
          });
          const held = { scope: hold.scope, reason: hold.reason, until: Date.now() + hold.recheckSec * 1000 };
          return { committed: false, candidate: cand, reason: 'INPUT_DEGRADED', facts: { ...facts, held } };
        }
        // A window held before begins when it closed, not when the input came back.
        const dueAt = await resolveHeld(c, cand.tenant, cand.agentId, cand.dedupeKey, 'committed');
        if (dueAt) heldSince = new Date(Math.min(Date.now(), Math.max(dueAt.getTime(), facts.since)));
      }

      const version = facts.version + 1;
      const priorStatus = cand.to === 'ABNORMAL' ? cand.from : null;
      const offlineByWindow = cand.to === 'OFFLINE' && cand.actor.kind === 'system';
      const since = await writeTransition(c, {
        tenant: cand.tenant,
        agentId: cand.agentId,
        from: cand.from,
        to: cand.to,
        statusCode: STATUS_CODE[cand.to],
        cause: cand.cause,
        actor: actorText(cand),
        reason: cand.reason ?? null,
        version,
        priorStatus,
        offlineByWindow,
        rule: facts.rule,
        candidateRule: { ruleId: cand.ruleId, version: cand.ruleVersion },
        windowStart: cand.windowStart,
        dedupeKey: cand.dedupeKey,
        basis: cand.basis,
        ...(heldSince ? { since: heldSince } : {}),
        region,
      });
      return {
        committed: true,
        candidate: cand,
        facts: {
          ...facts,
          status: cand.to,
          cause: cand.cause,
          since: since.getTime(),
          version,
          priorStatus,
          offlineByWindow,
        },
      };
    });
    if (reply.committed) {
      deps.onOutbox?.();
      deps.onCommitted?.(cand, reply.facts, reply.facts.since);
    }
    return reply;
  }
}
