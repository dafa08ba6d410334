// The websocket `GET /v1/ws` of docs/PROTOCOL.md: hello within 5 s, origin allowlist, 64 KiB frames,
// every frame validated, per-connection and per-tenant rate limits, one receipt per events frame
// (sent only once its events are durable), documented close codes with an error frame first,
// and pings that end connections whose peer stopped answering. Per-agent limits (events, open
// connections) and the in-flight frame cap keep what one sender costs bounded (README "Limits and retention").
// Versions: `hello.v` picks the protocol (docs/PROTOCOL.md "Versions and compatibility"); the heartbeat
// interval is advised in `welcome` and, to 1.1 clients, changed live by `cadence` frames (gateway/cadence.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { SELF_ROLES, verifyToken, type Principal } from '../platform/auth.ts';
import { HEALTH_CODE, type HealthState } from '../workflows/fleet.ts';
import { CloseCode, PROTOCOL_VERSION, parseVersion } from '../sdk/protocol.ts';
import type { Pool } from '../db/pool.ts';
import { ackDevice, deviceAckedSeq, listPushMessages, recordPushAcks } from '../db/push.ts';
import { currentStatus } from '../db/status.ts';
import { STATUS_CODE, isAction } from '../workflows/model.ts';
import type { CadenceConn } from './cadence.ts';
import type { GatewayCore, PushTarget } from './core.ts';
import { parseFrame } from './frames.ts';
import { Outstanding, PUSH_REPLAY_MIN } from './push.ts';
import { TokenBucket } from './rate-limit.ts';

export const MAX_FRAME_BYTES = 64 * 1024;
const HELLO_TIMEOUT_MS = 5_000;
/** Distinct module/entity registrations one connection may hold. */
export const MAX_MODULES = 100;

export interface WsOptions {
  core: GatewayCore;
  jwtSecret: string;
  allowedOrigins: string[];
  pool: Pool;
}

/**
 * Browsers send Origin; the allowlist applies to them. Without a list only localhost pages may
 * connect. A page of the gateway's own origin (the example workbench; `host` is the request's Host
 * header, which a page of another origin cannot set) may always connect.
 */
export function originAllowed(origin: string | undefined, allowed: string[], host?: string): boolean {
  if (origin === undefined) return true;
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  if (url && host !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host) {
    return true;
  }
  if (allowed.length > 0) return allowed.includes(origin) || allowed.includes('*');
  return url !== undefined && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** `GET /v1/ws` without an upgrade: a 426 saying how to connect (the upgrade never reaches a route). */
export async function websocketRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/ws',
    {
      schema: {
        summary: 'The workbench websocket (docs/PROTOCOL.md "Websocket GET /v1/ws"); a plain GET is answered 426',
        response: { 426: { $ref: 'Error#' } },
      },
    },
    async (_req, reply) => reply.code(426).send({ code: 'UPGRADE_REQUIRED', message: 'connect with a websocket' }),
  );
}

export function attachWebsocket(app: FastifyInstance, o: WsOptions): { closeAll(): void } {
  const { core } = o;
  const m = core.metrics;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  let closing = false;
  // Every welcomed connection's pushes awaiting their ack, swept for redelivery (README "The gateway", push).
  const awaitingAck = new Set<Outstanding>();
  const sweeper = setInterval(
    () => {
      for (const x of awaitingAck) x.sweep();
    },
    Math.max(100, core.tuning.pushAckTimeoutMs / 2),
  );
  sweeper.unref();
  // Welcomed sockets and how many pings in a row found them silent (no pong, no frame since the ping
  // before): a half-open connection never closes by itself, so two such pings terminate it. A pong
  // counts: this never depends on the advised heartbeat interval, however long it is.
  const silent = new Map<WebSocket, number>();
  const pinger = setInterval(() => {
    for (const [ws, n] of silent) {
      if (n >= 2) {
        silent.delete(ws);
        m.rejects.inc({ code: 'PING_TIMEOUT' });
        ws.terminate(); // no close handshake with a peer that does not answer; 'close' disconnects as usual
        continue;
      }
      silent.set(ws, n + 1);
      ws.ping();
    }
  }, core.tuning.wsPingSec * 1000);
  pinger.unref();

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/ws' || closing) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  });

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const sessionId = randomUUID();
    let principal: Principal | undefined;
    let deviceId = '';
    let welcomed = false;
    let closed = false;
    const modules = new Set<string>();
    const frames = new TokenBucket(
      Math.max(5, core.tuning.connEventsPerSec / 5),
      Math.max(10, core.tuning.connEventsPerSec / 2),
    );
    const events = new TokenBucket(core.tuning.connEventsPerSec, core.tuning.connEventsPerSec * 2);
    const deliveries = new Outstanding((f) => send(f), m, {
      timeoutMs: core.tuning.pushAckTimeoutMs,
      maxAgeMs: PUSH_REPLAY_MIN * 60_000,
    });
    const target: PushTarget = {
      send: (f) => {
        // The pushes tell how close the agent is to its next deadline (README "Heartbeat cadence").
        const p = f as { type?: string; topic?: string; data?: { status?: unknown } };
        if (p.type === 'push' && p.topic === 'reminder') reminded = true;
        // An instance under suspicion (README "Fleet mode": DEGRADED, or back from MISSING) counts too.
        if (p.type === 'push' && p.topic === 'status')
          abnormal = ['ABNORMAL', 'DEGRADED', 'RECOVERING'].includes(String(p.data?.status));
        if (cadence) cadence.nearDeadline = nearDeadline();
        if (p.type === 'push') deliveries.push(f as { msgId: string });
        else send(f);
      },
    };
    let chain: Promise<void> = Promise.resolve();
    /** Frames received and not yet handled: each waits for the one before (and its transaction). */
    let inflight = 0;
    /** Whether this connection holds one of its agent's connection slots. */
    let slot = false;
    /** Set at welcome: the connection's heartbeat advice, handed to core.cadence. */
    let cadence: CadenceConn | undefined;
    /** The agent was reminded and has not acted since (with ABNORMAL: near a deadline). */
    let reminded = false;
    let abnormal = false;
    const nearDeadline = () => abnormal || reminded;

    const send = (frame: object) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const reject = (close: number, code: string, message: string) => {
      if (closed) return;
      m.rejects.inc({ code });
      send({ type: 'error', code, message });
      closed = true;
      ws.close(close, code);
    };

    let expiryTimer: NodeJS.Timeout | undefined;
    const expireAt = (expSec: number) => {
      // setTimeout holds at most 2^31-1 ms: a longer wait is re-armed.
      const ms = expSec * 1000 - Date.now();
      expiryTimer =
        ms > 2 ** 31 - 1
          ? setTimeout(() => expireAt(expSec), 2 ** 31 - 1)
          : setTimeout(
              () => reject(CloseCode.UNAUTHORIZED, 'TOKEN_EXPIRED', 'the token expired; reconnect with a fresh token'),
              Math.max(0, ms),
            );
    };
    const helloTimer = setTimeout(
      () => reject(CloseCode.HELLO_TIMEOUT, 'HELLO_TIMEOUT', `no hello within ${HELLO_TIMEOUT_MS / 1000} s`),
      HELLO_TIMEOUT_MS,
    );

    if (!originAllowed(req.headers.origin, o.allowedOrigins, req.headers.host)) {
      reject(CloseCode.FORBIDDEN, 'FORBIDDEN', `origin ${req.headers.origin} is not allowed`);
      clearTimeout(helloTimer);
      return;
    }

    ws.on('pong', () => {
      if (silent.has(ws)) silent.set(ws, 0);
    });
    ws.on('message', (data, isBinary) => {
      if (closed) return;
      if (silent.has(ws)) silent.set(ws, 0);
      if (cadence) cadence.heardAt = Date.now();
      if (isBinary) return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', 'frames are JSON text');
      if (!frames.take()) return reject(CloseCode.RATE_LIMITED, 'RATE_LIMITED', 'too many frames on this connection');
      // A fast sender must not queue frames (and their memory) without bound while one awaits Postgres.
      if (inflight >= core.tuning.wsMaxInflightFrames) {
        return reject(
          CloseCode.RATE_LIMITED,
          'RATE_LIMITED',
          `more than ${core.tuning.wsMaxInflightFrames} frames in flight on this connection; wait for receipts`,
        );
      }
      inflight++;
      const arrived = process.hrtime.bigint();
      const text = data.toString();
      chain = chain
        .then(() => onFrame(text, arrived))
        .catch((err) => {
          core.log.error({ err }, 'frame handling failed');
          reject(CloseCode.UNAVAILABLE, 'UNAVAILABLE', 'the gateway could not handle the frame; reconnect and resend');
        })
        .finally(() => {
          inflight--;
        });
    });

    ws.on('close', (code) => {
      closed = true;
      clearTimeout(helloTimer);
      clearTimeout(expiryTimer);
      if (code === CloseCode.TOO_BIG) m.rejects.inc({ code: 'TOO_BIG' });
      silent.delete(ws);
      if (cadence) core.cadence.remove(cadence);
      cadence = undefined;
      if (slot && principal) core.connections.release(principal.tenant, principal.sub);
      slot = false;
      if (!welcomed || !principal) return;
      m.connections.dec();
      core.removeTarget(principal.tenant, principal.sub, target);
      awaitingAck.delete(deliveries);
      if (closing) return; // a draining gateway keeps its devices until the grace ends
      const p = principal;
      chain = chain
        .then(async () => {
          if (await core.presence.disconnect(p.tenant, p.sub, deviceId, sessionId))
            core.device(p.tenant, p.sub, deviceId, false);
        })
        .catch((err) => core.log.warn({ err }, 'disconnect bookkeeping failed'));
    });
    ws.on('error', (err) => core.log.debug({ err }, 'websocket error'));

    async function onFrame(text: string, arrived: bigint): Promise<void> {
      if (closed) return;
      const parsed = parseFrame(text);
      if ('error' in parsed) return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', parsed.error);
      if ('unsupported' in parsed)
        return reject(CloseCode.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION', parsed.unsupported);
      if ('unknownType' in parsed) {
        if (!welcomed) return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', 'the first frame must be hello');
        // A later minor's frame: said so, and the connection stays (docs/PROTOCOL.md "Versions and compatibility").
        m.rejects.inc({ code: 'UNKNOWN_FRAME' });
        return send({
          type: 'error',
          code: 'UNKNOWN_FRAME',
          message: `frame type ${parsed.unknownType} is not part of protocol ${PROTOCOL_VERSION}; ignored`,
        });
      }
      const f = parsed.frame;
      if (parsed.ignored > 0) m.unknownFields.inc({ frame: f.type }, parsed.ignored);
      if (!welcomed) {
        if (f.type !== 'hello') return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', 'the first frame must be hello');
        clearTimeout(helloTimer);
        try {
          principal = await verifyToken(o.jwtSecret, f.token, { agentTokenMaxSec: core.tuning.agentTokenMaxSec });
        } catch (err) {
          return reject(CloseCode.UNAUTHORIZED, 'UNAUTHORIZED', `bad or expired token: ${(err as Error).message}`);
        }
        if (!SELF_ROLES.includes(principal.role))
          return reject(CloseCode.FORBIDDEN, 'FORBIDDEN', 'only agent and instance tokens open a workbench connection');
        if (closed) return;
        if (!core.connections.acquire(principal.tenant, principal.sub)) {
          return reject(
            CloseCode.RATE_LIMITED,
            'TOO_MANY_CONNECTIONS',
            `the agent already has ${core.tuning.agentMaxConnections} open connections to this gateway; close one first`,
          );
        }
        slot = true;
        expireAt(principal.exp!);
        deviceId = f.deviceId;
        for (const mod of f.modules) modules.add(`${mod.module}/${mod.entity}`); // at most 50 (frames.ts)
        await core.ensureAgent(principal.tenant, principal.sub, principal.role === 'instance' ? 'service' : 'person');
        await core.presence.connect(principal.tenant, principal.sub, deviceId, sessionId);
        core.device(principal.tenant, principal.sub, deviceId, true);
        if (closed) {
          // The socket went away during hello: undo, as its close handler saw no session yet.
          if (await core.presence.disconnect(principal.tenant, principal.sub, deviceId, sessionId))
            core.device(principal.tenant, principal.sub, deviceId, false);
          return;
        }
        welcomed = true;
        m.connections.inc();
        core.addTarget(principal.tenant, principal.sub, target);
        const s = await currentStatus(o.pool, principal.tenant, principal.sub);
        if (closed) return;
        abnormal = s?.status === 'ABNORMAL';
        const v = parseVersion(f.v) ?? { major: 1, minor: 0 };
        const heartbeatMs = core.cadence.welcome(nearDeadline());
        silent.set(ws, 0);
        cadence = {
          tenant: principal.tenant,
          agentId: principal.sub,
          advice: { ms: heartbeatMs, at: Date.now() },
          heardAt: Date.now(),
          nearDeadline: nearDeadline(),
          // 1.0 clients keep the welcome's interval: they were never promised a cadence frame.
          live: v.major > 1 || v.minor >= 1,
          send: (ms) => {
            m.cadence.inc();
            send({ type: 'cadence', heartbeatIntervalMs: ms });
          },
        };
        core.cadence.add(cadence);
        send({
          type: 'welcome',
          v: PROTOCOL_VERSION,
          sessionId,
          agentId: principal.sub,
          tenant: principal.tenant,
          heartbeatIntervalMs: heartbeatMs,
          ...(s
            ? {
                status: {
                  status: s.status,
                  statusCode: STATUS_CODE[s.status] ?? HEALTH_CODE[s.status as HealthState],
                  cause: s.cause,
                  since: s.since.toISOString(),
                },
              }
            : {}),
        });
        // What this device missed and never acknowledged, in order, once (README "The gateway", push).
        awaitingAck.add(deliveries);
        try {
          const acked = await deviceAckedSeq(o.pool, principal.tenant, principal.sub, deviceId);
          const missed = await listPushMessages(
            o.pool,
            principal.tenant,
            principal.sub,
            String(acked),
            500,
            PUSH_REPLAY_MIN,
          );
          for (const msg of missed) {
            m.pushDeliveries.inc({ outcome: 'redelivered' });
            deliveries.push({ type: 'push', ...msg }, 'replay');
          }
        } catch (err) {
          core.log.warn({ err, agentId: principal.sub }, 'push replay failed');
        }
        return;
      }
      const p = principal!;
      switch (f.type) {
        case 'hello':
          return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', 'hello was already sent');
        case 'events': {
          if (!events.take(f.events.length))
            return reject(CloseCode.RATE_LIMITED, 'RATE_LIMITED', 'too many events on this connection');
          const refused = core.eventsRefused(p.tenant, p.sub, f.events.length);
          if (refused) return reject(CloseCode.RATE_LIMITED, 'RATE_LIMITED', refused.message);
          const receipt = await core.ingest(p.tenant, p.sub, deviceId, f.events, 'ws');
          // An action answers a reminder: no longer near that deadline.
          if (reminded && receipt.accepted.length > 0) {
            const accepted = new Set(receipt.accepted);
            if (
              (f.events as { reqId?: unknown; type?: unknown }[]).some(
                (e) => accepted.has(e.reqId as string) && isAction(e.type as number),
              )
            ) {
              reminded = false;
              if (cadence) cadence.nearDeadline = nearDeadline();
            }
          }
          send(receipt);
          m.receiptLatency.observe(Number(process.hrtime.bigint() - arrived) / 1e9);
          return;
        }
        case 'ack': {
          // The newest status version a workbench acknowledged: what push reconciliation compares
          // with HCM's (README "Propagation", **Reconciliation**). Not a delivery state per device.
          const seqs = f.msgIds.flatMap((id) => (/^m-\d{1,15}$/.test(id) ? [Number(id.slice(2))] : []));
          if (seqs.length === 0) return;
          deliveries.ack(seqs);
          await ackDevice(o.pool, p.tenant, p.sub, deviceId, seqs).catch((err: unknown) =>
            core.log.warn({ err, agentId: p.sub }, 'device ack not recorded'),
          );
          await recordPushAcks(o.pool, p.tenant, p.sub, seqs).catch((err: unknown) =>
            core.log.warn({ err, agentId: p.sub }, 'push ack not recorded'),
          );
          return;
        }
        case 'register':
          if (modules.size >= MAX_MODULES && !modules.has(`${f.module}/${f.entity}`)) {
            return reject(
              CloseCode.BAD_FRAME,
              'BAD_FRAME',
              `more than ${MAX_MODULES} modules registered on this connection`,
            );
          }
          modules.add(`${f.module}/${f.entity}`);
          return;
        case 'unregister':
          modules.delete(`${f.module}/${f.entity}`);
          return;
        case 'deregister': {
          // An instance leaving for good (README "Fleet mode"): DEREGISTERED, then a normal close.
          const res = await core.deregister(p, p.sub, f.reason).catch((err: Error) => err);
          if (res === 'not an instance')
            return reject(CloseCode.BAD_FRAME, 'BAD_FRAME', 'deregister is for instances (role instance)');
          if (res instanceof Error) {
            core.log.warn({ err: res, agentId: p.sub }, 'deregister failed');
            send({ type: 'error', code: 'UNAVAILABLE', message: 'deregistration failed; send it again' });
            return;
          }
          send({ type: 'deregistered', status: res.facts.status, since: new Date(res.facts.since).toISOString() });
          ws.close(1000, 'deregistered');
          return;
        }
      }
    }
  }

  return {
    /** Graceful stop: close every socket as a restart; their devices stay owned until the grace ends. */
    closeAll() {
      closing = true;
      clearInterval(pinger);
      clearInterval(sweeper);
      for (const ws of wss.clients) ws.close(CloseCode.RESTARTING, 'gateway restarting');
      wss.close();
    },
  };
}
