// The reconciliation schedule, created idempotently by the dispatcher at start.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const RECONCILE_SCHEDULE_ID = 'vigil-reconcile';

/** Creates the schedule, or leaves an existing one alone; returns whether it created it. */
export async function ensureReconcileSchedule(client: Client, o: { taskQueue: string; everySec: number }): Promise<boolean> {
  try {
    await client.schedule.create({
      scheduleId: RECONCILE_SCHEDULE_ID,
      spec: { intervals: [{ every: `${o.everySec}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconcileWorkflow',
        workflowId: 'vigil-reconcile-run',
        taskQueue: o.taskQueue,
        args: [],
        workflowExecutionTimeout: '5 minutes',
      },
      // A pass that runs long is not stacked with another.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}
