// One retention pass, started by the `vigil-retention` schedule (workers/schedules.ts).
import { proxyActivities } from '@temporalio/workflow';
import type { RetentionActivities } from '../activities/retention.ts';

// The activity stops starting statements when its time budget (default 60 s) is spent and
// heartbeats after each one; a worker lost mid-run is noticed within the heartbeat timeout.
const { applyRetention } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export async function retentionWorkflow(): Promise<Awaited<ReturnType<RetentionActivities['applyRetention']>>> {
  return applyRetention();
}
