// One reconciliation pass, started by the `vigil-reconcile` schedule (workers/schedules.ts).
import { patched, proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile.ts';

const { reconcileWebhooks, reconcilePush } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/** The push lane is reconciled too; a pass started by older code (webhooks only) finishes as it began. */
export const RECONCILE_PUSH_PATCH = 'vigil-reconcile-push';

export async function reconcileWorkflow(): Promise<{ reenqueued: number; pushed?: number }> {
  const reenqueued = await reconcileWebhooks();
  if (!patched(RECONCILE_PUSH_PATCH)) return { reenqueued };
  return { reenqueued, pushed: await reconcilePush() };
}
