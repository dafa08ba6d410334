// The HTTP fallback while the websocket is down (docs/PROTOCOL.md "HTTP fallback"): queued events go by
// `POST /v1/events` and pushes are short-polled from `GET /v1/messages`. It runs from a socket's
// close until the next welcome.
import { errorText, type WorkbenchError } from './events.ts';
import type { Inbox } from './inbox.ts';
import type { PushMessage, Receipt } from './protocol.ts';
import type { EventQueue } from './queue.ts';
import { resolveToken, type TokenSource } from './token.ts';

/** The fallback's default base URL: the websocket URL's origin with http(s). */
export function deriveHttpUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.origin;
}

export interface FallbackOptions {
  /** Base URL without a trailing slash. */
  httpUrl: string;
  fetch: typeof fetch;
  token: TokenSource;
  deviceId: string;
  /** Short-poll interval, and the wait before retrying a failed POST. */
  pollIntervalMs: number;
  now: () => number;
}

/** What the fallback needs from the client that owns it. */
export interface FallbackHost {
  stopped(): boolean;
  /** The fallback began. */
  entered(): void;
  /** Sends what is waiting, over whichever transport is up. */
  flush(): void;
  receipt(receipt: Receipt): void;
  push(msg: PushMessage): void;
  error(error: WorkbenchError): void;
  /** The gateway refused us for good (401/403): the client stops. */
  stop(): void;
}

export class HttpFallback {
  private isActive = false;
  private pollGen = 0;
  private posting = false;
  private retryAt = 0;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | undefined;

  constructor(
    private readonly options: FallbackOptions,
    private readonly queue: EventQueue,
    private readonly inbox: Inbox,
    private readonly host: FallbackHost,
  ) {}

  get active(): boolean {
    return this.isActive;
  }

  /** The client starts: requests from now on are aborted by `end()`. */
  begin(): void {
    this.abort = new AbortController();
  }

  /** The client stops: leaves the fallback and aborts requests in flight. */
  end(): void {
    this.leave();
    this.abort?.abort();
  }

  enter(): void {
    if (this.isActive) return;
    this.isActive = true;
    this.retryAt = 0;
    this.host.entered();
    void this.poll(++this.pollGen);
  }

  leave(): void {
    this.isActive = false;
    this.pollGen++;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** POSTs the unsent events a batch at a time; after a failure, not again for a poll interval. */
  async post(): Promise<void> {
    if (this.posting || !this.isActive || this.options.now() < this.retryAt) return;
    const batch = this.queue.takeBatch();
    if (batch.length === 0) return;
    this.posting = true;
    try {
      const res = await this.http('/v1/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: this.options.deviceId, events: batch.map((p) => p.event) }),
      });
      if (res) this.host.receipt((await res.json()) as Receipt);
    } catch (e) {
      if (!this.host.stopped()) {
        this.queue.unsend(batch);
        this.retryAt = this.options.now() + this.options.pollIntervalMs;
        this.host.error({ code: 'FALLBACK_FAILED', message: errorText(e), source: 'http' });
      }
    } finally {
      this.posting = false;
    }
    if (this.host.stopped()) return;
    this.queue.armResend();
    if (this.isActive) void this.post();
  }

  private async poll(gen: number): Promise<void> {
    this.pollTimer = undefined;
    if (gen !== this.pollGen) return;
    this.host.flush();
    try {
      const after = this.inbox.lastMsgId === undefined ? '' : `?after=${encodeURIComponent(this.inbox.lastMsgId)}`;
      const res = await this.http(`/v1/messages${after}`, { method: 'GET' });
      if (res) {
        const body = (await res.json()) as { messages?: PushMessage[] };
        for (const m of body.messages ?? []) this.host.push(m);
      }
    } catch (e) {
      if (!this.host.stopped()) this.host.error({ code: 'FALLBACK_FAILED', message: errorText(e), source: 'http' });
    }
    if (gen === this.pollGen && !this.host.stopped()) {
      this.pollTimer = setTimeout(() => void this.poll(gen), this.options.pollIntervalMs);
    }
  }

  /** A fallback request; undefined after 401/403 (the client stops), throws on other failures. */
  private async http(path: string, init: RequestInit): Promise<Response | undefined> {
    const token = await resolveToken(this.options.token);
    const res = await this.options.fetch(`${this.options.httpUrl}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
      signal: this.abort?.signal ?? null,
    });
    if (res.status === 401 || res.status === 403) {
      const code = res.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
      this.host.error({ code, message: `${init.method} ${path}: HTTP ${res.status}`, source: 'http' });
      this.host.stop();
      return undefined;
    }
    if (!res.ok) throw new Error(`${init.method} ${path}: HTTP ${res.status}`);
    return res;
  }
}
