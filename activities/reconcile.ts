// Reconciliation (run by reconcileWorkflow on the `vigil-reconcile` schedule): webhook consumers
// whose acknowledged version of an agent is behind HCM get the agent's latest status again.
import type { Pool } from '../db/pool.ts';
import { notifyOutbox } from '../db/deliveries.ts';
import { reenqueueBehind } from '../db/webhooks.ts';

export interface ReconcileActivities {
  /** Returns how many deliveries it re-enqueued. */
  reconcileWebhooks(): Promise<number>;
}

export function createReconcileActivities(deps: { pool: Pool }): ReconcileActivities {
  return {
    async reconcileWebhooks() {
      const rows = await reenqueueBehind(deps.pool);
      // Re-enqueued rows are not new outbox rows, so no trigger wakes the dispatcher: do it here.
      if (rows.length) await notifyOutbox(deps.pool);
      return rows.length;
    },
  };
}
