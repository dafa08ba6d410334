// Reconciliation (run by reconcileWorkflow on the `vigil-reconcile` schedule), lane by lane
// (README "Propagation", **Reconciliation**): webhook consumers whose acknowledged version of an
// agent is behind HCM, and connected workbenches that never acknowledged their agent's current
// status, get the agent's latest status again. Feed consumers reconcile themselves (docs/PROTOCOL.md
// "Reconciling a feed consumer").
import type { Pool } from '../db/pool.ts';
import { notifyOutbox } from '../db/deliveries.ts';
import { reenqueueUnackedPushes, type PushReconcileOptions } from '../db/push.ts';
import { reenqueueBehind } from '../db/webhooks.ts';
import { PUSH_LANE } from '../workers/lanes/push.ts';

export interface ReconcileActivities {
  /** Returns how many deliveries it re-enqueued. */
  reconcileWebhooks(): Promise<number>;
  /** Returns how many status pushes it re-enqueued. */
  reconcilePush(): Promise<number>;
}

/** A status gets this long to be acked before it is pushed again; at most this many re-pushes per version. */
export const PUSH_RECONCILE: Omit<PushReconcileOptions, 'lane'> = { graceSec: 30, maxRepushes: 3, limit: 1000 };

export function createReconcileActivities(deps: {
  pool: Pool;
  pushReconcile?: Partial<Omit<PushReconcileOptions, 'lane'>>;
}): ReconcileActivities {
  // Re-enqueued rows are not new outbox rows, so no trigger wakes the dispatcher: do it here.
  const wake = async (n: number) => {
    if (n) await notifyOutbox(deps.pool);
    return n;
  };
  return {
    async reconcileWebhooks() {
      return wake((await reenqueueBehind(deps.pool)).length);
    },
    async reconcilePush() {
      const o = { ...PUSH_RECONCILE, ...deps.pushReconcile, lane: PUSH_LANE };
      return wake((await reenqueueUnackedPushes(deps.pool, o)).length);
    },
  };
}
