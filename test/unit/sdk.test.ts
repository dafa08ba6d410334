// Unit tests of the workbench SDK against a scripted stand-in gateway (a real `ws` server on port 0)
// and a tiny node:http server for the fallback endpoints. The real gateway is tested elsewhere.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  backoffDelay,
  deriveHttpUrl,
  PROTOCOL_VERSION,
  rateLimitedDelay,
  WorkbenchClient,
  type ConnectionState,
  type PushMessage,
  type Receipt,
  type ReconnectInfo,
  type SocketConstructor,
  type WireEvent,
  type WorkbenchError,
  type WorkbenchOptions,
} from '../../sdk/index.ts';

// Compile-time: the browser's WebSocket satisfies the SDK's socket contract too.
const acceptsDomWebSocket: (ctor: typeof globalThis.WebSocket) => SocketConstructor = (ctor) => ctor;
void acceptsDomWebSocket;

type Frame = Record<string, unknown> & { type: string };

interface Conn {
  ws: WebSocket;
  frames: Frame[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A scripted gateway: welcomes every hello, receipts every events frame unless told otherwise. */
class Gateway {
  readonly conns: Conn[] = [];
  accepting = true;
  heartbeatIntervalMs = 60_000;
  onHello: (conn: Conn) => void = (conn) => this.welcome(conn);
  receiptFor: (events: WireEvent[], conn: Conn) => Receipt | undefined = (events) => ({
    accepted: events.map((e) => e.reqId),
    duplicates: [],
    rejected: [],
  });

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      const conn: Conn = { ws, frames: [] };
      this.conns.push(conn);
      ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as Frame;
        conn.frames.push(frame);
        if (frame.type === 'hello') this.onHello(conn);
        if (frame.type === 'events') {
          const receipt = this.receiptFor(frame.events as WireEvent[], conn);
          if (receipt) ws.send(JSON.stringify({ type: 'receipt', ...receipt }));
        }
      });
    });
  }

  static async start(): Promise<Gateway> {
    let gw: Gateway | undefined;
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (_info, cb) => cb(gw?.accepting ?? true, 503),
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    gw = new Gateway(wss);
    return gw;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1/ws`;
  }

  welcome(conn: Conn): void {
    conn.ws.send(
      JSON.stringify({
        type: 'welcome',
        sessionId: `s-${this.conns.indexOf(conn)}`,
        agentId: 'a1',
        tenant: 't1',
        heartbeatIntervalMs: this.heartbeatIntervalMs,
        status: { status: 'IDLE', statusCode: 1001, since: '2025-11-23T00:00:00Z' },
      }),
    );
  }

  framesOf(type: string, conn?: Conn): Frame[] {
    return (conn ? [conn] : this.conns).flatMap((c) => c.frames.filter((f) => f.type === type));
  }

  events(conn?: Conn): WireEvent[] {
    return this.framesOf('events', conn).flatMap((f) => f.events as WireEvent[]);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}

interface HttpRecord {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

/** The fallback endpoints: POST /v1/events and GET /v1/messages?after=. */
class FallbackServer {
  readonly requests: HttpRecord[] = [];
  messages: PushMessage[] = [];
  eventsStatus = 200;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FallbackServer> {
    let fb: FallbackServer | undefined;
    const server = createServer((req, res) => void fb?.handle(req, res.writeHead.bind(res), res.end.bind(res)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    fb = new FallbackServer(server);
    return fb;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(
    req: IncomingMessage,
    writeHead: (status: number, headers: Record<string, string>) => unknown,
    end: (body: string) => unknown,
  ): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body: unknown = text ? JSON.parse(text) : undefined;
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body,
    });
    const json = (status: number, value: unknown): void => {
      writeHead(status, { 'content-type': 'application/json' });
      end(JSON.stringify(value));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/events') {
      if (this.eventsStatus !== 200) return json(this.eventsStatus, { code: 'UNAVAILABLE', message: 'down' });
      const events = (body as { events: WireEvent[] }).events;
      return json(200, { type: 'receipt', accepted: events.map((e) => e.reqId), duplicates: [], rejected: [] });
    }
    if (req.method === 'GET' && url.pathname === '/v1/messages') {
      const after = url.searchParams.get('after');
      const from = after === null ? 0 : this.messages.findIndex((m) => m.msgId === after) + 1;
      return json(200, { messages: this.messages.slice(from) });
    }
    json(404, { code: 'NOT_FOUND', message: 'no route' });
  }

  get(): HttpRecord[] {
    return this.requests.filter((r) => r.method === 'GET');
  }

  posts(): HttpRecord[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Everything a client emitted, for assertions. */
interface Recorded {
  states: ConnectionState[];
  errors: WorkbenchError[];
  pushes: PushMessage[];
  statuses: unknown[];
  receipts: Receipt[];
  reconnects: ReconnectInfo[];
}

let gw: Gateway;
let fb: FallbackServer;
const clients: WorkbenchClient[] = [];

function makeClient(options: Partial<WorkbenchOptions> = {}): { client: WorkbenchClient; rec: Recorded } {
  const client = new WorkbenchClient({
    url: gw.url,
    httpUrl: fb.url,
    token: 'tok',
    deviceId: 'tab-1',
    WebSocket,
    backoff: { initialMs: 10, maxMs: 40 },
    pollIntervalMs: 30,
    ...options,
  });
  const rec: Recorded = { states: [], errors: [], pushes: [], statuses: [], receipts: [], reconnects: [] };
  client.on('state', (s) => rec.states.push(s));
  client.on('error', (e) => rec.errors.push(e));
  client.on('push', (p) => rec.pushes.push(p));
  client.on('status', (s) => rec.statuses.push(s));
  client.on('receipt', (r) => rec.receipts.push(r));
  client.on('reconnect', (r) => rec.reconnects.push(r));
  clients.push(client);
  return { client, rec };
}

async function setup(): Promise<void> {
  gw = await Gateway.start();
  fb = await FallbackServer.start();
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await gw.close();
  await fb.close();
});

describe('session', () => {
  it('sends hello, adopts the welcome and heartbeats at the advised interval', async () => {
    await setup();
    gw.heartbeatIntervalMs = 50;
    const { client, rec } = makeClient({
      token: async () => 'tok-async',
      modules: [{ module: 'ticket', entity: 'list' }],
    });
    let welcomedAt = 0;
    client.on('welcome', (w) => {
      welcomedAt = Date.now();
      expect(w.heartbeatIntervalMs).toBe(50);
    });
    client.start();
    const beats = await waitFor(() => {
      const b = gw.events().filter((e) => e.type === 1);
      return b.length >= 3 && b;
    }, 'three heartbeats');

    expect(gw.conns[0]!.frames[0]).toEqual({
      type: 'hello',
      v: PROTOCOL_VERSION,
      token: 'tok-async',
      deviceId: 'tab-1',
      modules: [{ module: 'ticket', entity: 'list' }],
    });
    expect(welcomedAt).toBeGreaterThan(0);
    expect(rec.states).toEqual(['connecting', 'open']);
    expect(rec.statuses).toEqual([{ status: 'IDLE', statusCode: 1001, since: '2025-11-23T00:00:00Z' }]);
    const times = [welcomedAt, ...beats.slice(0, 3).map((b) => b.ts)];
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(40);
      expect(gap).toBeLessThan(200);
    }
    await waitFor(() => client.unackedCount === 0, 'heartbeat receipts');
  });

  it('batches at most 100 events a frame, each with its own reqId and the injected time', async () => {
    await setup();
    const T0 = 1_763_900_000_000;
    const { client, rec } = makeClient({ now: () => T0 });
    client.start();
    await waitFor(() => client.state === 'open', 'open');

    const ids = [
      client.click({ data: { target: 'reply' } }),
      client.ticket(3, 'T-1', { channel: 'chat', index: 2 }),
      client.setWorkStatus('BUSY'),
    ];
    for (let i = 0; i < 247; i++) ids.push(client.key());
    await waitFor(() => gw.events().length === 250, '250 events');

    expect(gw.framesOf('events').map((f) => (f.events as unknown[]).length)).toEqual([100, 100, 50]);
    const seen = gw.events();
    expect(seen.map((e) => e.reqId)).toEqual(ids);
    expect(new Set(ids).size).toBe(250);
    expect(seen.every((e) => e.ts === T0)).toBe(true);
    expect(seen[0]).toEqual({ reqId: ids[0], type: 100, ts: T0, data: { target: 'reply' } });
    expect(seen[1]).toEqual({ reqId: ids[1], type: 3, ts: T0, ticketId: 'T-1', channel: 'chat', index: 2 });
    expect(seen[2]).toEqual({ reqId: ids[2], type: 2, ts: T0, data: { status: 'BUSY' } });
    expect(seen[3]!.type).toBe(101);
    await waitFor(() => client.unackedCount === 0, 'all receipted');
    expect(rec.receipts).toHaveLength(3);
  });

  it('reports rejected events as errors with their code and stops tracking them', async () => {
    await setup();
    gw.receiptFor = (events) => ({
      accepted: events.filter((e) => e.type !== 101).map((e) => e.reqId),
      duplicates: [],
      rejected: events.filter((e) => e.type === 101).map((e) => ({ reqId: e.reqId, code: 'BAD_EVENT', message: 'no' })),
    });
    const { client, rec } = makeClient();
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    client.click();
    const bad = client.key();
    await waitFor(() => client.unackedCount === 0 && rec.receipts.length > 0, 'receipt');
    expect(rec.errors).toEqual([{ code: 'BAD_EVENT', message: 'no', source: 'rejected', reqId: bad }]);
  });

  it('resends an event that got no receipt after resendAfterMs, with the same reqId', async () => {
    await setup();
    const arrivals = new Map<string, number[]>();
    gw.receiptFor = (events) => {
      for (const e of events) arrivals.set(e.reqId, [...(arrivals.get(e.reqId) ?? []), Date.now()]);
      const again = events.filter((e) => arrivals.get(e.reqId)!.length > 1).map((e) => e.reqId);
      return again.length ? { accepted: [], duplicates: again, rejected: [] } : undefined;
    };
    const { client } = makeClient({ resendAfterMs: 80 });
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    const id = client.click();
    await waitFor(() => client.unackedCount === 0, 'duplicate receipt');
    const times = arrivals.get(id)!;
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(70);
    expect(gw.conns).toHaveLength(1);
  });

  it('resends unacked events on the new connection after the gateway drops the old one', async () => {
    await setup();
    fb.eventsStatus = 503; // keep the HTTP fallback from settling them first
    gw.receiptFor = () => undefined;
    const { client, rec } = makeClient();
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    const ids = [client.click(), client.key(), client.ticket(4, 'T-9')];
    const first = await waitFor(() => gw.events(gw.conns[0]).length === 3 && gw.events(gw.conns[0]), 'first send');

    gw.receiptFor = (events) => ({ accepted: events.map((e) => e.reqId), duplicates: [], rejected: [] });
    gw.conns[0]!.ws.terminate();
    const again = await waitFor(
      () => gw.conns[1] && gw.events(gw.conns[1]).length >= 3 && gw.events(gw.conns[1]),
      'resend',
    );
    expect(again.slice(0, 3).map((e) => e.reqId)).toEqual(ids);
    expect(again.slice(0, 3)).toEqual(first);
    await waitFor(() => client.unackedCount === 0, 'receipted after reconnect');
    expect(rec.states).toEqual(['connecting', 'open', 'fallback', 'open']);
    // Whether the fallback got to POST before the reconnect is a race this test does not control
    // (it failed CI once with no POST yet); what it did post must have failed and settled nothing.
    expect(rec.errors.every((e) => e.code === 'FALLBACK_FAILED')).toBe(true);
    expect(rec.errors.length).toBeLessThanOrEqual(fb.posts().length);
  });

  it('gives up on a connection that is never welcomed or goes silent, and reconnects', async () => {
    await setup();
    let hellos = 0;
    gw.heartbeatIntervalMs = 30;
    gw.onHello = (conn) => {
      if (++hellos === 2) gw.welcome(conn); // first: no welcome at all
    };
    gw.receiptFor = () => undefined; // second: welcomed, but heartbeats never get a receipt
    const { client, rec } = makeClient({ connectTimeoutMs: 60 });
    client.start();
    await waitFor(() => rec.reconnects.length >= 2, 'two abandoned connections');
    expect(rec.reconnects.slice(0, 2).map((r) => r.closeCode)).toEqual([4000, 4000]);
    expect(gw.events(gw.conns[1]).filter((e) => e.type === 1).length).toBeGreaterThanOrEqual(2);
    expect(rec.states.slice(0, 4)).toEqual(['connecting', 'fallback', 'open', 'fallback']);
  });

  it('sends what is queued on stop() and then stays closed', async () => {
    await setup();
    const { client, rec } = makeClient();
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    const id = client.outboundCall();
    await client.stop();
    await waitFor(() => gw.events().some((e) => e.reqId === id), 'flushed on stop');
    await sleep(60);
    expect(gw.conns).toHaveLength(1);
    expect(rec.states).toEqual(['connecting', 'open', 'closed']);
    expect(rec.reconnects).toEqual([]);
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap with full jitter', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, opts, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
    expect([0, 3, 9].map((a) => backoffDelay(a, opts, () => 0))).toEqual([0, 0, 0]);
    expect(backoffDelay(2, opts, () => 0.25)).toBe(100);
    expect(rateLimitedDelay(opts, () => 0)).toBe(500);
    expect(rateLimitedDelay(opts, () => 0.999)).toBe(999);
  });

  it('spaces reconnect attempts by the jittered exponential delay', async () => {
    await setup();
    gw.accepting = false;
    const draws = [0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.1, 0.6];
    let i = 0;
    const { client, rec } = makeClient({ random: () => draws[i++ % draws.length]!, pollIntervalMs: 1000 });
    const at: number[] = [];
    client.on('reconnect', () => at.push(performance.now()));
    client.start();
    await waitFor(() => rec.reconnects.length >= 8, 'eight reconnect attempts');
    for (let k = 1; k < 8; k++) expect(at[k]! - at[k - 1]!).toBeGreaterThanOrEqual(rec.reconnects[k - 1]!.delayMs - 2);
    // initial 10, cap 40: ceilings 10, 20, 40, 40, ... times the draw.
    expect(rec.reconnects.slice(0, 8).map((r) => r.delayMs)).toEqual([5, 10, 20, 20, 20, 36, 4, 24]);
    expect(rec.reconnects.slice(0, 8).map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(gw.conns).toHaveLength(0);
    expect(rec.states).toEqual(['connecting', 'fallback']);
  });

  it('waits longer after 4429 and starts over after a welcome', async () => {
    await setup();
    let hellos = 0;
    gw.onHello = (conn) => {
      if (++hellos === 1) conn.ws.close(4429, 'slow down');
      else gw.welcome(conn);
    };
    const { client, rec } = makeClient({ random: () => 0 });
    client.start();
    await waitFor(() => client.state === 'open', 'open after the rate limit');
    expect(rec.reconnects).toEqual([{ attempt: 1, delayMs: 20, closeCode: 4429 }]);
    gw.conns[1]!.ws.close(1012, 'restart');
    await waitFor(() => rec.reconnects.length === 2, 'second reconnect');
    expect(rec.reconnects[1]).toEqual({ attempt: 1, delayMs: 0, closeCode: 1012 });
  });

  it.each([
    [4401, 'UNAUTHORIZED'],
    [4403, 'FORBIDDEN'],
    [4426, 'UNSUPPORTED_VERSION'],
  ])('stops for good on close code %i', async (closeCode, code) => {
    await setup();
    gw.onHello = (conn) => {
      conn.ws.send(JSON.stringify({ type: 'error', code, message: 'no entry' }));
      conn.ws.close(closeCode, code);
    };
    const { client, rec } = makeClient();
    client.start();
    await waitFor(() => client.state === 'closed', 'closed');
    await sleep(100);
    expect(rec.errors).toEqual([
      { code, message: 'no entry', source: 'server' },
      { code, message: `gateway closed the connection (${closeCode})`, source: 'close', closeCode },
    ]);
    expect(rec.states).toEqual(['connecting', 'closed']);
    expect(rec.reconnects).toEqual([]);
    expect(gw.conns).toHaveLength(1);
    expect(fb.requests).toEqual([]);
  });
});

describe('heartbeat cadence and versions', () => {
  const beatsOf = (conn?: Conn) => gw.events(conn).filter((e) => e.type === 1);

  it('re-arms its heartbeat timer on a cadence frame, and ignores advice it cannot follow', async () => {
    await setup();
    gw.heartbeatIntervalMs = 60_000;
    const { client, rec } = makeClient();
    const advised: number[] = [];
    client.on('cadence', (c) => advised.push(c.heartbeatIntervalMs));
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    const conn = gw.conns[0]!;
    await sleep(150);
    expect(beatsOf()).toEqual([]);
    // Nonsense advice changes nothing.
    for (const bad of [-1, 0, 5, 'fast', null, 7_200_000])
      conn.ws.send(JSON.stringify({ type: 'cadence', heartbeatIntervalMs: bad }));
    await sleep(150);
    expect(beatsOf()).toEqual([]);
    const advisedAt = Date.now();
    conn.ws.send(JSON.stringify({ type: 'cadence', heartbeatIntervalMs: 120, reason: 'a field of a later version' }));
    const beats = await waitFor(() => beatsOf().length >= 3 && beatsOf(), 'three heartbeats at the new cadence');
    const times = [advisedAt, ...beats.slice(0, 3).map((b) => b.ts)];
    for (let i = 1; i < times.length; i++) {
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100);
      expect(times[i]! - times[i - 1]!).toBeLessThan(400);
    }
    expect(advised).toEqual([120]);
    // Longer again: the beats stop for the new interval.
    conn.ws.send(JSON.stringify({ type: 'cadence', heartbeatIntervalMs: 60_000 }));
    await waitFor(() => advised.length === 2, 'the second advice');
    const n = beatsOf().length;
    await sleep(400);
    expect(beatsOf().length).toBe(n);
    expect(rec.errors).toEqual([]);
  });

  it('works with an older gateway (no welcome.v) and ignores what a newer one adds: fields and frame types', async () => {
    await setup();
    gw.heartbeatIntervalMs = 100;
    gw.onHello = (conn) => {
      // The stand-in answers as a 1.0 gateway does (welcome without v), plus fields it cannot know.
      conn.ws.send(
        JSON.stringify({
          type: 'welcome',
          sessionId: 's-0',
          agentId: 'a1',
          tenant: 't1',
          heartbeatIntervalMs: 100,
          region: 'eu-1',
          limits: { eventsPerSec: 100 },
        }),
      );
      conn.ws.send(JSON.stringify({ type: 'fleet-notice', text: 'a frame of protocol 1.9' }));
    };
    gw.receiptFor = (events) => ({
      accepted: events.map((e) => e.reqId),
      duplicates: [],
      rejected: [],
      ...({ shard: 3 } as object),
    });
    const { client, rec } = makeClient();
    const welcomes: unknown[] = [];
    client.on('welcome', (w) => welcomes.push(w));
    client.start();
    const id = client.click();
    await waitFor(() => rec.receipts.some((r) => r.accepted.includes(id)), 'the click receipted');
    await waitFor(() => beatsOf().length >= 2, 'heartbeats at the welcome interval');
    expect(welcomes).toMatchObject([{ heartbeatIntervalMs: 100 }]);
    expect((welcomes[0] as { v?: string }).v).toBeUndefined();
    expect(rec.errors).toEqual([]);
    expect(rec.states).toEqual(['connecting', 'open']);
    expect(client.unackedCount).toBeLessThanOrEqual(1);
  });
});

describe('an expired token', () => {
  it('reconnects with a fresh token from the token function after TOKEN_EXPIRED, and stops with a fixed token', async () => {
    await setup();
    const tokens: string[] = [];
    let n = 0;
    gw.onHello = (conn) => {
      gw.welcome(conn);
      if (gw.conns.length === 1) {
        conn.ws.send(
          JSON.stringify({
            type: 'error',
            code: 'TOKEN_EXPIRED',
            message: 'the token expired; reconnect with a fresh token',
          }),
        );
        conn.ws.close(4401, 'TOKEN_EXPIRED');
      }
    };
    const { client, rec } = makeClient({
      token: () => {
        tokens.push(`tok-${++n}`);
        return tokens.at(-1)!;
      },
      random: () => 0,
    });
    client.start();
    await waitFor(() => gw.conns.length === 2 && client.state === 'open', 'reconnected after the expiry');
    expect(tokens.length).toBeGreaterThanOrEqual(2); // asked again (the fallback asks too while down)
    expect(rec.reconnects).toHaveLength(1);

    await setup();
    gw.onHello = (conn) => {
      conn.ws.send(JSON.stringify({ type: 'error', code: 'TOKEN_EXPIRED', message: 'expired' }));
      conn.ws.close(4401, 'TOKEN_EXPIRED');
    };
    const fixed = makeClient({ token: 'a-fixed-token' });
    fixed.client.start();
    await waitFor(() => fixed.client.state === 'closed', 'stopped with a fixed token');
    expect(fixed.rec.reconnects).toEqual([]);
  });
});

describe('pushes', () => {
  it('emits each msgId once, acks every copy, and reports status pushes', async () => {
    await setup();
    const abnormal = { status: 'ABNORMAL', statusCode: 1003, cause: 'NO_ACTION', since: '2025-11-23T00:10:00Z' };
    gw.onHello = (conn) => {
      gw.welcome(conn);
      const push = (msgId: string, topic: string, data: unknown): void =>
        conn.ws.send(JSON.stringify({ type: 'push', msgId, topic, data }));
      push('m-1', 'status', abnormal);
      push('m-1', 'status', abnormal);
      push('m-2', 'reminder', { text: 'still there?' });
    };
    const { client, rec } = makeClient();
    client.start();
    const acked = await waitFor(() => {
      const ids = gw.framesOf('ack').flatMap((f) => f.msgIds as string[]);
      return ids.length === 3 && ids;
    }, 'three acks');
    expect([...acked].sort()).toEqual(['m-1', 'm-1', 'm-2']);
    expect(rec.pushes).toEqual([
      { msgId: 'm-1', topic: 'status', data: abnormal },
      { msgId: 'm-2', topic: 'reminder', data: { text: 'still there?' } },
    ]);
    expect(rec.statuses).toEqual([{ status: 'IDLE', statusCode: 1001, since: '2025-11-23T00:00:00Z' }, abnormal]);
  });
});

describe('HTTP fallback', () => {
  it('posts events and short-polls messages while the websocket is down, then returns to the websocket', async () => {
    await setup();
    const abnormal = { status: 'ABNORMAL', statusCode: 1003, cause: 'NO_ACTION', since: '2025-11-23T00:10:00Z' };
    fb.messages = [
      { msgId: 'm-5', topic: 'status', data: abnormal },
      { msgId: 'm-6', topic: 'reminder', data: {} },
    ];
    const { client, rec } = makeClient({ deviceId: 'tab-9', backoff: { initialMs: 40, maxMs: 40 } });
    client.start();
    await waitFor(() => client.state === 'open', 'open');

    gw.accepting = false;
    gw.conns[0]!.ws.terminate();
    await waitFor(() => client.state === 'fallback', 'fallback');
    const id = client.click();
    const post = await waitFor(() => fb.posts()[0], 'fallback POST');
    expect(post.url).toBe('/v1/events');
    expect(post.authorization).toBe('Bearer tok');
    expect(post.body).toEqual({ deviceId: 'tab-9', events: [expect.objectContaining({ reqId: id, type: 100 })] });
    await waitFor(() => client.unackedCount === 0, 'receipt over HTTP');

    await waitFor(() => fb.get().length >= 3, 'three polls');
    expect(fb.get()[0]!.url).toBe('/v1/messages');
    expect(fb.get()[0]!.authorization).toBe('Bearer tok');
    expect(fb.get()[2]!.url).toBe('/v1/messages?after=m-6');
    expect(rec.pushes.map((p) => p.msgId)).toEqual(['m-5', 'm-6']);
    expect(rec.statuses.at(-1)).toEqual(abnormal);

    // The gateway comes back and pushes m-6 again: deduped, but acked.
    gw.onHello = (conn) => {
      gw.welcome(conn);
      conn.ws.send(JSON.stringify({ type: 'push', msgId: 'm-6', topic: 'reminder', data: {} }));
    };
    gw.accepting = true;
    await waitFor(() => client.state === 'open', 'back to the websocket');
    await sleep(20);
    const polls = fb.get().length;
    const after = client.click();
    await waitFor(() => gw.events().some((e) => e.reqId === after), 'event over ws');
    await sleep(100);
    expect(fb.get().length).toBe(polls);
    expect(fb.posts().every((p) => !JSON.stringify(p.body).includes(after))).toBe(true);
    const acked = gw.framesOf('ack', gw.conns.at(-1)).flatMap((f) => f.msgIds as string[]);
    expect(acked).toEqual(expect.arrayContaining(['m-5', 'm-6']));
    expect(rec.pushes.map((p) => p.msgId)).toEqual(['m-5', 'm-6']);
    expect(rec.states).toEqual(['connecting', 'open', 'fallback', 'open']);
  });
});

describe('captureDom', () => {
  it('reports clicks, keys, throttled mouse moves, URL and visibility changes until unsubscribed', async () => {
    await setup();
    let clock = 1_000_000;
    const { client } = makeClient({ now: () => clock });
    client.start();
    await waitFor(() => client.state === 'open', 'open');
    const page = new EventTarget();
    const win = new EventTarget();
    const stop = client.captureDom(page, { urlTarget: win });
    const fire = (t: EventTarget, name: string): boolean => t.dispatchEvent(new Event(name));
    fire(page, 'click');
    fire(page, 'keydown');
    fire(page, 'mousemove');
    clock += 1000;
    fire(page, 'mousemove'); // within 5 s of the last one: dropped
    clock += 4000;
    fire(page, 'mousemove');
    fire(win, 'hashchange');
    fire(win, 'popstate');
    fire(page, 'visibilitychange');
    stop();
    fire(page, 'click');
    fire(win, 'popstate');

    await waitFor(() => gw.events().length >= 7, 'captured events');
    await sleep(30);
    const events = gw.events();
    expect(events.map((e) => e.type)).toEqual([100, 101, 102, 102, 105, 105, 1]);
    expect(events[1]!.data).toBeUndefined();
    expect(events[3]!.ts - events[2]!.ts).toBe(5000);
    expect(events[6]!.data).toEqual({ visibility: 'unknown' });
  });
});

describe('deriveHttpUrl', () => {
  it('maps ws to http and wss to https, keeping host and port', () => {
    expect(deriveHttpUrl('ws://127.0.0.1:8080/v1/ws')).toBe('http://127.0.0.1:8080');
    expect(deriveHttpUrl('wss://vigil.example/v1/ws')).toBe('https://vigil.example');
  });
});

describe('fleet mode', () => {
  it('numbers its heartbeats with their metrics, and deregisters: frame, confirmation, stop', async () => {
    await setup();
    gw.heartbeatIntervalMs = 40;
    let load = 0.1;
    const { client, rec } = makeClient({ fleet: { metrics: () => ({ cpu: (load += 0.1), queueDepth: 2 }) } });
    client.start();
    const beats = await waitFor(() => {
      const b = gw.events().filter((e) => e.type === 1);
      return b.length >= 3 && b;
    }, 'three numbered heartbeats');
    expect(beats.slice(0, 3).map((b) => b.data?.['seq'])).toEqual([1, 2, 3]);
    expect(beats[0]!.data?.['metrics']).toEqual({ cpu: 0.2, queueDepth: 2 });

    // The stand-in gateway confirms a deregister the way the real one does.
    const conn = gw.conns[0]!;
    conn.ws.on('message', (d) => {
      if ((JSON.parse(d.toString()) as Frame).type === 'deregister') {
        conn.ws.send(JSON.stringify({ type: 'deregistered', status: 'DEREGISTERED', since: new Date().toISOString() }));
        conn.ws.close(1000, 'deregistered');
      }
    });
    expect(await client.deregister('scaled in')).toBe(true);
    expect(conn.frames.find((f) => f.type === 'deregister')).toEqual({ type: 'deregister', reason: 'scaled in' });
    expect(client.state).toBe('closed');
    expect(rec.errors).toEqual([]);
  });
});
