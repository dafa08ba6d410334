// Workbench SDK: reports an agent's heartbeats and activity to the Vigil gateway and receives pushes
// (PROTOCOL.md "Websocket GET /v1/ws" and the HTTP fallback). Runs in browsers (global WebSocket and
// fetch) and in Node 20 (pass `WebSocket` from the `ws` package). No Node-only imports.
//
//   const client = new WorkbenchClient({ url: 'wss://vigil.example/v1/ws', token: () => getJwt() });
//   client.on('status', (s) => render(s));
//   client.start();
//   const stopCapture = client.captureDom(window);
//   client.ticket(3, 'T-1');
//   await client.stop();
//
// Delivery: every event keeps its reqId until a receipt names it (accepted, duplicate or rejected).
// Unacked events are resent after `resendAfterMs`, after every reconnect, and over HTTP while the
// websocket is down; the gateway drops repeats by reqId. Pushes are deduped by msgId and acked.
// Events sent before start() or after stop() wait in the queue for the next session.
import { backoffDelay, DEFAULT_BACKOFF, rateLimitedDelay, type BackoffOptions } from './backoff.ts';
import { captureDom, type CaptureOptions } from './dom.ts';
import {
  CloseCode,
  EventType,
  MAX_EVENTS_PER_FRAME,
  type ClientFrame,
  type EventFields,
  type ModuleRef,
  type PushMessage,
  type Receipt,
  type Rejection,
  type StatusSnapshot,
  type TicketEventType,
  type Welcome,
  type WireEvent,
  type WorkStatus,
} from './protocol.ts';
import { RecentIds } from './recent.ts';

export * from './protocol.ts';
export { backoffDelay, rateLimitedDelay, type BackoffOptions } from './backoff.ts';
export type { CaptureOptions } from './dom.ts';

/** What the SDK needs from a WebSocket; both the browser's and `ws`'s satisfy it. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `never` parameters accept any concrete handler signature (DOM or ws) from the constructor side.
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
}
export type SocketConstructor = new (url: string) => SocketLike;

export type TokenSource = string | (() => string | Promise<string>);

export interface WorkbenchOptions {
  /** Websocket URL, e.g. `ws://127.0.0.1:8080/v1/ws`. */
  url: string;
  /** Base URL for the HTTP fallback; default: the websocket URL's origin with http(s). */
  httpUrl?: string;
  /** The JWT, or a function asked before every connect and fallback request. */
  token: TokenSource;
  /** Identifies this tab/window/machine; default random. */
  deviceId?: string;
  /** Modules announced in `hello`; `register()` adds more. */
  modules?: ModuleRef[];
  WebSocket?: SocketConstructor;
  fetch?: typeof fetch;
  /** Reconnect backoff: exponential with full jitter; 4429 waits between maxMs/2 and maxMs. */
  backoff?: Partial<BackoffOptions>;
  /** Short-poll interval of `GET /v1/messages` (and fallback POST retries) while the websocket is down. */
  pollIntervalMs?: number;
  /** Resend an event that has had no receipt for this long. */
  resendAfterMs?: number;
  /** Give up on a connection that is not welcomed within this time. */
  connectTimeoutMs?: number;
  /** Upper bound of the queue; the oldest event is dropped (with an 'error') beyond it. */
  maxUnacked?: number;
  now?: () => number;
  random?: () => number;
}

/** `fallback`: the websocket is down, events go over HTTP and messages are short-polled. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'fallback' | 'closed';

export interface WorkbenchError {
  code: string;
  message: string;
  /** Where it came from: an `error` frame, a rejected event, a close code, the HTTP fallback, or the client. */
  source: 'server' | 'rejected' | 'close' | 'http' | 'client';
  reqId?: string;
  closeCode?: number;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  closeCode: number;
}

export interface WorkbenchEventMap {
  welcome: Welcome;
  receipt: Receipt;
  push: PushMessage;
  /** The agent's status: from `welcome` and from every push with topic `status`. */
  status: StatusSnapshot;
  error: WorkbenchError;
  state: ConnectionState;
  reconnect: ReconnectInfo;
}

type Handler<K extends keyof WorkbenchEventMap> = (payload: WorkbenchEventMap[K]) => void;

interface Pending {
  event: WireEvent;
  bytes: number;
  /** When last handed to the websocket or the fallback POST; undefined = waiting to be sent. */
  sentAt: number | undefined;
}

/** The gateway's frame limit is 64 KiB; keep headroom for the envelope. */
const MAX_FRAME_BYTES = 60_000;
const RECENT_MSG_IDS = 1000;
const MAX_PENDING_ACKS = 1000;
/** Our own close code for "no welcome in time" and "connection went silent". */
const CLIENT_TIMEOUT = 4000;
const OPEN = 1;

const noop = (): void => {};
const encoder = new TextEncoder();

export function deriveHttpUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.origin;
}

let reqSeq = 0;
function newReqId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  // Insecure browser contexts lack randomUUID; time + counter + randomness is unique enough per agent.
  return `${Date.now().toString(36)}-${(++reqSeq).toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export class WorkbenchClient {
  readonly deviceId: string;
  private readonly url: string;
  private readonly httpUrl: string;
  private readonly token: TokenSource;
  private readonly WS: SocketConstructor;
  private readonly fetchFn: typeof fetch;
  private readonly backoff: BackoffOptions;
  private readonly pollIntervalMs: number;
  private readonly resendAfterMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxUnacked: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly modules: ModuleRef[];

  private readonly handlers = new Map<keyof WorkbenchEventMap, Set<(payload: never) => void>>();
  private readonly unacked = new Map<string, Pending>();
  private readonly seen = new RecentIds(RECENT_MSG_IDS);
  private acks: string[] = [];
  private lastMsgId: string | undefined;

  private current: ConnectionState = 'idle';
  private stopped = true;
  private socket: SocketLike | null = null;
  private helloSent = false;
  private sessionOpen = false;
  private attempt = 0;
  private heartbeatMs = 0;
  private lastFrameAt = 0;
  private flushScheduled = false;
  private fallback = false;
  private pollGen = 0;
  private posting = false;
  private fallbackRetryAt = 0;
  private abort: AbortController | undefined;
  private closeWaiters: (() => void)[] = [];
  /** The code of the last `error` frame on this socket (it tells why the gateway closed it). */
  private lastServerError: string | undefined;

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private resendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: WorkbenchOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no global WebSocket: pass one in options.WebSocket (e.g. from the ws package)');
    const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!f) throw new TypeError('no global fetch: pass one in options.fetch');
    this.url = options.url;
    this.httpUrl = (options.httpUrl ?? deriveHttpUrl(options.url)).replace(/\/+$/, '');
    this.token = options.token;
    this.WS = WS;
    this.fetchFn = f;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.pollIntervalMs = options.pollIntervalMs ?? 5_000;
    this.resendAfterMs = options.resendAfterMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.maxUnacked = options.maxUnacked ?? 10_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.modules = [...(options.modules ?? [])];
    this.deviceId = options.deviceId ?? `dev-${newReqId().replace(/-/g, '').slice(0, 12)}`;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Events waiting for a receipt (sent or not yet sent). */
  get unackedCount(): number {
    return this.unacked.size;
  }

  on<K extends keyof WorkbenchEventMap>(name: K, handler: Handler<K>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    const entry = handler as (payload: never) => void;
    set.add(entry);
    return () => void set.delete(entry);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.abort = new AbortController();
    void this.connect();
  }

  /** Sends what is queued if the session is open, then closes; resolves once the socket is closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.sessionOpen) this.flushNow();
    this.stopped = true;
    this.leaveFallback();
    this.abort?.abort();
    for (const t of [this.reconnectTimer, this.connectTimer, this.pollTimer, this.resendTimer]) clearTimeout(t);
    clearInterval(this.heartbeatTimer);
    this.reconnectTimer = this.connectTimer = this.pollTimer = this.resendTimer = this.heartbeatTimer = undefined;
    this.setState('closed');
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(() => this.onDown(1000), 1000);
      this.closeWaiters.push(() => {
        clearTimeout(guard);
        resolve();
      });
      try {
        socket.close(1000, 'stop');
      } catch {
        this.onDown(1000);
      }
    });
  }

  /** Queues one event; returns its reqId. Throws on an event too large for a frame. */
  send(type: number, fields: EventFields = {}): string {
    if (!Number.isInteger(type)) throw new TypeError(`event type must be an integer, got ${type}`);
    const event: WireEvent = { reqId: newReqId(), type, ts: this.now() };
    if (fields.channel !== undefined) event.channel = fields.channel;
    if (fields.ticketId !== undefined) event.ticketId = fields.ticketId;
    if (fields.index !== undefined) event.index = fields.index;
    if (fields.data !== undefined) event.data = fields.data;
    const bytes = encoder.encode(JSON.stringify(event)).length;
    // An oversized event would make the gateway close the socket on every resend, forever.
    if (bytes > MAX_FRAME_BYTES) throw new RangeError(`event of ${bytes} bytes exceeds ${MAX_FRAME_BYTES}`);
    this.unacked.set(event.reqId, { event, bytes, sentAt: undefined });
    if (this.unacked.size > this.maxUnacked) {
      const oldest = this.unacked.keys().next().value as string;
      this.unacked.delete(oldest);
      this.emitError({ code: 'QUEUE_FULL', message: 'oldest unacked event dropped', source: 'client', reqId: oldest });
    }
    this.scheduleFlush();
    return event.reqId;
  }

  click(fields?: EventFields): string {
    return this.send(EventType.CLICK, fields);
  }
  key(fields?: EventFields): string {
    return this.send(EventType.KEY, fields);
  }
  mouse(fields?: EventFields): string {
    return this.send(EventType.MOUSE, fields);
  }
  statusSwitch(fields?: EventFields): string {
    return this.send(EventType.STATUS_SWITCH, fields);
  }
  outboundCall(fields?: EventFields): string {
    return this.send(EventType.OUTBOUND_CALL, fields);
  }
  urlChange(url: string, fields?: EventFields): string {
    return this.send(EventType.URL_CHANGE, { ...fields, data: { ...fields?.data, url } });
  }
  ticket(type: TicketEventType, ticketId: string, fields?: EventFields): string {
    return this.send(type, { ...fields, ticketId });
  }
  /** Asks for a work status (event type 2); the outcome arrives as a `status` push. */
  setWorkStatus(status: WorkStatus, fields?: EventFields): string {
    return this.send(EventType.WORK_STATUS, { ...fields, data: { ...fields?.data, status } });
  }

  register(module: string, entity: string): void {
    if (!this.modules.some((m) => m.module === module && m.entity === entity)) this.modules.push({ module, entity });
    if (this.helloSent) this.sendFrame({ type: 'register', module, entity });
  }
  unregister(module: string, entity: string): void {
    const i = this.modules.findIndex((m) => m.module === module && m.entity === entity);
    if (i >= 0) this.modules.splice(i, 1);
    if (this.helloSent) this.sendFrame({ type: 'unregister', module, entity });
  }

  /** Reports clicks, keys, mouse moves, visibility and URL changes on `target`; returns an unsubscribe. */
  captureDom(target: EventTarget, options?: CaptureOptions): () => void {
    return captureDom(target, (type, fields) => void this.send(type, fields), this.now, options);
  }

  // --- websocket -------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    if (!this.fallback) this.setState('connecting');
    let token: string;
    let socket: SocketLike;
    try {
      token = await this.resolveToken();
      if (this.stopped) return;
      socket = new this.WS(this.url);
    } catch (e) {
      this.emitError({ code: 'CONNECT_FAILED', message: errorText(e), source: 'client' });
      this.scheduleReconnect(1006);
      return;
    }
    this.socket = socket;
    this.helloSent = false;
    this.lastFrameAt = this.now();
    this.connectTimer = setTimeout(() => this.abandon(socket, 'no welcome in time'), this.connectTimeoutMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.sendFrame({ type: 'hello', token, deviceId: this.deviceId, modules: [...this.modules] });
      this.helloSent = true;
    };
    socket.onmessage = (ev: { data: unknown }) => {
      if (this.socket === socket) this.onFrame(ev.data);
    };
    // The close event that follows an error carries everything we need.
    socket.onerror = noop;
    socket.onclose = (ev: { code?: number }) => {
      if (this.socket === socket) this.onDown(ev.code ?? 1006);
    };
  }

  /** Drops a socket we no longer trust and handles it as closed. */
  private abandon(socket: SocketLike, reason: string): void {
    if (this.socket !== socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = noop;
    try {
      socket.close(CLIENT_TIMEOUT, reason);
    } catch {
      // already closing
    }
    this.onDown(CLIENT_TIMEOUT);
  }

  private onDown(code: number): void {
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeatTimer);
    this.connectTimer = this.heartbeatTimer = undefined;
    this.socket = null;
    this.helloSent = false;
    this.sessionOpen = false;
    if (this.stopped) {
      for (const w of this.closeWaiters.splice(0)) w();
      return;
    }
    // An expired token closes the socket with 4401 after a TOKEN_EXPIRED error frame: with a token
    // function the client asks it again on reconnect; a fixed token cannot get better, so it stops.
    const expired = code === CloseCode.UNAUTHORIZED && this.lastServerError === 'TOKEN_EXPIRED' && typeof this.token === 'function';
    this.lastServerError = undefined;
    if (!expired && (code === CloseCode.UNAUTHORIZED || code === CloseCode.FORBIDDEN)) {
      const name = code === CloseCode.UNAUTHORIZED ? 'UNAUTHORIZED' : 'FORBIDDEN';
      this.emitError({ code: name, message: `gateway closed the connection (${code})`, source: 'close', closeCode: code });
      void this.stop();
      return;
    }
    // Frames in flight may be lost with the socket: everything unacked goes again.
    for (const p of this.unacked.values()) p.sentAt = undefined;
    this.enterFallback();
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number): void {
    if (this.stopped) return;
    const delayMs =
      code === CloseCode.RATE_LIMITED
        ? rateLimitedDelay(this.backoff, this.random)
        : backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.emit('reconnect', { attempt: this.attempt, delayMs, closeCode: code });
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private onFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw as ArrayBuffer);
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.emitError({ code: 'BAD_FRAME', message: 'unparseable frame from gateway', source: 'client' });
      return;
    }
    this.lastFrameAt = this.now();
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame as unknown as Welcome);
        break;
      case 'receipt':
        this.onReceipt(frame as unknown as Receipt);
        break;
      case 'push':
        this.onPush(frame as unknown as PushMessage);
        break;
      case 'error':
        this.lastServerError = String(frame.code ?? '');
        this.emitError({
          code: String(frame.code ?? 'ERROR'),
          message: String(frame.message ?? frame.code ?? 'error'),
          source: 'server',
        });
        break;
    }
  }

  private onWelcome(welcome: Welcome): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.sessionOpen = true;
    this.attempt = 0;
    this.leaveFallback();
    this.heartbeatMs = welcome.heartbeatIntervalMs;
    clearInterval(this.heartbeatTimer);
    if (this.heartbeatMs > 0) this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    for (const p of this.unacked.values()) p.sentAt = undefined;
    this.setState('open');
    this.emit('welcome', welcome);
    if (welcome.status) this.emit('status', welcome.status);
    this.flushNow();
  }

  private heartbeat(): void {
    // Every heartbeat gets a receipt; silence for three intervals means a dead (half-open) connection.
    if (this.socket && this.now() - this.lastFrameAt > 3 * this.heartbeatMs) {
      this.abandon(this.socket, 'no frames from gateway');
      return;
    }
    this.send(EventType.HEARTBEAT);
  }

  private onReceipt(receipt: Receipt): void {
    for (const id of receipt.accepted ?? []) this.unacked.delete(id);
    for (const id of receipt.duplicates ?? []) this.unacked.delete(id);
    for (const r of (receipt.rejected ?? []) as Rejection[]) {
      if (this.unacked.delete(r.reqId)) {
        this.emitError({ code: r.code, message: r.message ?? r.code, source: 'rejected', reqId: r.reqId });
      }
    }
    this.emit('receipt', receipt);
  }

  private onPush(msg: PushMessage): void {
    if (typeof msg?.msgId !== 'string') return;
    // Ack repeats too: the gateway re-sent because it never saw our ack.
    this.acks.push(msg.msgId);
    if (this.acks.length > MAX_PENDING_ACKS) this.acks.splice(0, this.acks.length - MAX_PENDING_ACKS);
    this.scheduleFlush();
    if (!this.seen.add(msg.msgId)) return;
    this.lastMsgId = msg.msgId;
    const push: PushMessage = { msgId: msg.msgId, topic: msg.topic, data: msg.data };
    this.emit('push', push);
    if (push.topic === 'status') this.emit('status', push.data as StatusSnapshot);
  }

  private sendFrame(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false; // the close event follows; unacked events are resent after reconnect
    }
  }

  // --- queue -----------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flushNow();
    });
  }

  private flushNow(): void {
    if (this.stopped) return;
    if (this.sessionOpen) {
      if (this.acks.length > 0 && this.sendFrame({ type: 'ack', msgIds: this.acks })) this.acks = [];
      for (let batch = this.takeBatch(); batch.length > 0; batch = this.takeBatch()) {
        if (!this.sendFrame({ type: 'events', events: batch.map((p) => p.event) })) {
          for (const p of batch) p.sentAt = undefined;
          break;
        }
      }
      this.armResend();
    } else if (this.fallback) {
      void this.postPending();
    }
  }

  /** Marks and returns the next unsent events that fit one frame. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    const t = this.now();
    for (const p of this.unacked.values()) {
      if (p.sentAt !== undefined) continue;
      if (batch.length === MAX_EVENTS_PER_FRAME || bytes + p.bytes > MAX_FRAME_BYTES) break;
      p.sentAt = t;
      bytes += p.bytes + 1;
      batch.push(p);
    }
    return batch;
  }

  private armResend(): void {
    if (this.resendTimer !== undefined || this.stopped) return;
    let oldest = Infinity;
    for (const p of this.unacked.values()) if (p.sentAt !== undefined && p.sentAt < oldest) oldest = p.sentAt;
    if (oldest === Infinity) return;
    const wait = Math.max(0, oldest + this.resendAfterMs - this.now());
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      const t = this.now();
      for (const p of this.unacked.values()) {
        if (p.sentAt !== undefined && t - p.sentAt >= this.resendAfterMs) p.sentAt = undefined;
      }
      this.flushNow();
      this.armResend();
    }, wait);
  }

  // --- HTTP fallback ---------------------------------------------------------------------------

  private enterFallback(): void {
    if (this.fallback) return;
    this.fallback = true;
    this.fallbackRetryAt = 0;
    this.setState('fallback');
    void this.poll(++this.pollGen);
  }

  private leaveFallback(): void {
    this.fallback = false;
    this.pollGen++;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async poll(gen: number): Promise<void> {
    this.pollTimer = undefined;
    if (gen !== this.pollGen) return;
    this.flushNow();
    try {
      const after = this.lastMsgId === undefined ? '' : `?after=${encodeURIComponent(this.lastMsgId)}`;
      const res = await this.http(`/v1/messages${after}`, { method: 'GET' });
      if (res) {
        const body = (await res.json()) as { messages?: PushMessage[] };
        for (const m of body.messages ?? []) this.onPush(m);
      }
    } catch (e) {
      if (!this.stopped) this.emitError({ code: 'FALLBACK_FAILED', message: errorText(e), source: 'http' });
    }
    if (gen === this.pollGen && !this.stopped) {
      this.pollTimer = setTimeout(() => void this.poll(gen), this.pollIntervalMs);
    }
  }

  private async postPending(): Promise<void> {
    if (this.posting || !this.fallback || this.now() < this.fallbackRetryAt) return;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.posting = true;
    try {
      const res = await this.http('/v1/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: this.deviceId, events: batch.map((p) => p.event) }),
      });
      if (res) this.onReceipt((await res.json()) as Receipt);
    } catch (e) {
      if (!this.stopped) {
        for (const p of batch) p.sentAt = undefined;
        this.fallbackRetryAt = this.now() + this.pollIntervalMs;
        this.emitError({ code: 'FALLBACK_FAILED', message: errorText(e), source: 'http' });
      }
    } finally {
      this.posting = false;
    }
    if (this.stopped) return;
    this.armResend();
    if (this.fallback) void this.postPending();
  }

  /** A fallback request; undefined after 401/403 (the client stops), throws on other failures. */
  private async http(path: string, init: RequestInit): Promise<Response | undefined> {
    const token = await this.resolveToken();
    const res = await this.fetchFn(`${this.httpUrl}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
      signal: this.abort?.signal ?? null,
    });
    if (res.status === 401 || res.status === 403) {
      const code = res.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
      this.emitError({ code, message: `${init.method} ${path}: HTTP ${res.status}`, source: 'http' });
      void this.stop();
      return undefined;
    }
    if (!res.ok) throw new Error(`${init.method} ${path}: HTTP ${res.status}`);
    return res;
  }

  // --- plumbing --------------------------------------------------------------------------------

  private async resolveToken(): Promise<string> {
    return typeof this.token === 'function' ? await this.token() : this.token;
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state);
  }

  private emitError(error: WorkbenchError): void {
    this.emit('error', error);
  }

  private emit<K extends keyof WorkbenchEventMap>(name: K, payload: WorkbenchEventMap[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as Handler<K>)(payload);
      } catch (e) {
        // A failing handler must not break delivery; surface it the way an uncaught listener error would.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
