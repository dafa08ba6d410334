// The push lane: status changes and reminders to the agent's workbench, via push_messages and a
// 'vigil_push' notification that the gateways forward over the agent's websocket.
import type { Pool } from '../../db/pool.ts';
import { writePushMessages } from '../../db/push.ts';
import { NO_HOOKS, type LaneHooks } from './hooks.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import { dispatchTxBatch } from './tx-batch.ts';

export const PUSH_LANE = 'push';

export function dispatchPushOnce(
  pool: Pool,
  o: { batch?: number; retry?: RetryPolicy; hooks?: LaneHooks } = {},
): Promise<number> {
  return dispatchTxBatch(pool, {
    lane: PUSH_LANE,
    batch: o.batch ?? 500,
    retry: o.retry ?? DEFAULT_RETRY,
    hooks: o.hooks ?? NO_HOOKS,
    deliver: async (c, rows) => {
      await writePushMessages(
        c,
        rows.map((r) => r.outboxId),
      );
    },
  });
}
