import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface AgentInput {
  displayName?: string;
  businessLine?: string;
  skillGroups?: string[];
  channels?: string[];
}

/** Agents are created on first sight (hello, first workflow start) and updated by admins. */
export async function ensureAgent(db: Queryable, tenant: string, agentId: string, region: string): Promise<void> {
  await db.query(
    `INSERT INTO agents (tenant, agent_id, region) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [tenant, agentId, region],
  );
  await db.query(
    `INSERT INTO status_table (tenant, agent_id, status, status_code, cause, actor, since)
     VALUES ($1, $2, 'ONLINE', 1000, 'INITIAL', 'system:vigil', now()) ON CONFLICT DO NOTHING`,
    [tenant, agentId],
  );
}

export async function upsertAgent(db: Queryable, tenant: string, agentId: string, a: AgentInput, region: string): Promise<void> {
  await db.query(
    `INSERT INTO agents (tenant, agent_id, display_name, business_line, skill_groups, channels, region)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (tenant, agent_id) DO UPDATE SET
       display_name = COALESCE($8, agents.display_name), business_line = COALESCE($9, agents.business_line),
       skill_groups = COALESCE($10, agents.skill_groups), channels = COALESCE($11, agents.channels), updated_at = now()`,
    [tenant, agentId, a.displayName ?? '', a.businessLine ?? '', a.skillGroups ?? [], a.channels ?? [], region,
      a.displayName ?? null, a.businessLine ?? null, a.skillGroups ?? null, a.channels ?? null],
  );
  await ensureAgent(db, tenant, agentId, region);
}
