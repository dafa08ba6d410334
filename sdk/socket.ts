// The websocket session (docs/PROTOCOL.md "Websocket GET /v1/ws"): connect and say hello, hand the
// gateway's frames to the client, send queued events and owed acks while welcomed, drop a
// connection that stays silent, and reconnect with backoff after every close. Heartbeats follow the
// gateway's advice (`welcome`, then `cadence` frames); fields and frame types it does not know (a
// newer gateway's, same major) are ignored (docs/PROTOCOL.md "Versions and compatibility").
import { backoffDelay, rateLimitedDelay, type BackoffOptions } from './backoff.ts';
import { errorText, type ReconnectInfo, type WorkbenchError } from './events.ts';
import type { Inbox } from './inbox.ts';
import {
  CloseCode,
  PROTOCOL_VERSION,
  type ClientFrame,
  type ModuleRef,
  type PushMessage,
  type Receipt,
  type Welcome,
} from './protocol.ts';
import type { EventQueue } from './queue.ts';
import { resolveToken, type TokenSource } from './token.ts';

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

/** Our own close code for "no welcome in time" and "connection went silent". */
const CLIENT_TIMEOUT = 4000;
/** Advice outside these bounds is not followed (the gateway's own are narrower). */
const MIN_HEARTBEAT_MS = 100;
const MAX_HEARTBEAT_MS = 3_600_000;
const OPEN = 1;

const noop = (): void => {};

export interface SessionOptions {
  url: string;
  WebSocket: SocketConstructor;
  token: TokenSource;
  deviceId: string;
  /** Announced in `hello`; `register()` adds more. */
  modules: ModuleRef[];
  backoff: BackoffOptions;
  connectTimeoutMs: number;
  now: () => number;
  random: () => number;
}

/** What the session needs from the client that owns it. */
export interface SessionHost {
  stopped(): boolean;
  /** A connection attempt begins. */
  connecting(): void;
  /** The gateway welcomed us: the session is open. */
  welcomed(welcome: Welcome): void;
  /** The gateway advised a new heartbeat interval; the timer was re-armed with it. */
  cadence(heartbeatIntervalMs: number): void;
  receipt(receipt: Receipt): void;
  push(msg: PushMessage): void;
  /** Time to send a heartbeat event. */
  heartbeat(): void;
  /** Fleet mode: the gateway confirmed this instance's deregistration (it closes next). */
  deregistered?(): void;
  /** The socket is gone and a reconnect is coming; meanwhile events go over HTTP. */
  lost(): void;
  reconnecting(info: ReconnectInfo): void;
  error(error: WorkbenchError): void;
  /** The gateway refused us for good (4401/4403): the client stops. */
  stop(): void;
}

export class SocketSession {
  private readonly modules: ModuleRef[];

  private socket: SocketLike | null = null;
  private helloSent = false;
  private sessionOpen = false;
  private attempt = 0;
  private heartbeatMs = 0;
  private lastFrameAt = 0;
  private closeWaiters: (() => void)[] = [];
  /** The code of the last `error` frame on this socket (it tells why the gateway closed it). */
  private lastServerError: string | undefined;

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly options: SessionOptions,
    private readonly queue: EventQueue,
    private readonly inbox: Inbox,
    private readonly host: SessionHost,
  ) {
    this.modules = [...options.modules];
  }

  /** Welcomed and not closed since: frames sent now reach the gateway's session. */
  get open(): boolean {
    return this.sessionOpen;
  }

  /** Connects, with the backoff starting over. */
  start(): void {
    this.attempt = 0;
    void this.connect();
  }

  /** Cancels pending reconnects and the welcome and heartbeat timers; `close()` closes the socket. */
  cancelTimers(): void {
    for (const t of [this.reconnectTimer, this.connectTimer]) clearTimeout(t);
    clearInterval(this.heartbeatTimer);
    this.reconnectTimer = this.connectTimer = this.heartbeatTimer = undefined;
  }

  /** Closes the socket, if there is one; resolves once it has closed, or after a second at most. */
  async close(): Promise<void> {
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

  register(module: string, entity: string): void {
    if (!this.modules.some((m) => m.module === module && m.entity === entity)) this.modules.push({ module, entity });
    if (this.helloSent) this.sendFrame({ type: 'register', module, entity });
  }

  unregister(module: string, entity: string): void {
    const i = this.modules.findIndex((m) => m.module === module && m.entity === entity);
    if (i >= 0) this.modules.splice(i, 1);
    if (this.helloSent) this.sendFrame({ type: 'unregister', module, entity });
  }

  /** Fleet mode: asks the gateway to deregister this instance; false when the socket is not open. */
  deregister(reason?: string): boolean {
    return this.open && this.sendFrame({ type: 'deregister', ...(reason ? { reason } : {}) });
  }

  /** Sends the owed acks and then the unsent events, a frame at a time, while the socket takes them. */
  flush(): void {
    this.inbox.sendAcks((msgIds) => this.sendFrame({ type: 'ack', msgIds }));
    for (let batch = this.queue.takeBatch(); batch.length > 0; batch = this.queue.takeBatch()) {
      if (!this.sendFrame({ type: 'events', events: batch.map((p) => p.event) })) {
        this.queue.unsend(batch);
        break;
      }
    }
    this.queue.armResend();
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.host.stopped()) return;
    this.host.connecting();
    let token: string;
    let socket: SocketLike;
    try {
      token = await resolveToken(this.options.token);
      if (this.host.stopped()) return;
      socket = new this.options.WebSocket(this.options.url);
    } catch (e) {
      this.host.error({ code: 'CONNECT_FAILED', message: errorText(e), source: 'client' });
      this.scheduleReconnect(1006);
      return;
    }
    this.socket = socket;
    this.helloSent = false;
    this.lastFrameAt = this.options.now();
    this.connectTimer = setTimeout(() => this.abandon(socket, 'no welcome in time'), this.options.connectTimeoutMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.sendFrame({
        type: 'hello',
        v: PROTOCOL_VERSION,
        token,
        deviceId: this.options.deviceId,
        modules: [...this.modules],
      });
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
    if (this.host.stopped()) {
      for (const w of this.closeWaiters.splice(0)) w();
      return;
    }
    // An expired token closes the socket with 4401 after a TOKEN_EXPIRED error frame: with a token
    // function the client asks it again on reconnect; a fixed token cannot get better, so it stops.
    const expired =
      code === CloseCode.UNAUTHORIZED &&
      this.lastServerError === 'TOKEN_EXPIRED' &&
      typeof this.options.token === 'function';
    this.lastServerError = undefined;
    // A gateway that does not speak our major version never will: reconnecting cannot help either.
    if (
      !expired &&
      (code === CloseCode.UNAUTHORIZED || code === CloseCode.FORBIDDEN || code === CloseCode.UNSUPPORTED_VERSION)
    ) {
      const name =
        code === CloseCode.UNAUTHORIZED
          ? 'UNAUTHORIZED'
          : code === CloseCode.FORBIDDEN
            ? 'FORBIDDEN'
            : 'UNSUPPORTED_VERSION';
      this.host.error({
        code: name,
        message: `gateway closed the connection (${code})`,
        source: 'close',
        closeCode: code,
      });
      this.host.stop();
      return;
    }
    // Frames in flight may be lost with the socket: everything unacked goes again.
    this.queue.unsendAll();
    this.host.lost();
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number): void {
    if (this.host.stopped()) return;
    const delayMs =
      code === CloseCode.RATE_LIMITED
        ? rateLimitedDelay(this.options.backoff, this.options.random)
        : backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.attempt++;
    this.host.reconnecting({ attempt: this.attempt, delayMs, closeCode: code });
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private onFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw as ArrayBuffer);
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.host.error({ code: 'BAD_FRAME', message: 'unparseable frame from gateway', source: 'client' });
      return;
    }
    this.lastFrameAt = this.options.now();
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame as unknown as Welcome);
        break;
      case 'receipt':
        this.host.receipt(frame as unknown as Receipt);
        break;
      case 'push':
        this.host.push(frame as unknown as PushMessage);
        break;
      case 'cadence':
        this.onCadence(frame.heartbeatIntervalMs);
        break;
      case 'deregistered':
        this.host.deregistered?.();
        break;
      case 'error':
        this.lastServerError = String(frame.code ?? '');
        this.host.error({
          code: String(frame.code ?? 'ERROR'),
          message: String(frame.message ?? frame.code ?? 'error'),
          source: 'server',
        });
        break;
      // Any other type is a newer gateway's (same major): ignored.
    }
  }

  private onWelcome(welcome: Welcome): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.sessionOpen = true;
    this.attempt = 0;
    this.armHeartbeat(welcome.heartbeatIntervalMs);
    // Whatever was sent before this socket has to go again on it.
    this.queue.unsendAll();
    this.host.welcomed(welcome);
  }

  /** The gateway's new advice: the timer starts over with it (the next beat one new interval from now). */
  private onCadence(ms: unknown): void {
    if (!this.sessionOpen || typeof ms !== 'number' || !(ms >= MIN_HEARTBEAT_MS && ms <= MAX_HEARTBEAT_MS)) return;
    this.armHeartbeat(ms);
    this.host.cadence(ms);
  }

  private armHeartbeat(ms: number): void {
    this.heartbeatMs = ms;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = ms > 0 ? setInterval(() => this.heartbeat(), ms) : undefined;
  }

  private heartbeat(): void {
    // Every heartbeat gets a receipt; silence for three intervals means a dead (half-open) connection.
    if (this.socket && this.options.now() - this.lastFrameAt > 3 * this.heartbeatMs) {
      this.abandon(this.socket, 'no frames from gateway');
      return;
    }
    this.host.heartbeat();
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
}
