// A rule edit reaches the running windows (docs/DESIGN.md "HCM's facts are the clock"): a workflow
// learns its rule from HCM at every wake-up, so a lengthened window never fires early; an edit that
// can bring a deadline forward is signalled to every agent the old or new scope covers, so an
// agent already past the new deadline is decided at once instead of at its old one.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Pool } from '../db/pool.ts';
import { agentsInScopes, type RuleRow } from '../db/rules.ts';
import { agentWorkflowId, eventsSignal } from '../workflows/contract.ts';
import { withDeadline } from './temporal-deadline.ts';

const CONCURRENCY = 16;

/** Whether the edit can make some deadline earlier (or change which rule governs an agent). */
export function mayBringDeadlinesForward(before: RuleRow | undefined, after: RuleRow): boolean {
  if (!before) return true;
  if (JSON.stringify(before.scope) !== JSON.stringify(after.scope) || before.enabled !== after.enabled) return true;
  if (before.offlineRecovery !== after.offlineRecovery) return true;
  const shorter = (a: number, b: number) => b < a;
  const w0 = before.windows;
  const w1 = after.windows;
  return (
    shorter(w0.idleAfterNoTaskSec, w1.idleAfterNoTaskSec) ||
    shorter(w0.remindAfterNoActionSec, w1.remindAfterNoActionSec) ||
    shorter(w0.abnormalAfterNoActionSec, w1.abnormalAfterNoActionSec) ||
    shorter(w0.offlineAfterAbnormalSec, w1.offlineAfterAbnormalSec) ||
    shorter(before.reminderLockSec, after.reminderLockSec) ||
    shorter(before.reconnectGraceSec, after.reconnectGraceSec)
  );
}

/** Signals `refresh` to the affected agents' workflows; answers how many it reached. */
export async function notifyRuleChange(
  pool: Pool,
  temporal: Client,
  tenant: string,
  before: RuleRow | undefined,
  after: RuleRow,
  timeoutMs = 10_000,
): Promise<number> {
  if (!mayBringDeadlinesForward(before, after)) return 0;
  const agents = await agentsInScopes(pool, tenant, before ? [before.scope, after.scope] : [after.scope]);
  return refreshAgents(temporal, tenant, agents, timeoutMs, true);
}

/**
 * Signals `refresh` to the running workflows of `agents` (a rule edit, or a region switch:
 * gateway/routes/admin.ts), a few at a time; answers how many it reached.
 */
export async function refreshAgents(
  temporal: Client,
  tenant: string,
  agents: readonly string[],
  timeoutMs: number,
  refresh: true | 'region',
): Promise<number> {
  let reached = 0;
  let next = 0;
  const lane = async () => {
    while (next < agents.length) {
      const agentId = agents[next++]!;
      try {
        await withDeadline(temporal, timeoutMs, () =>
          temporal.workflow.getHandle(agentWorkflowId(tenant, agentId)).signal(eventsSignal, { refresh }),
        );
        reached++;
      } catch (err) {
        // An agent without a workflow has no running window: it starts on the new rule.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, agents.length) }, lane));
  return reached;
}
