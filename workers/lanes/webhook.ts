// A webhook subscription's lane: HMAC-signed POSTs with a timeout, retried with backoff and
// dead-lettered on their own, so a hanging or failing receiver only ever holds up itself.
import { REFUSED_TARGET, RefusedTargetError } from '../../platform/address-policy.ts';
import { postSigned, signBody } from '../../platform/signed-post.ts';
import { claimWithLease, markDone, markFailed, type ClaimedDelivery } from '../../db/deliveries.ts';
import type { Pool } from '../../db/pool.ts';
import { recordAck, type Webhook } from '../../db/webhooks.ts';
import type { LaneHooks } from './hooks.ts';
import { afterFailure, errorText, type RetryPolicy } from './retry.ts';

export interface WebhookLaneOptions {
  /** Per request. */
  timeoutMs: number;
  /** Requests in flight per subscription (also the claim size). */
  concurrency: number;
  retry: RetryPolicy;
  hooks: LaneHooks;
  /** Deliver to loopback/private/link-local addresses too (`VIGIL_WEBHOOK_ALLOW_PRIVATE`; development and tests). */
  allowPrivate?: boolean;
  /** Test fault: exit the process after a 2xx and before marking the row delivered. */
  fault?: 'exit-after-deliver';
}

/** `X-Vigil-Signature`: hex HMAC-SHA256 of `${timestamp}.${body}` with the subscription's secret. */
export const signWebhook = signBody;

/** The JSON body of a delivery (README "Webhooks"). */
export function webhookBody(row: ClaimedDelivery): string {
  return JSON.stringify({
    eventId: row.eventId,
    tenant: row.tenant,
    agentId: row.agentId,
    topic: row.topic,
    version: row.version,
    committedAt: row.createdAt.toISOString(),
    data: row.payload,
  });
}

async function post(sub: Webhook, row: ClaimedDelivery, o: WebhookLaneOptions): Promise<void> {
  await postSigned(sub.url, sub.secret, webhookBody(row), {
    timeoutMs: o.timeoutMs,
    allowPrivate: o.allowPrivate ?? false,
    headers: { 'x-vigil-event-id': row.eventId },
  });
}

/** What a dead letter says about a failed attempt: no addresses of refused targets. */
function failureText(err: unknown, timeoutMs: number): string {
  if (err instanceof RefusedTargetError || (err as Error)?.name === 'RefusedTargetError') return REFUSED_TARGET;
  if (err instanceof Error && err.name === 'TimeoutError') return `timeout after ${timeoutMs} ms`;
  return errorText(err);
}

/** The claim lease outlives the request, so only a dead dispatcher lets a row come due again. */
export const leaseFor = (timeoutMs: number) => timeoutMs + Math.min(5_000, timeoutMs);

/** One round: claims up to `concurrency` due rows and delivers them in parallel; returns how many. */
export async function dispatchWebhookOnce(pool: Pool, sub: Webhook, o: WebhookLaneOptions): Promise<number> {
  const rows = await claimWithLease(pool, sub.lane, o.concurrency, leaseFor(o.timeoutMs));
  await Promise.all(
    rows.map(async (row) => {
      try {
        await post(sub, row, o);
      } catch (err) {
        const next = afterFailure(row.attempts, o.retry);
        const error = failureText(err, o.timeoutMs);
        await markFailed(pool, sub.lane, row.outboxId, { attempts: row.attempts, ...next, error });
        o.hooks.failed(sub.lane, next.dead);
        return;
      }
      if (o.fault === 'exit-after-deliver') process.exit(75);
      await markDone(pool, sub.lane, [row.outboxId], false);
      if (row.topic === 'status') await recordAck(pool, sub.tenant, sub.id, row.agentId, row.version);
      o.hooks.delivered(sub.lane, [row.createdAt]);
    }),
  );
  return rows.length;
}
