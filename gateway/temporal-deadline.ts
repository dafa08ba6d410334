// Every Temporal call the gateway makes has a deadline: without one a hung frontend (or a network
// path that swallows packets) would hold a sweep, an HTTP request or an agent's signals forever.
import type { Client } from '@temporalio/client';

/** Runs `fn` with every Temporal request inside it failing (DEADLINE_EXCEEDED) after `ms`. */
export function withDeadline<T>(temporal: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return temporal.withDeadline(Date.now() + ms, fn);
}
