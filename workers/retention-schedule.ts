// The retention schedule, created idempotently by the dispatcher at start (like reconciliation).
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const RETENTION_SCHEDULE_ID = 'vigil-retention';

/** Creates the schedule, or leaves an existing one alone; returns whether it created it. */
export async function ensureRetentionSchedule(client: Client, o: { taskQueue: string; everySec: number }): Promise<boolean> {
  try {
    await client.schedule.create({
      scheduleId: RETENTION_SCHEDULE_ID,
      spec: { intervals: [{ every: `${o.everySec}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'retentionWorkflow',
        workflowId: 'vigil-retention-run',
        taskQueue: o.taskQueue,
        args: [],
        workflowExecutionTimeout: '30 minutes',
      },
      // A pass that runs long is not stacked with another; missed runs are not made up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}
