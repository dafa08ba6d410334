// `npm start` waits for the gateway's /readyz. The deadline counts from when the wait begins —
// after the Temporal CLI build, the dev server and migrations, however long a first run takes —
// and the wait reports what is still down every few seconds.

export interface Probe {
  ready: boolean;
  /** What is still missing, e.g. "worker down". */
  detail?: string;
}

export interface WaitOptions {
  probe: () => Promise<Probe>;
  timeoutMs: number;
  intervalMs?: number;
  progressEveryMs?: number;
  onProgress?: (elapsedMs: number, detail: string | undefined) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class NotReadyError extends Error {}

/** Resolves with the time waited once the probe says ready; NotReadyError after `timeoutMs` from the call. */
export async function waitUntilReady(o: WaitOptions): Promise<number> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const interval = o.intervalMs ?? 500;
  const every = o.progressEveryMs ?? 10_000;
  const start = now();
  let nextProgress = start + every;
  let last: string | undefined;
  for (;;) {
    const p = await o
      .probe()
      .catch((err: Error): Probe => ({ ready: false, detail: `not answering (${err.message})` }));
    if (p.ready) return now() - start;
    last = p.detail;
    const t = now();
    if (t - start >= o.timeoutMs) {
      throw new NotReadyError(
        `not ready after ${Math.round(o.timeoutMs / 1000)} s of waiting${last ? `: ${last}` : ''}`,
      );
    }
    if (t >= nextProgress) {
      o.onProgress?.(t - start, last);
      nextProgress = t + every;
    }
    await sleep(Math.min(interval, Math.max(0, start + o.timeoutMs - t)));
  }
}

/**
 * "postgres ok, temporal ok, worker down" → "worker down" (what a /readyz body says is missing);
 * the search attributes it names come along, with what fixes them (npm start reports this while it
 * waits): "searchAttributes down (missing AgentStatus, Tenant; npm run temporal:setup registers them)".
 */
export function describeChecks(body: unknown): string | undefined {
  const b = body as { checks?: Record<string, string>; missing?: unknown } | undefined;
  const checks = b?.checks;
  if (!checks) return undefined;
  const missing =
    Array.isArray(b.missing) && b.missing.length
      ? ` (missing ${b.missing.join(', ')}; npm run temporal:setup registers them)`
      : '';
  const down = Object.entries(checks)
    .filter(([, v]) => v !== 'ok')
    .map(([k, v]) => `${k} ${v}${k === 'searchAttributes' ? missing : ''}`);
  return down.length ? down.join(', ') : undefined;
}
