// The rule simulator (README "Rule simulator"): whom a proposed rule would govern, their recorded
// activity replayed under the rule they have and under the proposed one (simulator/engine.ts), and
// the difference summed up. Used by the simulation workflow's activities and by `npm run simulate`.
import type { Queryable } from '../db/pool.ts';
import { agentsAt, manualChanges, readRecord, tenantPeople, type AgentAt } from '../db/record.ts';
import { listRules, pickRule, plainRule, type RuleInput, type RuleRow } from '../db/rules.ts';
import { DEFAULT_RULE, STATUSES, type Actor, type Rule, type Status } from '../workflows/model.ts';
import { minutesIn, simulateAgent, type SimInput, type SimStart, type SimTransition } from './engine.ts';

/** A proposed rule: a new one, or an edit of an existing one (same id). */
export interface ProposedRule extends RuleInput {
  ruleId: string;
}

export interface SimulationRequest {
  tenant: string;
  rule: ProposedRule;
  from: number;
  to: number;
}

/** What one agent did under both rules (only agents whose transitions differ are kept as samples). */
export interface AgentDiff {
  agentId: string;
  current: SimTransition[];
  proposed: SimTransition[];
}

export interface SimulationSummary {
  from: string;
  to: string;
  ruleId: string;
  /** Agents the proposed rule would govern differently; all of them were simulated. */
  agents: { tenant: number; affected: number; simulated: number; changed: number };
  /** Transitions into each status over the range, under the current and the proposed rule. */
  transitions: Record<Status, { current: number; proposed: number }>;
  /** Agents with at least one transition into the status. */
  agentsInto: Record<Status, { current: number; proposed: number }>;
  /** Minutes agents spent ABNORMAL and OFFLINE, and the difference (proposed − current). */
  minutes: Record<'ABNORMAL' | 'OFFLINE', { current: number; proposed: number; delta: number }>;
  /** Up to 20 agents whose transitions differ, each with its timeline link. */
  sample: (AgentDiff & { timeline: string })[];
}

const SAMPLE = 20;

function asRow(tenant: string, p: ProposedRule, before: RuleRow | undefined): RuleRow {
  return {
    tenant,
    ruleId: p.ruleId,
    version: (before?.version ?? 0) + 1,
    windows: { ...DEFAULT_RULE.windows, ...p.windows },
    reminderLockSec: p.reminderLockSec ?? DEFAULT_RULE.reminderLockSec,
    reconnectGraceSec: p.reconnectGraceSec ?? DEFAULT_RULE.reconnectGraceSec,
    offlineRecovery: p.offlineRecovery ?? DEFAULT_RULE.offlineRecovery,
    scope: p.scope ?? {},
    enabled: p.enabled ?? true,
    updatedAt: new Date().toISOString(),
  };
}

type Subject = Pick<AgentAt, 'businessLine' | 'skillGroups' | 'channels'>;
export type RulesFor = (a: Subject) => { current: Rule; proposed: Rule };

/** The rule each agent has now, and the one it would have with the proposal in. */
export async function ruleChooser(db: Queryable, req: SimulationRequest): Promise<RulesFor> {
  const current = await listRules(db, req.tenant);
  const proposedRow = asRow(
    req.tenant,
    req.rule,
    current.find((r) => r.ruleId === req.rule.ruleId),
  );
  const proposed = [...current.filter((r) => r.ruleId !== req.rule.ruleId), proposedRow];
  const ruleOf = (rules: RuleRow[], a: Subject): Rule => {
    const r = pickRule(rules, a);
    return r ? plainRule(r) : DEFAULT_RULE;
  };
  return (a) => ({ current: ruleOf(current, a), proposed: ruleOf(proposed, a) });
}

/** The people whose governing rule the proposal changes (only they are simulated). */
export async function plan(db: Queryable, req: SimulationRequest) {
  const rulesFor = await ruleChooser(db, req);
  const people = await tenantPeople(db, req.tenant);
  const affected = people.filter((a) => {
    const r = rulesFor(a);
    return r.current.ruleId !== r.proposed.ruleId || r.current.version !== r.proposed.version;
  });
  return { tenantAgents: people.length, agentIds: affected.map((a) => a.agentId), rulesFor };
}

const actorOf = (text: string): Actor => {
  const i = text.indexOf(':');
  return { kind: text.slice(0, i) as Actor['kind'], id: text.slice(i + 1) };
};

/** Where the agent's simulated workflow starts (see db/record.ts AgentAt). */
export function startOf(a: AgentAt, from: number): SimStart {
  if (a.createdAt >= from || !a.last) {
    const at = Math.max(from, a.createdAt);
    return {
      status: 'ONLINE',
      cause: 'INITIAL',
      since: a.createdAt,
      priorStatus: null,
      offlineByWindow: false,
      openTickets: a.openTickets,
      lastActionAt: Math.max(a.lastActionAt ?? at, a.createdAt),
      at,
    };
  }
  return {
    status: a.last.to,
    cause: a.last.cause as SimStart['cause'],
    since: a.last.at,
    priorStatus: a.last.to === 'ABNORMAL' ? a.last.from : null,
    offlineByWindow: a.last.to === 'OFFLINE' && a.last.cause === 'ABNORMAL_TIMEOUT',
    openTickets: a.openTickets,
    lastActionAt: Math.max(a.lastActionAt ?? a.last.at, a.last.at),
    at: from,
  };
}

/** Replays a chunk of agents under both rules. */
export async function simulateChunk(db: Queryable, req: SimulationRequest, agentIds: string[], rulesFor: RulesFor) {
  const [ats, record, manual] = await Promise.all([
    agentsAt(db, req.tenant, agentIds, req.from),
    readRecord(db, req.tenant, agentIds, req.from, req.to),
    manualChanges(db, req.tenant, agentIds, req.from, req.to),
  ]);
  return ats.map((a) => {
    const rec = record.get(a.agentId)!;
    const start = startOf(a, req.from);
    const inputs: SimInput[] = [
      ...rec.actions.filter((at) => at >= start.at).map((at) => ({ at, kind: 'action' as const })),
      ...rec.events.filter((e) => e.at >= start.at).map((e) => ({ kind: 'event' as const, ...e })),
      ...rec.devices.filter((d) => d.at >= start.at).map((d) => ({ kind: 'device' as const, ...d })),
      ...manual
        .filter((m) => m.agentId === a.agentId && m.at >= start.at)
        .map((m) => ({
          at: m.at,
          kind: 'manual' as const,
          status: m.status,
          actor: actorOf(m.actor),
          ...(m.reason ? { reason: m.reason } : {}),
        })),
    ].sort((x, y) => x.at - y.at);
    const rules = rulesFor(a);
    return {
      agentId: a.agentId,
      startStatus: start.status,
      current: simulateAgent(a.agentId, rules.current, start, inputs, req.to).transitions,
      proposed: simulateAgent(a.agentId, rules.proposed, start, inputs, req.to).transitions,
    };
  });
}

export type ChunkResult = Awaited<ReturnType<typeof simulateChunk>>;

/** A running sum of chunk results (serialisable: it crosses activity boundaries). */
export interface Tally {
  simulated: number;
  changed: number;
  transitions: Record<string, { current: number; proposed: number }>;
  agentsInto: Record<string, { current: number; proposed: number }>;
  minutes: Record<'ABNORMAL' | 'OFFLINE', { current: number; proposed: number }>;
  sample: AgentDiff[];
}

export const emptyTally = (): Tally => ({
  simulated: 0,
  changed: 0,
  transitions: {},
  agentsInto: {},
  minutes: { ABNORMAL: { current: 0, proposed: 0 }, OFFLINE: { current: 0, proposed: 0 } },
  sample: [],
});

const same = (a: SimTransition[], b: SimTransition[]) =>
  a.length === b.length && a.every((t, i) => t.to === b[i]!.to && t.at === b[i]!.at);

export function addChunk(t: Tally, chunk: ChunkResult, req: Pick<SimulationRequest, 'from' | 'to'>): Tally {
  const out: Tally = structuredClone(t);
  for (const a of chunk) {
    out.simulated++;
    for (const side of ['current', 'proposed'] as const) {
      const into = new Set<string>();
      for (const tr of a[side]) {
        const c = (out.transitions[tr.to] ??= { current: 0, proposed: 0 });
        c[side]++;
        into.add(tr.to);
      }
      for (const s of into) (out.agentsInto[s] ??= { current: 0, proposed: 0 })[side]++;
      const mins = minutesIn(a.startStatus, req.from, a[side], req.to);
      out.minutes.ABNORMAL[side] += mins.ABNORMAL ?? 0;
      out.minutes.OFFLINE[side] += mins.OFFLINE ?? 0;
    }
    if (!same(a.current, a.proposed)) {
      out.changed++;
      if (out.sample.length < SAMPLE) out.sample.push({ agentId: a.agentId, current: a.current, proposed: a.proposed });
    }
  }
  return out;
}

export function summarize(req: SimulationRequest, tenantAgents: number, affected: number, t: Tally): SimulationSummary {
  const per = (m: Record<string, { current: number; proposed: number }>) =>
    Object.fromEntries(STATUSES.map((s) => [s, m[s] ?? { current: 0, proposed: 0 }])) as Record<
      Status,
      { current: number; proposed: number }
    >;
  const round = (x: number) => Math.round(x * 100) / 100;
  const mins = (k: 'ABNORMAL' | 'OFFLINE') => ({
    current: round(t.minutes[k].current),
    proposed: round(t.minutes[k].proposed),
    delta: round(t.minutes[k].proposed - t.minutes[k].current),
  });
  return {
    from: new Date(req.from).toISOString(),
    to: new Date(req.to).toISOString(),
    ruleId: req.rule.ruleId,
    agents: { tenant: tenantAgents, affected, simulated: t.simulated, changed: t.changed },
    transitions: per(t.transitions),
    agentsInto: per(t.agentsInto),
    minutes: { ABNORMAL: mins('ABNORMAL'), OFFLINE: mins('OFFLINE') },
    sample: t.sample.map((s) => ({
      ...s,
      timeline: `/v1/agents/${encodeURIComponent(s.agentId)}/timeline?from=${encodeURIComponent(new Date(req.from).toISOString())}`,
    })),
  };
}

/** The whole simulation in this process, chunk by chunk (the CLI; the API runs it as a workflow). */
export async function simulate(
  db: Queryable,
  req: SimulationRequest,
  o: { chunk?: number; progress?: (done: number, total: number) => void } = {},
): Promise<SimulationSummary> {
  const p = await plan(db, req);
  let tally = emptyTally();
  const size = o.chunk ?? 200;
  for (let i = 0; i < p.agentIds.length; i += size) {
    tally = addChunk(tally, await simulateChunk(db, req, p.agentIds.slice(i, i + size), p.rulesFor), req);
    o.progress?.(Math.min(i + size, p.agentIds.length), p.agentIds.length);
  }
  return summarize(req, p.tenantAgents, p.agentIds.length, tally);
}
