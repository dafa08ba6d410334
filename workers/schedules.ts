// Vigil's housekeeping schedules (reconciliation, retention), created idempotently by the dispatcher
// at start. A pass that runs long is not stacked with another, and missed runs are not made up.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

interface Housekeeping {
  scheduleId: string;
  workflowType: string;
  timeout: string;
}

export const RECONCILE_SCHEDULE_ID = 'vigil-reconcile';
export const RETENTION_SCHEDULE_ID = 'vigil-retention';
const RECONCILE: Housekeeping = {
  scheduleId: RECONCILE_SCHEDULE_ID,
  workflowType: 'reconcileWorkflow',
  timeout: '5 minutes',
};
const RETENTION: Housekeeping = {
  scheduleId: RETENTION_SCHEDULE_ID,
  workflowType: 'retentionWorkflow',
  timeout: '30 minutes',
};

type Every = { taskQueue: string; everySec: number };

export const ensureReconcileSchedule = (client: Client, o: Every) => ensureSchedule(client, RECONCILE, o);
export const ensureRetentionSchedule = (client: Client, o: Every) => ensureSchedule(client, RETENTION, o);

/** Creates the schedule, or leaves an existing one alone; returns whether it created it. */
async function ensureSchedule(client: Client, s: Housekeeping, o: Every): Promise<boolean> {
  try {
    await client.schedule.create({
      scheduleId: s.scheduleId,
      spec: { intervals: [{ every: `${o.everySec}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: s.workflowType,
        workflowId: `${s.scheduleId}-run`,
        taskQueue: o.taskQueue,
        args: [],
        workflowExecutionTimeout: s.timeout,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}
