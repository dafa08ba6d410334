// The outbox dispatcher: delivers committed status_change_outbox rows through separate lanes —
// the status feed, workbench push, and one lane per webhook subscription — each with its own
// loop, retries with backoff, dead letters and lag, so a slow or failing handler delays nobody
// else. Delivery rows are created in the HCM transaction (migration 1/4), so no lane can skip a
// row whose transaction committed late.
import { appendToFeed } from '../db/feed.ts';
import type { Pool } from '../db/pool.ts';
import { enabledWebhooks, type Webhook } from '../db/webhooks.ts';
import { NO_HOOKS, type LaneHooks } from './lanes/hooks.ts';
import { dispatchPushOnce, PUSH_LANE } from './lanes/push.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './lanes/retry.ts';
import { dispatchTxBatch } from './lanes/tx-batch.ts';
import { DEFAULT_WAKE, runLaneLoop, Wake, type WakeOptions } from './lanes/wake.ts';
import { dispatchWebhookOnce, type WebhookLaneOptions } from './lanes/webhook.ts';

const FEED_LOCK = 7_420_001;
export const FEED_LANE = 'feed';

/** One feed batch under the feed lock (seq order = the order rows became visible); returns how many rows it moved. */
export function dispatchFeedOnce(
  pool: Pool,
  batch = 500,
  o: { retry?: RetryPolicy; hooks?: LaneHooks } = {},
): Promise<number> {
  return dispatchTxBatch(pool, {
    lane: FEED_LANE,
    batch,
    retry: o.retry ?? DEFAULT_RETRY,
    hooks: o.hooks ?? NO_HOOKS,
    advisoryLock: FEED_LOCK,
    deliver: (c, rows) =>
      appendToFeed(
        c,
        rows.map((r) => r.outboxId),
      ),
  });
}

export interface DispatcherOptions {
  pool: Pool;
  /** For the LISTEN connection. */
  databaseUrl: string;
  lanes?: { feed?: boolean; push?: boolean; webhooks?: boolean };
  batch?: number;
  retry?: RetryPolicy;
  webhook?: Partial<Omit<WebhookLaneOptions, 'hooks'>>;
  wake?: Partial<WakeOptions>;
  /** Re-read subscriptions this often (they are also re-read on 'vigil_webhooks'). */
  refreshMs?: number;
  hooks?: LaneHooks;
  onError?: (lane: string, err: unknown) => void;
}

export interface RunningDispatcher {
  /** Lanes with a loop right now. */
  lanes(): string[];
  stop(): Promise<void>;
}

export const DEFAULT_WEBHOOK = { timeoutMs: 5_000, concurrency: 4 };

export async function startDispatcher(o: DispatcherOptions): Promise<RunningDispatcher> {
  const { pool } = o;
  const hooks = o.hooks ?? NO_HOOKS;
  const retry = o.retry ?? DEFAULT_RETRY;
  const batch = o.batch ?? 500;
  const onError = o.onError ?? (() => {});
  const wake = new Wake(pool, o.databaseUrl, { ...DEFAULT_WAKE, ...o.wake }, (e) => onError('wake', e));
  await wake.start();

  const loops = new Map<string, { stop(): Promise<void> }>();
  const lanes = { feed: true, push: true, webhooks: true, ...o.lanes };
  if (lanes.feed)
    loops.set(
      FEED_LANE,
      runLaneLoop(
        wake,
        FEED_LANE,
        batch,
        () => dispatchFeedOnce(pool, batch, { retry, hooks }),
        (e) => onError(FEED_LANE, e),
      ),
    );
  if (lanes.push)
    loops.set(
      PUSH_LANE,
      runLaneLoop(
        wake,
        PUSH_LANE,
        batch,
        () => dispatchPushOnce(pool, { batch, retry, hooks }),
        (e) => onError(PUSH_LANE, e),
      ),
    );

  // Webhook lanes follow the enabled subscriptions; each loop reads its subscription's current row.
  const subs = new Map<string, Webhook>();
  const webhookOpts: WebhookLaneOptions = { ...DEFAULT_WEBHOOK, retry, ...o.webhook, hooks };
  let refreshing: Promise<void> = Promise.resolve();
  let stopped = false;
  const refresh = async () => {
    const current = await enabledWebhooks(pool);
    if (stopped) return;
    const seen = new Set<string>();
    for (const s of current) {
      seen.add(s.lane);
      subs.set(s.lane, s);
      if (loops.has(s.lane)) continue;
      const lane = s.lane;
      loops.set(
        lane,
        runLaneLoop(
          wake,
          lane,
          webhookOpts.concurrency,
          () => dispatchWebhookOnce(pool, subs.get(lane)!, webhookOpts),
          (e) => onError(lane, e),
        ),
      );
    }
    for (const [lane, loop] of loops) {
      if (!lane.startsWith('webhook:') || seen.has(lane)) continue;
      loops.delete(lane);
      // A lane in the middle of a hanging request stops when the request times out.
      void loop.stop().then(() => subs.delete(lane));
    }
  };
  const scheduleRefresh = () => {
    refreshing = refreshing.then(refresh).catch((e) => onError('webhooks', e));
  };
  let timer: NodeJS.Timeout | undefined;
  if (lanes.webhooks) {
    wake.onSubscriptionsChanged = scheduleRefresh;
    scheduleRefresh();
    await refreshing;
    timer = setInterval(scheduleRefresh, o.refreshMs ?? 5_000);
  }

  return {
    lanes: () => [...loops.keys()],
    async stop() {
      stopped = true;
      clearInterval(timer);
      await refreshing;
      await Promise.all([...loops.values()].map((l) => l.stop()));
      await wake.stop();
    },
  };
}
