// A real gateway on a free port for integration tests, plus a raw websocket client that records
// every frame and the close code.
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import type { Pool } from '../../db/pool.ts';
import { signToken, type Role } from '../../platform/auth.ts';
import type { GatewayTuning } from '../../platform/config.ts';
import { buildGateway, type GatewayDeps } from '../../gateway/server.ts';
import { eventually, type Harness } from '../harness.ts';

export const SECRET = 'integration-test-secret-0123456789';

export interface TestGateway {
  app: FastifyInstance;
  http: string;
  ws: string;
  token(sub: string, role?: Role, opts?: { tenant?: string; ttlSec?: number; secret?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A gateway app (not listening) on the harness's Postgres, Temporal and task queue; `extra` overrides. */
export function harnessGateway(h: Harness, jwtSecret = SECRET, extra: Partial<GatewayDeps> = {}): FastifyInstance {
  return buildGateway({
    pool: h.pool,
    temporal: h.client,
    namespace: 'default',
    taskQueue: h.taskQueue,
    jwtSecret,
    ...extra,
  });
}

/** `extra.temporal`/`extra.pool`: a gateway reaching Temporal or Postgres its own way (e.g. through a relay). */
export async function startGateway(
  h: Harness,
  tuning: Partial<GatewayTuning> = {},
  extra: {
    allowedOrigins?: string[];
    temporal?: Client;
    pool?: Pool;
    temporalUiUrl?: string;
    webhookAllowPrivate?: boolean;
    loadLagMs?: () => number;
  } = {},
): Promise<TestGateway> {
  const app = harnessGateway(h, SECRET, {
    pool: extra.pool ?? h.pool,
    temporal: extra.temporal ?? h.client,
    tuning: { heartbeatMs: 1000, leaseSec: 1, drainGraceSec: 0, ...tuning },
    allowedOrigins: extra.allowedOrigins ?? [],
    temporalUiUrl: extra.temporalUiUrl,
    webhookAllowPrivate: extra.webhookAllowPrivate,
    loadLagMs: extra.loadLagMs,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  return {
    app,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/v1/ws`,
    token: (sub, role = 'agent', o = {}) =>
      signToken(o.secret ?? SECRET, { sub, tenant: o.tenant ?? h.tenant, role }, o.ttlSec),
    close: () => app.close(),
  };
}

export interface RawClient {
  socket: WebSocket;
  frames: Record<string, unknown>[];
  closed: Promise<number>;
  send(frame: unknown): void;
  next(type: string, after?: number): Promise<Record<string, unknown>>;
}

export async function rawClient(
  url: string,
  headers: Record<string, string> = {},
  opts: WebSocket.ClientOptions = {},
): Promise<RawClient> {
  const socket = new WebSocket(url, { ...opts, headers });
  const frames: Record<string, unknown>[] = [];
  socket.on('message', (d) => frames.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    frames,
    closed,
    send: (f) => socket.send(typeof f === 'string' ? f : JSON.stringify(f)),
    next: (type, after = 0) =>
      eventually(async () => frames.slice(after).find((f) => f.type === type), 10_000, `a ${type} frame`),
  };
}

/** Connected and welcomed as `sub` with `deviceId`. */
export async function helloClient(g: TestGateway, sub: string, deviceId = 'tab-1'): Promise<RawClient> {
  const c = await rawClient(g.ws);
  c.send({ type: 'hello', token: await g.token(sub), deviceId, modules: [] });
  await c.next('welcome');
  return c;
}
