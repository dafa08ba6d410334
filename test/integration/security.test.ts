// Hostile input and faults (issue 11) through the real gateway, dispatcher, Postgres and Temporal:
// the one id grammar, webhook targets (SSRF), token rules, no internal messages to callers, and
// values Postgres refuses (NUL, lone surrogates) checked at the edge.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { putWebhook, webhookLane } from '../../db/webhooks.ts';
import { buildGateway, type GatewayDeps } from '../../gateway/server.ts';
import { signToken, type Role } from '../../platform/auth.ts';
import { startDispatcher } from '../../workers/dispatcher.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { createHarness, eventually, type Harness, type RunningWorker } from '../harness.ts';
import { rawClient, harnessGateway } from './gateway-helpers.ts';

const SECRET = 'security-test-secret-0123456789abcdef';
const click = (extra: object = {}) => ({
  reqId: `r-${Math.random().toString(36).slice(2)}`,
  type: 100,
  ts: Date.now(),
  ...extra,
});

describe('hostile input and faults', () => {
  let h: Harness;
  let w: RunningWorker;
  let app: FastifyInstance;
  let ws: string;
  const logged: Record<string, unknown>[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  const token = (role: Role, sub = `${role}-1`, tenant = h.tenant, ttlSec?: number) =>
    signToken(SECRET, { tenant, sub, role }, ttlSec);
  const call = async (method: 'GET' | 'PUT' | 'POST', url: string, role: string | undefined, body?: unknown) => {
    const auth =
      role === undefined
        ? undefined
        : ['agent', 'supervisor', 'admin', 'service'].includes(role)
          ? await token(role as Role)
          : role;
    const res = await app.inject({
      method,
      url,
      headers: auth ? { authorization: `Bearer ${auth}` } : {},
      ...(body !== undefined
        ? {
            payload: typeof body === 'string' ? body : JSON.stringify(body),
            headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), 'content-type': 'application/json' },
          }
        : {}),
    });
    return { status: res.statusCode, body: res.body ? res.json() : undefined };
  };
  const gateway = (extra: Partial<GatewayDeps> = {}) => harnessGateway(h, SECRET, extra);

  beforeAll(async () => {
    h = await createHarness('security');
    w = await h.startWorker();
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    });
    app = gateway({ log: pino({ level: 'info' }, sink), tuning: { heartbeatMs: 1000, leaseSec: 1, drainGraceSec: 0 } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    ws = `ws://127.0.0.1:${port}/v1/ws`;
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [h.tenant]).catch(() => {});
    await app?.close();
    await w?.stop();
    await h?.close();
  });

  describe('one id grammar', () => {
    it("refuses a supervisor setting the status of another tenant's agent through a colon in the agent id", async () => {
      // Tenant "T" + agent "z:c" must not reach the workflow of tenant "T:z", agent "c".
      const victim = `agent:${h.tenant}:z:c`;
      for (const path of ['z:c', 'z%3Ac', 'z%3ac']) {
        const r = await call('PUT', `/v1/agents/${path}/status`, 'supervisor', { status: 'BUSY' });
        expect(r, path).toMatchObject({
          status: 400,
          body: { code: 'BAD_REQUEST', message: expect.stringMatching(/agentId/) },
        });
      }
      await expect(h.client.workflow.getHandle(victim).describe()).rejects.toThrow(/not found/i);
    });

    it('answers ids outside the grammar with 400 naming the field on every route', async () => {
      const bad = ['a:b', 'a%2Fb', 'a%20b', 'x'.repeat(129), 'caf%C3%A9', 'a%00b'];
      for (const id of bad) {
        const routes: [method: 'GET' | 'PUT', url: string, role: Role, field: RegExp, body?: unknown][] = [
          ['GET', `/v1/agents/${id}`, 'supervisor', /agentId/],
          ['GET', `/v1/agents/${id}/live`, 'supervisor', /agentId/],
          ['GET', `/v1/agents/${id}/timeline`, 'supervisor', /agentId/],
          ['PUT', `/v1/agents/${id}/status`, 'supervisor', /agentId/, { status: 'BUSY' }],
          ['PUT', `/v1/agents/${id}`, 'admin', /agentId/, { displayName: 'x' }],
          ['PUT', `/v1/rules/${id}`, 'admin', /ruleId/, {}],
          [
            'PUT',
            `/v1/webhooks/${id}`,
            'admin',
            /id/,
            { url: 'https://example.com/hook', secret: 'a-secret-of-16-chars' },
          ],
        ];
        for (const [method, url, role, field, body] of routes) {
          const r = await call(method, url, role, body);
          expect(r, `${method} ${url}`).toMatchObject({
            status: 400,
            body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) },
          });
        }
      }
      // Every character of the grammar is fine.
      const ok = 'Ab9.x_y-z@corp+1';
      expect(await call('PUT', `/v1/agents/${encodeURIComponent(ok)}`, 'admin', { displayName: 'ok' })).toMatchObject({
        status: 200,
        body: { agentId: ok },
      });
      expect((await call('GET', `/v1/agents/${encodeURIComponent(ok)}`, 'supervisor')).status).toBe(200);
    });

    it('refuses tokens whose tenant or sub break the grammar (401, websocket 4401)', async () => {
      for (const p of [
        { tenant: `${h.tenant}:z`, sub: 'a1' },
        { tenant: h.tenant, sub: 'a/1' },
        { tenant: h.tenant, sub: 'x'.repeat(129) },
        { tenant: '', sub: 'a1' },
      ]) {
        const t = await signToken(SECRET, { ...p, role: 'agent' });
        const r = await call('GET', `/v1/agents/a1`, t);
        expect(r, JSON.stringify(p)).toMatchObject({
          status: 401,
          body: { code: 'UNAUTHORIZED', message: expect.stringMatching(/tenant|sub/) },
        });
        const c = await rawClient(ws);
        c.send({ type: 'hello', token: t, deviceId: 'tab-1' });
        expect(await c.closed).toBe(4401);
        expect(c.frames[0]).toMatchObject({
          type: 'error',
          code: 'UNAUTHORIZED',
          message: expect.stringMatching(/tenant|sub/),
        });
      }
    });

    it('closes a hello whose deviceId breaks the grammar with 4400 naming deviceId, and refuses it over HTTP with 400', async () => {
      for (const deviceId of ['tab:1', 'tab/1', 'tab\u00001', 'x'.repeat(129)]) {
        const c = await rawClient(ws);
        c.send({ type: 'hello', token: await token('agent', 'dev-agent'), deviceId });
        expect(await c.closed).toBe(4400);
        expect(c.frames[0]).toMatchObject({
          type: 'error',
          code: 'BAD_FRAME',
          message: expect.stringMatching(/deviceId/),
        });
        const r = await call('POST', '/v1/events', await token('agent', 'dev-agent'), { deviceId, events: [click()] });
        expect(r, deviceId).toMatchObject({
          status: 400,
          body: { code: 'BAD_REQUEST', message: expect.stringMatching(/deviceId/) },
        });
      }
      const { rowCount } = await h.pool.query('SELECT 1 FROM device_sessions WHERE tenant = $1 AND agent_id = $2', [
        h.tenant,
        'dev-agent',
      ]);
      expect(rowCount).toBe(0);
    });
  });

  describe('webhook targets', () => {
    const secret = 'ssrf-test-secret-0123456789';
    const receiver = async () => {
      const got: string[] = [];
      const server = http.createServer((req, res) => {
        got.push(req.url ?? '');
        req.resume();
        res.writeHead(200).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise((resolve) => {
            server.closeAllConnections();
            server.close(resolve);
          }),
      );
      return { got, port: (server.address() as AddressInfo).port };
    };

    it('refuses link-local, loopback, private, CGNAT, ULA, unspecified and metadata targets at PUT time', async () => {
      const blocked = [
        'http://169.254.169.254/latest/meta-data/',
        'http://127.0.0.1:8080/hook',
        'http://127.1/',
        'http://10.1.2.3/',
        'http://172.16.0.1/',
        'http://192.168.1.10/',
        'http://100.64.0.1/',
        'http://0.0.0.0/',
        'http://[::1]/',
        'http://[::]/',
        'http://[fe80::1]/',
        'http://[fc00::1]/',
        'http://[fd00:ec2::254]/',
        'http://[::ffff:127.0.0.1]/',
        'http://[::ffff:a9fe:a9fe]/',
        'http://2130706433/',
        'http://0x7f000001/',
        'http://localhost:9/hook',
        'http://metadata.google.internal/computeMetadata/v1/',
      ];
      for (const url of blocked) {
        const r = await call('PUT', '/v1/webhooks/ssrf', 'admin', { url, secret });
        expect(r, url).toMatchObject({
          status: 400,
          body: { code: 'BAD_REQUEST', message: expect.stringMatching(/^body\/url/) },
        });
      }
      const { rowCount } = await h.pool.query('SELECT 1 FROM webhook_subscriptions WHERE tenant = $1', [h.tenant]);
      expect(rowCount).toBe(0);
      // A public literal address is fine (nothing is sent at PUT time).
      expect(
        (await call('PUT', '/v1/webhooks/public', 'admin', { url: 'https://93.184.215.14/hook', secret })).status,
      ).toBe(201);
      await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [h.tenant]);
    });

    it('allows private targets only with the explicit setting', async () => {
      const dev = gateway({ webhookAllowPrivate: true });
      cleanups.push(() => dev.close());
      const admin = { authorization: `Bearer ${await token('admin')}` };
      const r = await dev.inject({
        method: 'PUT',
        url: '/v1/webhooks/local',
        headers: admin,
        payload: { url: 'http://127.0.0.1:9/hook', secret },
      });
      expect(r.statusCode).toBe(201);
      await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [h.tenant]);
    });

    it('refuses a private address at delivery time too (a row written behind the API, or DNS rebinding), and says so in the dead letter', async () => {
      const rec = await receiver();
      const tenant = `${h.tenant}-d`;
      cleanups.push(() => h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [tenant]));
      // By name (resolved at connect time) and by literal address.
      await putWebhook(h.pool, tenant, 'by-name', { url: `http://localhost:${rec.port}/by-name`, secret });
      await putWebhook(h.pool, tenant, 'by-ip', { url: `http://127.0.0.1:${rec.port}/by-ip`, secret });
      const d = await startDispatcher({
        pool: h.pool,
        databaseUrl: inject('databaseUrl'),
        lanes: { feed: false, push: false },
        refreshMs: 200,
        retry: { maxAttempts: 1, baseMs: 100, maxMs: 100 },
        webhook: { timeoutMs: 2_000 },
      });
      cleanups.push(() => d.stop());
      const { rows } = await h.pool.query(
        `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
         VALUES ($1, 'a1', 'status', 1, 'ssrf-1', '{"from":"ONLINE","to":"IDLE","status":"IDLE"}') RETURNING id`,
        [tenant],
      );
      const outboxId = Number(rows[0].id);
      for (const id of ['by-name', 'by-ip']) {
        const dead = await eventually(
          async () => {
            const { rows: r } = await h.pool.query(
              `SELECT state, last_error FROM outbox_deliveries WHERE lane = $1 AND outbox_id = $2`,
              [webhookLane(tenant, id), outboxId],
            );
            return r[0]?.state === 'dead' && r[0];
          },
          10_000,
          `the ${id} dead letter`,
        );
        expect(dead.last_error).toMatch(/refused/);
        expect(dead.last_error).not.toMatch(/127\.0\.0\.1|::1|localhost|ECONNREFUSED|\d+\.\d+\.\d+\.\d+/);
      }
      expect(rec.got).toEqual([]);

      // The same rows go through with the explicit setting.
      await d.stop();
      const allowed = await startDispatcher({
        pool: h.pool,
        databaseUrl: inject('databaseUrl'),
        lanes: { feed: false, push: false },
        refreshMs: 200,
        webhook: { timeoutMs: 2_000, allowPrivate: true },
      });
      cleanups.push(() => allowed.stop());
      await h.pool.query(
        `UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = now() WHERE outbox_id = $1`,
        [outboxId],
      );
      await h.pool.query(`SELECT pg_notify('vigil_outbox', '')`);
      await eventually(async () => rec.got.length === 2, 10_000, 'both deliveries');
      expect(rec.got.sort()).toEqual(['/by-ip', '/by-name']);
    });
  });

  describe('tokens', () => {
    const unsigned = (claims: Record<string, unknown>, exp?: number, iat?: number) => {
      let j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('tok-agent');
      if (iat !== undefined) j = j.setIssuedAt(iat);
      if (exp !== undefined) j = j.setExpirationTime(exp);
      return j.sign(new TextEncoder().encode(SECRET));
    };

    it('requires exp, and caps the lifetime of agent tokens', async () => {
      const now = Math.floor(Date.now() / 1000);
      const noExp = await unsigned({ tenant: h.tenant, role: 'agent' });
      const long = await token('agent', 'tok-agent', h.tenant, 25 * 3600);
      const backdated = await unsigned({ tenant: h.tenant, role: 'agent' }, now + 3600, now - 48 * 3600);
      for (const [t, why] of [
        [noExp, /exp/],
        [long, /lifetime|24 h|86400/],
        [backdated, /lifetime|24 h|86400/],
      ] as const) {
        expect(await call('GET', '/v1/agents/tok-agent', t)).toMatchObject({
          status: 401,
          body: { code: 'UNAUTHORIZED', message: expect.stringMatching(why) },
        });
        const c = await rawClient(ws);
        c.send({ type: 'hello', token: t, deviceId: 'tab-1' });
        expect(await c.closed).toBe(4401);
        expect(c.frames[0]).toMatchObject({ type: 'error', code: 'UNAUTHORIZED', message: expect.stringMatching(why) });
      }
      // Staff tokens may live longer; an agent token within the cap is fine.
      expect(
        (await call('GET', '/v1/agents/tok-agent', await token('supervisor', 's1', h.tenant, 30 * 86_400))).status,
      ).toBe(404);
      expect(
        (await call('GET', '/v1/agents/tok-agent', await token('agent', 'tok-agent', h.tenant, 23 * 3600))).status,
      ).toBe(404);
    });

    it('takes the agent cap from the gateway tuning', async () => {
      const strict = gateway({ tuning: { agentTokenMaxSec: 600 } });
      cleanups.push(() => strict.close());
      const r = await strict.inject({
        url: '/v1/agents/tok-agent',
        headers: { authorization: `Bearer ${await token('agent', 'tok-agent', h.tenant, 3600)}` },
      });
      expect(r.statusCode).toBe(401);
    });

    it('closes an open websocket with 4401 and TOKEN_EXPIRED when its token expires', async () => {
      const c = await rawClient(ws);
      const opened = Date.now();
      c.send({ type: 'hello', token: await token('agent', 'short-lived', h.tenant, 2), deviceId: 'tab-1' });
      await c.next('welcome');
      expect(await c.closed).toBe(4401);
      expect(Date.now() - opened).toBeLessThan(4_000);
      expect(c.frames.at(-1)).toMatchObject({
        type: 'error',
        code: 'TOKEN_EXPIRED',
        message: expect.stringMatching(/expired/),
      });
    });
  });

  describe('no internal messages to callers', () => {
    /** A gateway whose Postgres goes away after it started. */
    const brokenGateway = async (extra: Partial<GatewayDeps>) => {
      const pool = createPool(inject('databaseUrl'), 2);
      const g = buildGateway({
        pool,
        temporal: h.client,
        namespace: 'default',
        taskQueue: h.taskQueue,
        jwtSecret: SECRET,
        log: pino({ level: 'silent' }),
        ...extra,
      });
      await g.ready();
      // The pool ends once the gateway releases its LISTEN client; new queries fail at once.
      const ended = pool.end();
      cleanups.push(async () => {
        await g.close();
        await ended;
      });
      return g;
    };

    it('answers /readyz with ok/down per check and no error text', async () => {
      const broken = await brokenGateway({
        temporal: new Client({ connection: h.client.connection, namespace: 'no-such-namespace' }),
        namespace: 'no-such-namespace',
      });
      const r = await broken.inject({ url: '/readyz' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toEqual({
        ready: false,
        checks: { postgres: 'down', temporal: 'down', worker: 'down', searchAttributes: 'down' },
      });
      const ok = await app.inject({ url: '/readyz' });
      expect(ok.json()).toEqual({
        ready: true,
        checks: { postgres: 'ok', temporal: 'ok', worker: 'ok', searchAttributes: 'ok' },
      });
      const idle = gateway({ taskQueue: `${h.taskQueue}-nobody` });
      cleanups.push(() => idle.close());
      expect((await idle.inject({ url: '/readyz' })).json()).toEqual({
        ready: false,
        checks: { postgres: 'ok', temporal: 'ok', worker: 'down', searchAttributes: 'ok' },
      });
    });

    it('keeps 5xx bodies generic and logs the error instead', async () => {
      const lines: Record<string, unknown>[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      });
      const broken = await brokenGateway({ log: pino({ level: 'info' }, sink) });
      const r = await broken.inject({
        url: '/v1/agents/a1',
        headers: { authorization: `Bearer ${await token('supervisor')}` },
      });
      expect(r.statusCode).toBeGreaterThanOrEqual(500);
      expect(r.json()).toEqual({ code: 'UNAVAILABLE', message: 'a dependency is unavailable; retry' });
      const line = lines.find((l) => l.level === 50);
      expect(line).toMatchObject({
        msg: 'request failed',
        route: '/v1/agents/:agentId',
        err: expect.objectContaining({ message: expect.stringMatching(/pool/) }),
      });
      expect(r.body).not.toContain(String((line!.err as { message: string }).message));
    });
  });

  describe('values Postgres refuses, checked at the edge', () => {
    it('answers a status reason with NUL or a lone surrogate at once with 400 naming the field', async () => {
      for (const reason of ['bad\u0000reason', 'bad\ud800reason', 'bad\udfffreason']) {
        const started = Date.now();
        const r = await call('PUT', '/v1/agents/nul-agent/status', 'supervisor', { status: 'BUSY', reason });
        expect(r).toMatchObject({
          status: 400,
          body: { code: 'BAD_REQUEST', message: expect.stringMatching(/body\/reason/) },
        });
        expect(Date.now() - started).toBeLessThan(2_000);
      }
      // A reason with an emoji (a valid surrogate pair) is fine.
      expect(
        await call('PUT', '/v1/agents/nul-agent/status', 'supervisor', { status: 'BUSY', reason: 'lunch 🍕' }),
      ).toMatchObject({ status: 200, body: { status: 'BUSY' } });
    });

    it('rejects events with NUL or lone surrogates anywhere, or data too deep or too big, in the receipt', async () => {
      const deep: Record<string, unknown> = {};
      let cur = deep;
      for (let i = 0; i < 20; i++) cur = cur.d = {};
      const cases: [event: object, field: RegExp][] = [
        [click({ reqId: 'nul\u0000req' }), /reqId/],
        [click({ reqId: 'ticket-nul', type: 3, ticketId: 't\u00001' }), /ticketId/],
        [click({ reqId: 'channel-nul', channel: 'voice\u0000' }), /channel/],
        [click({ reqId: 'data-nul', data: { a: { b: ['ok', 'x\u0000y'] } } }), /data\.a\.b\.1/],
        [click({ reqId: 'data-key-nul', data: { 'k\u0000': 1 } }), /data/],
        [click({ reqId: 'data-surrogate', data: { note: 'half \ud83d' } }), /data\.note/],
        [click({ reqId: 'data-deep', data: deep }), /data/],
        [click({ reqId: 'data-big', data: { blob: 'x'.repeat(20_000) } }), /data/],
      ];
      const c = await rawClient(ws);
      c.send({ type: 'hello', token: await token('agent', 'nul-events'), deviceId: 'tab-1' });
      await c.next('welcome');
      c.send({ type: 'events', events: [...cases.map(([e]) => e), click({ reqId: 'fine', data: { note: 'ok 🍕' } })] });
      const receipt = await c.next('receipt');
      expect(receipt.accepted).toEqual(['fine']);
      const rejected = receipt.rejected as { reqId: string; code: string; message: string }[];
      expect(rejected).toHaveLength(cases.length);
      cases.forEach(([, field], i) =>
        expect(rejected[i], String(i)).toMatchObject({ code: 'BAD_EVENT', message: expect.stringMatching(field) }),
      );
      c.socket.close();

      // The same over HTTP.
      const r = await call('POST', '/v1/events', await token('agent', 'nul-events'), {
        deviceId: 'tab-1',
        events: [click({ reqId: 'http-nul', channel: 'a\u0000' })],
      });
      expect(r).toMatchObject({
        status: 200,
        body: {
          accepted: [],
          rejected: [{ reqId: 'http-nul', code: 'BAD_EVENT', message: expect.stringMatching(/channel/) }],
        },
      });
    });

    it('closes frames with NUL or lone surrogates with 4400 naming the field', async () => {
      const agentToken = await token('agent', 'nul-frames');
      const hellos: [frame: object, field: RegExp][] = [
        [
          {
            type: 'hello',
            token: agentToken,
            deviceId: 'tab-1',
            modules: [{ module: 'ticket\u0000', entity: 'list' }],
          },
          /modules\.0\.module/,
        ],
        [
          {
            type: 'hello',
            token: agentToken,
            deviceId: 'tab-1',
            modules: [{ module: 'ticket', entity: 'li\udc00st' }],
          },
          /modules\.0\.entity/,
        ],
      ];
      for (const [frame, field] of hellos) {
        const c = await rawClient(ws);
        c.send(frame);
        expect(await c.closed).toBe(4400);
        expect(c.frames[0]).toMatchObject({ type: 'error', code: 'BAD_FRAME', message: expect.stringMatching(field) });
      }
      for (const [frame, field] of [
        [{ type: 'register', module: 'm\u0000', entity: 'e' }, /module/],
        [{ type: 'ack', msgIds: ['m-1\u0000'] }, /msgIds\.0/],
      ] as const) {
        const c = await rawClient(ws);
        c.send({ type: 'hello', token: agentToken, deviceId: 'tab-1' });
        await c.next('welcome');
        c.send(frame);
        expect(await c.closed).toBe(4400);
        expect(c.frames.at(-1)).toMatchObject({
          type: 'error',
          code: 'BAD_FRAME',
          message: expect.stringMatching(field),
        });
      }
    });

    it('answers admin strings with NUL or lone surrogates with 400 naming the field', async () => {
      const cases: [method: 'GET' | 'PUT', url: string, body: unknown, field: RegExp][] = [
        ['PUT', '/v1/agents/nul-admin', { displayName: 'A\u0000' }, /body\/displayName/],
        ['PUT', '/v1/agents/nul-admin', { businessLine: 'sales\ud800' }, /body\/businessLine/],
        ['PUT', '/v1/agents/nul-admin', { skillGroups: ['ok', 'sg\u0000'] }, /body\/skillGroups\/1/],
        ['PUT', '/v1/agents/nul-admin', { channels: ['c\u0000'] }, /body\/channels\/0/],
        ['PUT', '/v1/rules/nul-rule', { scope: { businessLine: 'x\u0000' } }, /body\/scope\/businessLine/],
        [
          'PUT',
          '/v1/webhooks/nul-hook',
          { url: 'https://example.com/a', secret: 'sixteen-chars-\u0000-secret', filter: { businessLines: ['b'] } },
          /body\/secret/,
        ],
        [
          'PUT',
          '/v1/webhooks/nul-hook',
          { url: 'https://example.com/a', secret: 'sixteen-chars-secret', filter: { businessLines: ['b\u0000'] } },
          /body\/filter\/businessLines\/0/,
        ],
        ['GET', '/v1/agents?skillGroup=a%00b', undefined, /querystring\/skillGroup/],
        ['GET', `/v1/agents?cursor=${Buffer.from('a\u0000', 'utf8').toString('base64url')}`, undefined, /cursor/],
      ];
      for (const [method, url, body, field] of cases) {
        const r = await call(method, url, 'admin', body);
        expect(r, `${url} ${JSON.stringify(body)}`).toMatchObject({
          status: 400,
          body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) },
        });
      }
      const { rowCount } = await h.pool.query(`SELECT 1 FROM agents WHERE tenant = $1 AND agent_id = 'nul-admin'`, [
        h.tenant,
      ]);
      expect(rowCount).toBe(0);
      expect(logged.filter((l) => (l.level as number) >= 50)).toEqual([]);
    });
  });

  it('still names the workflow of a plain id agent:{tenant}:{agentId}', () => {
    expect(agentWorkflowId('acme', 'a1')).toBe('agent:acme:a1');
  });

  describe('one request grammar on every route', () => {
    it('refuses an unknown field with a 400 naming it, on routes that used to drop it silently too', async () => {
      const agent = `grammar-${Date.now()}`;
      const cases: [method: 'GET' | 'PUT' | 'POST', url: string, role: Role, body: unknown, field: string][] = [
        ['PUT', `/v1/agents/${agent}/status`, 'supervisor', { status: 'BUSY', reasn: 'typo' }, 'body/reasn'],
        ['POST', '/v1/events', 'agent', { deviceId: 'd1', events: [click()], device: 'd1' }, 'body/device'],
        [
          'PUT',
          '/v1/rules/grammar',
          'admin',
          { windows: { abnormalAfterNoActionSecs: 60 } },
          'body/windows/abnormalAfterNoActionSecs',
        ],
        ['GET', '/v1/status-changes?after=0&wait=100', 'service', undefined, 'querystring/wait'],
      ];
      for (const [method, url, role, body, field] of cases) {
        const r = await call(method, url, role, body);
        expect(r, `${method} ${url}`).toEqual({
          status: 400,
          body: { code: 'BAD_REQUEST', message: `${field}: unknown field` },
        });
      }
      // Refused before anything happened: no workflow for the agent whose status had a typo.
      await expect(h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).describe()).rejects.toThrow(
        /not found/i,
      );
    });

    it('asks for a token before it looks at the body, and answers an unknown path in the error shape', async () => {
      expect(await call('PUT', '/v1/rules/x', undefined, { windows: 'not an object' })).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHORIZED' },
      });
      expect(await call('PUT', '/v1/rules/x', 'agent', { windows: 'not an object' })).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      expect(await call('GET', '/v1/nothing-here', undefined)).toEqual({
        status: 404,
        body: { code: 'NOT_FOUND', message: 'no route GET /v1/nothing-here' },
      });
    });
  });
});
