// One reconciliation pass, started by the `vigil-reconcile` schedule (workers/schedules.ts).
import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile.ts';

const { reconcileWebhooks } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export async function reconcileWorkflow(): Promise<{ reenqueued: number }> {
  return { reenqueued: await reconcileWebhooks() };
}
