// Reconnect delays: exponential with full jitter (a uniform draw between 0 and the capped exponential),
// so a fleet of workbenches cut off together does not reconnect in lockstep.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/** Delay before reconnect attempt number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** After a 4429 the gateway asked us to slow down: wait between half the cap and the cap. */
export function rateLimitedDelay(opts: BackoffOptions, random: () => number): number {
  return Math.floor(opts.maxMs / 2 + (random() * opts.maxMs) / 2);
}
