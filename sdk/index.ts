// Workbench SDK: reports an agent's heartbeats and activity to the Vigil gateway and receives pushes
// (docs/PROTOCOL.md "Websocket GET /v1/ws" and the HTTP fallback). Runs in browsers (global WebSocket and
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
//
// The pieces, each in its own module: socket.ts (the websocket session and reconnects), fallback.ts
// (HTTP while the websocket is down), queue.ts (events until their receipt), inbox.ts (pushes: dedupe
// and acks), events.ts (what `on()` delivers). This file wires them into `WorkbenchClient`.
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { captureDom, type CaptureOptions } from './dom.ts';
import {
  Listeners,
  type ConnectionState,
  type Handler,
  type WorkbenchError,
  type WorkbenchEventMap,
} from './events.ts';
import { deriveHttpUrl, HttpFallback } from './fallback.ts';
import { Inbox } from './inbox.ts';
import {
  EventType,
  type EventFields,
  type ModuleRef,
  type PushMessage,
  type Receipt,
  type StatusSnapshot,
  type TicketEventType,
  type Welcome,
  type WorkStatus,
} from './protocol.ts';
import { EventQueue, newReqId } from './queue.ts';
import { SocketSession, type SocketConstructor } from './socket.ts';
import type { TokenSource } from './token.ts';

export * from './protocol.ts';
export { backoffDelay, rateLimitedDelay, type BackoffOptions } from './backoff.ts';
export type { CaptureOptions } from './dom.ts';
export type { ConnectionState, ReconnectInfo, WorkbenchError, WorkbenchEventMap } from './events.ts';
export { deriveHttpUrl } from './fallback.ts';
export type { SocketConstructor, SocketLike } from './socket.ts';
export type { TokenSource } from './token.ts';

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
  /**
   * Fleet mode (an instance of a service or AI agent, token role `instance`): heartbeats carry a
   * sequence number counting from 1 at this client's start, and `metrics()` if given.
   */
  fleet?: { metrics?: () => Record<string, number> };
}

export class WorkbenchClient {
  readonly deviceId: string;
  private readonly now: () => number;
  private readonly listeners = new Listeners();
  private readonly inbox = new Inbox();
  private readonly queue: EventQueue;
  private readonly session: SocketSession;
  private readonly fallback: HttpFallback;

  private current: ConnectionState = 'idle';
  private stopped = true;
  private flushScheduled = false;
  private readonly fleet: WorkbenchOptions['fleet'];
  /** Fleet mode: heartbeats sent since this client started. */
  private beatSeq = 0;

  constructor(options: WorkbenchOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no global WebSocket: pass one in options.WebSocket (e.g. from the ws package)');
    const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!f) throw new TypeError('no global fetch: pass one in options.fetch');
    const httpUrl = (options.httpUrl ?? deriveHttpUrl(options.url)).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.fleet = options.fleet;
    this.deviceId = options.deviceId ?? `dev-${newReqId().replace(/-/g, '').slice(0, 12)}`;

    // The parts reach the client only through these callbacks, besides the queue and inbox they are handed.
    const stopped = (): boolean => this.stopped;
    const flush = (): void => this.flushNow();
    const error = (e: WorkbenchError): void => this.listeners.emit('error', e);
    const stop = (): void => void this.stop();
    const receipt = (r: Receipt): void => this.onReceipt(r);
    const push = (m: PushMessage): void => this.onPush(m);

    this.queue = new EventQueue(
      { resendAfterMs: options.resendAfterMs ?? 10_000, maxUnacked: options.maxUnacked ?? 10_000, now: this.now },
      { stopped, flush, error },
    );
    this.fallback = new HttpFallback(
      {
        httpUrl,
        fetch: f,
        token: options.token,
        deviceId: this.deviceId,
        pollIntervalMs: options.pollIntervalMs ?? 5_000,
        now: this.now,
      },
      this.queue,
      this.inbox,
      { stopped, entered: () => this.setState('fallback'), flush, receipt, push, error, stop },
    );
    this.session = new SocketSession(
      {
        url: options.url,
        WebSocket: WS,
        token: options.token,
        deviceId: this.deviceId,
        modules: options.modules ?? [],
        backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        now: this.now,
        random: options.random ?? Math.random,
      },
      this.queue,
      this.inbox,
      {
        stopped,
        connecting: () => {
          if (!this.fallback.active) this.setState('connecting');
        },
        welcomed: (w) => this.onWelcome(w),
        cadence: (heartbeatIntervalMs) => this.listeners.emit('cadence', { heartbeatIntervalMs }),
        receipt,
        push,
        heartbeat: () => void this.send(EventType.HEARTBEAT, this.beatFields()),
        deregistered: () => this.listeners.emit('deregistered', {}),
        lost: () => this.fallback.enter(),
        reconnecting: (info) => this.listeners.emit('reconnect', info),
        error,
        stop,
      },
    );
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Events waiting for a receipt (sent or not yet sent). */
  get unackedCount(): number {
    return this.queue.size;
  }

  on<K extends keyof WorkbenchEventMap>(name: K, handler: Handler<K>): () => void {
    return this.listeners.on(name, handler);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.fallback.begin();
    this.session.start();
  }

  /** Sends what is queued if the session is open, then closes; resolves once the socket is closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.session.open) this.flushNow();
    this.stopped = true;
    this.fallback.end();
    this.session.cancelTimers();
    this.queue.cancelResend();
    this.setState('closed');
    await this.session.close();
  }

  /** Queues one event; returns its reqId. Throws on an event too large for a frame. */
  send(type: number, fields: EventFields = {}): string {
    const reqId = this.queue.add(type, fields);
    this.scheduleFlush();
    return reqId;
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
    this.session.register(module, entity);
  }

  /** Heartbeat fields: in fleet mode the beat's sequence number and metrics. */
  private beatFields(): EventFields {
    const fleet = this.fleet;
    if (!fleet) return {};
    this.beatSeq += 1;
    return { data: { seq: this.beatSeq, ...(fleet.metrics ? { metrics: fleet.metrics() } : {}) } };
  }

  /**
   * Fleet mode: this instance leaves for good (DEREGISTERED at once, no MISSING alarm). Sends what
   * is queued, asks the gateway, waits for its confirmation (at most `timeoutMs`) and stops.
   * Resolves whether the gateway confirmed.
   */
  async deregister(reason?: string, timeoutMs = 5000): Promise<boolean> {
    if (this.session.open) this.flushNow();
    const confirmed = new Promise<boolean>((resolve) => {
      const off = this.listeners.on('deregistered', () => {
        off();
        resolve(true);
      });
      setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
    });
    const ok = this.session.deregister(reason) && (await confirmed);
    await this.stop();
    return ok;
  }
  unregister(module: string, entity: string): void {
    this.session.unregister(module, entity);
  }

  /** Reports clicks, keys, mouse moves, visibility and URL changes on `target`; returns an unsubscribe. */
  captureDom(target: EventTarget, options?: CaptureOptions): () => void {
    return captureDom(target, (type, fields) => void this.send(type, fields), this.now, options);
  }

  // What arrives from the gateway, over either transport.

  private onWelcome(welcome: Welcome): void {
    this.fallback.leave();
    this.setState('open');
    this.listeners.emit('welcome', welcome);
    if (welcome.status) this.listeners.emit('status', welcome.status);
    this.flushNow();
  }

  private onReceipt(receipt: Receipt): void {
    this.queue.settle(receipt);
    this.listeners.emit('receipt', receipt);
  }

  private onPush(msg: PushMessage): void {
    if (typeof msg?.msgId !== 'string') return;
    const fresh = this.inbox.receive(msg.msgId);
    this.scheduleFlush();
    if (!fresh) return;
    const push: PushMessage = { msgId: msg.msgId, topic: msg.topic, data: msg.data };
    this.listeners.emit('push', push);
    if (push.topic === 'status') this.listeners.emit('status', push.data as StatusSnapshot);
  }

  // Sending: over the websocket while the session is open, else over HTTP during the fallback.

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
    if (this.session.open) this.session.flush();
    else if (this.fallback.active) void this.fallback.post();
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.listeners.emit('state', state);
  }
}
