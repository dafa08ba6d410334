// Input health (README "Input health and degrade"), the gateway's part: it counts what its intake
// accepts and refuses per agent and channel and writes the counts every `inputFlushMs`; one gateway
// at a time judges every scope every `inputEvalMs` (gateway/input-judge.ts) and stores the verdict,
// which HCM reads before it marks anybody ABNORMAL or OFFLINE by a window. Every gateway exports the
// stored verdicts as metrics.
import type pino from 'pino';
import {
  INPUT_THRESHOLDS,
  claimEvaluation,
  listInputHealth,
  pruneIntakeStats,
  sampleScopes,
  sampleSources,
  writeIntakeStats,
  writeVerdicts,
  type InputThresholds,
  type IntakeStat,
  type Verdict,
} from '../db/input-health.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import { inputHealthRules, pickRule, type RuleRow } from '../db/rules.ts';
import { isAction, type AgentEvent } from '../workflows/model.ts';
import { FRESH_SCOPE, judge } from './input-judge.ts';
import type { GatewayMetrics } from './metrics.ts';

/** Counts kept in memory while Postgres is out of reach, at most this many agent×channel keys. */
const MAX_KEYS = 200_000;
/** Intake counts are kept this long (the sample window and the console's look back are shorter). */
const KEEP_STATS_SEC = 3600;
/** At most this many scopes (and sources) are exported as metric series; the rest are summed in the API only. */
const MAX_SERIES = 500;

export interface InputHealthOptions {
  pool: Pool;
  gatewayId: string;
  metrics: GatewayMetrics;
  log: pino.Logger;
  flushMs: number;
  evalMs: number;
  windowSec: number;
}

/** The thresholds of a scope: the most specific enabled rule with `inputHealth` for the line, over the defaults. */
export function thresholdsFor(rules: readonly RuleRow[], tenant: string, businessLine: string): InputThresholds {
  const picked = pickRule(
    rules.filter((r) => r.tenant === tenant),
    { businessLine, skillGroups: [], channels: [] },
  );
  return { ...INPUT_THRESHOLDS, ...picked?.inputHealth };
}

export function createInputHealth(o: InputHealthOptions) {
  let counts = new Map<string, IntakeStat>();
  const timers: ReturnType<typeof setInterval>[] = [];
  let lastPrune = 0;

  const entry = (tenant: string, agentId: string, channel: string): IntakeStat | undefined => {
    const k = `${tenant}\u0000${agentId}\u0000${channel}`;
    let e = counts.get(k);
    if (!e) {
      if (counts.size >= MAX_KEYS) return undefined;
      e = { tenant, agentId, channel, events: 0, actions: 0, lagMsSum: 0, lagN: 0, rejects: 0, storeErrors: 0 };
      counts.set(k, e);
    }
    return e;
  };

  async function flush(): Promise<void> {
    if (counts.size === 0) return;
    const batch = counts;
    counts = new Map();
    try {
      await writeIntakeStats(o.pool, o.gatewayId, new Date(), [...batch.values()]);
    } catch (err) {
      // Kept for the next flush (bounded): the counts of an outage are what shows it.
      for (const [k, e] of batch) {
        const now = counts.get(k);
        if (!now) {
          if (counts.size < MAX_KEYS) counts.set(k, e);
          continue;
        }
        now.events += e.events;
        now.actions += e.actions;
        now.lagMsSum += e.lagMsSum;
        now.lagN += e.lagN;
        now.rejects += e.rejects;
        now.storeErrors += e.storeErrors;
      }
      o.log.warn({ err }, 'input health: intake counts not written; kept for the next try');
    }
  }

  /** Judges every scope once (when it is this gateway's turn); answers the verdicts written. */
  async function evaluate(): Promise<Verdict[]> {
    const verdicts = await inTransaction(o.pool, async (c) => {
      if (!(await claimEvaluation(c, o.evalMs / 2000))) return [];
      const samples = await sampleScopes(c, o.windowSec);
      const stored = await listInputHealth(c, undefined, false);
      const rules = await inputHealthRules(c);
      const prev = new Map(stored.map((h) => [`${h.tenant}\u0000${h.businessLine}`, h]));
      const now = Date.now();
      const out: Verdict[] = samples.map((s) => {
        const p = prev.get(`${s.tenant}\u0000${s.businessLine}`);
        const t = thresholdsFor(rules, s.tenant, s.businessLine);
        const dtSec = p?.evaluatedAt
          ? Math.min(10 * (o.evalMs / 1000), Math.max(0.001, (now - p.evaluatedAt.getTime()) / 1000))
          : o.evalMs / 1000;
        const j = judge(p ?? FRESH_SCOPE, s, t, o.windowSec, dtSec);
        return {
          tenant: s.tenant,
          businessLine: s.businessLine,
          ...j.next,
          ...(j.change ? { change: j.change } : {}),
          sample: s,
          holdRecheckSec: t.holdRecheckSec,
          recoveryGraceSec: t.recoveryGraceSec,
        };
      });
      await writeVerdicts(c, out);
      return out;
    });
    for (const v of verdicts) {
      if (v.change)
        o.log.warn({ tenant: v.tenant, businessLine: v.businessLine, reason: v.reason }, `input ${v.change}`);
    }
    if (Date.now() - lastPrune > 60_000) {
      lastPrune = Date.now();
      await pruneIntakeStats(o.pool, KEEP_STATS_SEC);
    }
    return verdicts;
  }

  /** Sets the metrics from the stored verdicts (every gateway, whoever evaluated). */
  async function exportMetrics(): Promise<void> {
    const [scopes, sources] = await Promise.all([listInputHealth(o.pool), sampleSources(o.pool, o.windowSec)]);
    const m = o.metrics.input;
    for (const g of Object.values(m)) g.reset();
    for (const h of scopes.slice(0, MAX_SERIES)) {
      const l = { tenant: h.tenant, business_line: h.businessLine };
      const holding = h.forced === 'on' || (h.forced === null && h.degraded);
      m.degraded.set(
        { ...l, reason: h.forced ? `FORCED_${h.forced.toUpperCase()}` : (h.reason ?? '') },
        holding ? 1 : 0,
      );
      m.held.set(l, h.heldNow);
      if (h.businessLine === '*') continue;
      m.actions.set(l, h.actionsWindow);
      if (h.baselineActions !== null) m.baseline.set(l, h.baselineActions);
      m.connected.set(l, h.connected);
      m.heardRatio.set(l, h.connected > 0 ? h.heard / h.connected : 0);
      m.actedRatio.set(l, h.connected > 0 ? h.acted / h.connected : 0);
      if (h.lagMs !== null) m.lag.set(l, h.lagMs / 1000);
      m.rejects.set(l, h.rejectsWindow);
    }
    for (const s of sources.slice(0, MAX_SERIES)) {
      m.events.set({ tenant: s.tenant, business_line: s.businessLine, region: s.region, channel: s.channel }, s.events);
    }
  }

  const tick = async () => {
    try {
      await evaluate();
      await exportMetrics();
    } catch (err) {
      o.log.warn({ err }, 'input health: evaluation failed');
    }
  };

  return {
    /** Accepted events of one agent (fresh ones: a resend is not new input). */
    accepted(tenant: string, agentId: string, events: readonly AgentEvent[], now: number): void {
      for (const ev of events) {
        const e = entry(tenant, agentId, ev.channel ?? '');
        if (!e) return;
        e.events += 1;
        if (isAction(ev.type)) e.actions += 1;
        e.lagMsSum += Math.max(0, now - ev.ts);
        e.lagN += 1;
      }
    },
    /** Events refused (invalid, over a rate, refused by Postgres). */
    rejected(tenant: string, agentId: string, n: number): void {
      const e = n > 0 ? entry(tenant, agentId, '') : undefined;
      if (e) e.rejects += n;
    },
    /** A frame whose events could not be stored (Postgres out of reach): the client resends them. */
    storeFailed(tenant: string, agentId: string): void {
      const e = entry(tenant, agentId, '');
      if (e) e.storeErrors += 1;
    },
    flush,
    evaluate,
    exportMetrics,
    start(): void {
      timers.push(setInterval(() => void flush(), o.flushMs));
      timers.push(setInterval(() => void tick(), o.evalMs));
    },
    async stop(): Promise<void> {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      await flush().catch(() => {});
    },
  };
}

export type InputHealth = ReturnType<typeof createInputHealth>;
