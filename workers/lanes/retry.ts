// Retry policy of every lane: exponential backoff with "equal jitter", dead after maxAttempts.
export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseMs: 1_000, maxMs: 300_000 };

/** What follows failed attempt number `attempts` (1-based): a delay, or the dead-letter state. */
export function afterFailure(
  attempts: number,
  p: RetryPolicy,
  rand: () => number = Math.random,
): { dead: boolean; delayMs: number } {
  if (attempts >= p.maxAttempts) return { dead: true, delayMs: 0 };
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** (attempts - 1));
  // Half fixed, half random: retries of many rows spread out without ever retrying at once.
  return { dead: false, delayMs: Math.round(ceiling / 2 + (rand() * ceiling) / 2) };
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
