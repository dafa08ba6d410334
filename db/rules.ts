import type { Queryable, Row } from './pool.ts';
import { DEFAULT_RULE, type Rule } from '../workflows/model.ts';
import type { InputThresholds } from './input-health.ts';
import { DEFAULT_FLEET_RULE, type FleetRule } from '../workflows/fleet.ts';

export interface RuleRow extends Rule {
  tenant: string;
  scope: { businessLine?: string; skillGroups?: string[]; channels?: string[] };
  enabled: boolean;
  updatedAt: string;
  /** Input-health thresholds of the rule's scope (README "Input health and degrade"); the rest default. */
  inputHealth?: Partial<InputThresholds>;
  /** Fleet mode (README "Fleet mode"): what healthy means for the instances in scope; the rest default. */
  fleet?: Partial<FleetRule>;
}

export interface RuleInput {
  scope?: { businessLine?: string; skillGroups?: string[]; channels?: string[] };
  windows?: Partial<Rule['windows']>;
  reminderLockSec?: number;
  reconnectGraceSec?: number;
  offlineRecovery?: Rule['offlineRecovery'];
  enabled?: boolean;
  inputHealth?: Partial<InputThresholds>;
  fleet?: Partial<FleetRule>;
}

const COLUMNS = `rule_id, version, business_line, skill_groups, channels, idle_after_no_task_sec,
  remind_after_no_action_sec, abnormal_after_no_action_sec, offline_after_abnormal_sec,
  reminder_lock_sec, reconnect_grace_sec, offline_recovery, enabled, updated_at, tenant, input_health, fleet`;

function toRule(r: Row): RuleRow {
  return {
    tenant: r.tenant,
    ruleId: r.rule_id,
    version: r.version,
    windows: {
      idleAfterNoTaskSec: r.idle_after_no_task_sec,
      remindAfterNoActionSec: r.remind_after_no_action_sec,
      abnormalAfterNoActionSec: r.abnormal_after_no_action_sec,
      offlineAfterAbnormalSec: r.offline_after_abnormal_sec,
    },
    reminderLockSec: r.reminder_lock_sec,
    reconnectGraceSec: r.reconnect_grace_sec,
    offlineRecovery: r.offline_recovery,
    scope: {
      ...(r.business_line !== null ? { businessLine: r.business_line } : {}),
      ...(r.skill_groups !== null ? { skillGroups: r.skill_groups } : {}),
      ...(r.channels !== null ? { channels: r.channels } : {}),
    },
    enabled: r.enabled,
    updatedAt: new Date(r.updated_at).toISOString(),
    inputHealth: r.input_health ?? {},
    fleet: r.fleet ?? {},
  };
}

export function plainRule(r: RuleRow): Rule {
  const { ruleId, version, windows, reminderLockSec, reconnectGraceSec, offlineRecovery } = r;
  return { ruleId, version, windows, reminderLockSec, reconnectGraceSec, offlineRecovery };
}

/** What rule resolution needs to know about an agent. */
export interface RuleSubject {
  businessLine: string;
  skillGroups: readonly string[];
  channels: readonly string[];
}

/** Whether a rule's scope covers the agent: every scope part it sets must match (lists by overlap). */
export function ruleMatches(r: Pick<RuleRow, 'scope' | 'enabled'>, a: RuleSubject): boolean {
  const { businessLine, skillGroups, channels } = r.scope;
  return (
    r.enabled &&
    (businessLine === undefined || businessLine === a.businessLine) &&
    (skillGroups === undefined || skillGroups.some((g) => a.skillGroups.includes(g))) &&
    (channels === undefined || channels.some((c) => a.channels.includes(c)))
  );
}

/** Channel beats skill group beats business line beats tenant-wide (a bit each, so they add up). */
export function specificity(r: Pick<RuleRow, 'scope'>): number {
  return (r.scope.channels ? 4 : 0) + (r.scope.skillGroups ? 2 : 0) + (r.scope.businessLine !== undefined ? 1 : 0);
}

/**
 * The most specific enabled rule whose scope matches the agent (tenant → business line → skill
 * group → channel); ties go to the most recently updated rule, then the smaller rule id.
 * Undefined when none matches (the caller falls back to DEFAULT_RULE).
 */
export function pickRule<R extends Pick<RuleRow, 'ruleId' | 'scope' | 'enabled' | 'updatedAt'>>(
  candidates: readonly R[],
  agent: RuleSubject,
): R | undefined {
  let best: R | undefined;
  for (const r of candidates) {
    if (!ruleMatches(r, agent)) continue;
    if (!best || compareRules(r, best) < 0) best = r;
  }
  return best;
}

function compareRules(
  a: Pick<RuleRow, 'ruleId' | 'scope' | 'updatedAt'>,
  b: Pick<RuleRow, 'ruleId' | 'scope' | 'updatedAt'>,
): number {
  return (
    specificity(b) - specificity(a) ||
    Date.parse(b.updatedAt) - Date.parse(a.updatedAt) ||
    (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0)
  );
}

/**
 * The rule that governs the agent now: `pickRule` over the tenant's enabled rules. The SQL only
 * narrows the candidates to rules that can match (cheap with many rules); `pickRule` decides.
 */
export async function resolveRule(db: Queryable, tenant: string, agentId: string): Promise<Rule> {
  const picked = await resolveRuleRow(db, tenant, agentId);
  return picked ? plainRule(picked) : DEFAULT_RULE;
}

/** The rule of an instance (README "Fleet mode"): its id and version, and its `fleet` part over the defaults. */
export async function resolveFleetRule(
  db: Queryable,
  tenant: string,
  agentId: string,
): Promise<{ ruleId: string; version: number; fleet: FleetRule }> {
  const picked = await resolveRuleRow(db, tenant, agentId);
  return {
    ruleId: picked?.ruleId ?? DEFAULT_RULE.ruleId,
    version: picked?.version ?? DEFAULT_RULE.version,
    fleet: { ...DEFAULT_FLEET_RULE, ...picked?.fleet },
  };
}

async function resolveRuleRow(db: Queryable, tenant: string, agentId: string): Promise<RuleRow | undefined> {
  const { rows: agents } = await db.query(
    `SELECT business_line, skill_groups, channels FROM agents WHERE tenant = $1 AND agent_id = $2`,
    [tenant, agentId],
  );
  const a = agents[0];
  if (!a) return undefined;
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM rules
      WHERE tenant = $1 AND enabled AND (business_line IS NULL OR business_line = $2)
        AND (skill_groups IS NULL OR skill_groups && $3) AND (channels IS NULL OR channels && $4)`,
    [tenant, a.business_line, a.skill_groups, a.channels],
  );
  return pickRule(rows.map(toRule), {
    businessLine: a.business_line,
    skillGroups: a.skill_groups,
    channels: a.channels,
  });
}

/**
 * Create or replace a rule; every change bumps its version. The new version is also kept in
 * `rule_versions`, in the same statement, so the history never misses a version nor holds one
 * that did not commit.
 */
export async function upsertRule(db: Queryable, tenant: string, ruleId: string, input: RuleInput): Promise<RuleRow> {
  const w = { ...DEFAULT_RULE.windows, ...input.windows };
  const { rows } = await db.query(
    `WITH up AS (
       INSERT INTO rules (tenant, rule_id, business_line, skill_groups, channels, idle_after_no_task_sec,
          remind_after_no_action_sec, abnormal_after_no_action_sec, offline_after_abnormal_sec,
          reminder_lock_sec, reconnect_grace_sec, offline_recovery, enabled, input_health, fleet)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (tenant, rule_id) DO UPDATE SET version = rules.version + 1,
          business_line = EXCLUDED.business_line, skill_groups = EXCLUDED.skill_groups,
          channels = EXCLUDED.channels, idle_after_no_task_sec = EXCLUDED.idle_after_no_task_sec,
          remind_after_no_action_sec = EXCLUDED.remind_after_no_action_sec,
          abnormal_after_no_action_sec = EXCLUDED.abnormal_after_no_action_sec,
          offline_after_abnormal_sec = EXCLUDED.offline_after_abnormal_sec,
          reminder_lock_sec = EXCLUDED.reminder_lock_sec, reconnect_grace_sec = EXCLUDED.reconnect_grace_sec,
          offline_recovery = EXCLUDED.offline_recovery, enabled = EXCLUDED.enabled,
          input_health = EXCLUDED.input_health, fleet = EXCLUDED.fleet, updated_at = now()
       RETURNING ${COLUMNS}
     ), kept AS (
       INSERT INTO rule_versions (${COLUMNS}) SELECT ${COLUMNS} FROM up
     )
     SELECT ${COLUMNS} FROM up`,
    [
      tenant,
      ruleId,
      input.scope?.businessLine ?? null,
      input.scope?.skillGroups ?? null,
      input.scope?.channels ?? null,
      w.idleAfterNoTaskSec,
      w.remindAfterNoActionSec,
      w.abnormalAfterNoActionSec,
      w.offlineAfterAbnormalSec,
      input.reminderLockSec ?? DEFAULT_RULE.reminderLockSec,
      input.reconnectGraceSec ?? DEFAULT_RULE.reconnectGraceSec,
      input.offlineRecovery ?? DEFAULT_RULE.offlineRecovery,
      input.enabled ?? true,
      JSON.stringify(input.inputHealth ?? {}),
      JSON.stringify(input.fleet ?? {}),
    ],
  );
  return toRule(rows[0]);
}

export async function listRules(db: Queryable, tenant: string): Promise<RuleRow[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM rules WHERE tenant = $1 ORDER BY rule_id`, [tenant]);
  return rows.map(toRule);
}

/** Every kept version of a rule, newest first; empty when the tenant has no such rule. */
export async function listRuleVersions(db: Queryable, tenant: string, ruleId: string): Promise<RuleRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM rule_versions WHERE tenant = $1 AND rule_id = $2 ORDER BY version DESC`,
    [tenant, ruleId],
  );
  return rows.map(toRule);
}

export async function getRule(db: Queryable, tenant: string, ruleId: string): Promise<RuleRow | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM rules WHERE tenant = $1 AND rule_id = $2`, [tenant, ruleId]);
  return rows[0] ? toRule(rows[0]) : undefined;
}

/** Ids of the tenant's agents that any of these scopes covers (the same match as `ruleMatches`). */
export async function agentsInScopes(db: Queryable, tenant: string, scopes: RuleRow['scope'][]): Promise<string[]> {
  if (scopes.length === 0) return [];
  const params: unknown[] = [tenant];
  const conds = scopes.map((s) => {
    params.push(s.businessLine ?? null, s.skillGroups ?? null, s.channels ?? null);
    const [b, g, c] = [params.length - 2, params.length - 1, params.length];
    return `(($${b}::text IS NULL OR business_line = $${b}) AND ($${g}::text[] IS NULL OR skill_groups && $${g}::text[])
             AND ($${c}::text[] IS NULL OR channels && $${c}::text[]))`;
  });
  const { rows } = await db.query<{ agent_id: string }>(
    `SELECT agent_id FROM agents WHERE tenant = $1 AND (${conds.join(' OR ')}) ORDER BY agent_id`,
    params,
  );
  return rows.map((r) => r.agent_id);
}

/** Enabled rules that set input-health thresholds: one tenant's, or every tenant's (the evaluator judges them all). */
export async function inputHealthRules(db: Queryable, tenant?: string): Promise<RuleRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM rules WHERE enabled AND input_health <> '{}' AND ($1::text IS NULL OR tenant = $1)`,
    [tenant ?? null],
  );
  return rows.map(toRule);
}
