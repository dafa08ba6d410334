// Retention (run by retentionWorkflow on the `vigil-retention` schedule): deletes what the policy
// no longer keeps, in bounded batches (db/retention.ts). The policy is the worker's configuration.
import { heartbeat } from '@temporalio/activity';
import type { Pool } from '../db/pool.ts';
import { applyRetention, type RetentionPolicy, type RetentionResult } from '../db/retention.ts';
import { loadConfig } from '../platform/config.ts';

export interface RetentionActivities {
  applyRetention(): Promise<RetentionResult>;
}

/** Heartbeat after each statement; outside an activity (a script, a test) there is no one to tell. */
function beat(): void {
  try {
    heartbeat();
  } catch {
    // not in an activity context
  }
}

export function createRetentionActivities(deps: {
  pool: Pool;
  retention?: Partial<RetentionPolicy>;
}): RetentionActivities {
  const policy: RetentionPolicy = { ...loadConfig({}).retention, ...deps.retention };
  return {
    async applyRetention() {
      return applyRetention(deps.pool, policy, { onBatch: beat });
    },
  };
}
