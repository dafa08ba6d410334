// Propagation on real Postgres and Temporal: feed order and exactly-once, crash redelivery,
// lane isolation, dead letters and redrive, HMAC, push, metrics, reconciliation.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createReconcileActivities } from '../../activities/reconcile.ts';
import { ensureAgent } from '../../db/agents.ts';
import { ackedVersion, putWebhook, webhookLane } from '../../db/webhooks.ts';
import { signToken } from '../../platform/auth.ts';
import { startDispatcher, type DispatcherOptions, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { signWebhook } from '../../workers/lanes/webhook.ts';
import { createDispatcherMetrics, serveMetrics } from '../../workers/metrics.ts';
import { ensureReconcileSchedule, RECONCILE_SCHEDULE_ID } from '../../workers/schedules.ts';
import { RETENTION_SCHEDULE_ID } from '../../workers/schedules.ts';
import { reconcileWorkflow } from '../../workflows/reconcile.ts';
import { harnessGateway } from './gateway-helpers.ts';
import { createHarness, eventually, type Harness } from '../harness.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** What HCM writes for a status change (activities/hcm.ts), without the status row update. */
async function commitStatus(
  c: Queryable,
  tenant: string,
  agentId: string,
  version: number,
  to = 'IDLE',
  from = 'ONLINE',
) {
  const { rows } = await c.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
     VALUES ($1, $2, 'status', $3, $4, $5) RETURNING id, event_id`,
    [
      tenant,
      agentId,
      version,
      `k${version}-${Math.random()}`,
      JSON.stringify({
        from,
        to,
        status: to,
        statusCode: 1001,
        cause: 'NO_TASK',
        actor: 'system:vigil',
        reason: null,
        since: new Date().toISOString(),
      }),
    ],
  );
  return { id: Number(rows[0].id), eventId: rows[0].event_id as string };
}

async function commitReminder(c: Queryable, tenant: string, agentId: string, version: number) {
  const { rows } = await c.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
     VALUES ($1, $2, 'reminder', $3, $4, $5) RETURNING id, event_id`,
    [
      tenant,
      agentId,
      version,
      `r${version}-${Math.random()}`,
      JSON.stringify({
        cause: 'NO_ACTION',
        lastActionAt: new Date().toISOString(),
        lockSec: 840,
        status: 'ONLINE',
      }),
    ],
  );
  return { id: Number(rows[0].id), eventId: rows[0].event_id as string };
}

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver whose behaviour can change: answer 200, answer 500, or never answer. */
async function receiver(mode: 'ok' | 'fail' | 'hang') {
  const got: Received[] = [];
  const r = { mode, got, url: '', close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ at: Date.now(), headers: req.headers, body });
      if (r.mode === 'hang') return;
      res.writeHead(r.mode === 'ok' ? 200 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r;
}

const eventIdsOf = (got: Received[]) => got.map((g) => JSON.parse(g.body).eventId as string);

async function laneRows(h: Harness, lane: string) {
  const { rows } = await h.pool.query(
    `SELECT outbox_id, state, attempts, last_error FROM outbox_deliveries WHERE lane = $1 ORDER BY outbox_id`,
    [lane],
  );
  return rows as { outbox_id: number; state: string; attempts: number; last_error: string | null }[];
}

describe('propagation', () => {
  let h: Harness;
  let databaseUrl: string;
  const cleanups: (() => Promise<unknown>)[] = [];
  const dispatcher = async (o: Partial<DispatcherOptions> = {}): Promise<RunningDispatcher> => {
    // The receivers listen on 127.0.0.1: private targets must be allowed explicitly.
    const d = await startDispatcher({
      pool: h.pool,
      databaseUrl,
      refreshMs: 500,
      ...o,
      webhook: { allowPrivate: true, ...o.webhook },
    });
    cleanups.push(() => d.stop());
    return d;
  };
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };

  beforeAll(async () => {
    h = await createHarness('propagation');
    databaseUrl = inject('databaseUrl');
  });
  afterAll(async () => {
    await runCleanups();
    await h.client.schedule
      .getHandle(RECONCILE_SCHEDULE_ID)
      .delete()
      .catch(() => {});
    await h.client.schedule
      .getHandle(RETENTION_SCHEDULE_ID)
      .delete()
      .catch(() => {});
    await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant LIKE $1`, [`${h.tenant}%`]);
    await h?.close();
  });

  it('lists every committed change exactly once in the feed, in commit order, with interleaved long and short transactions', async () => {
    const tenant = `${h.tenant}-order`;
    await dispatcher({ lanes: { push: false, webhooks: false } });
    const expected: string[] = [];
    // Long transactions take their outbox ids first and commit last, in reverse order.
    const longs: pg.PoolClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await h.pool.connect();
      await c.query('BEGIN');
      const { eventId } = await commitStatus(c, tenant, `long-${i}`, 1);
      longs.push(c);
      (c as pg.PoolClient & { eventId?: string }).eventId = eventId;
    }
    for (let i = 0; i < 6; i++) {
      expected.push((await commitStatus(h.pool, tenant, `short-${i}`, 1)).eventId);
      await new Promise((r) => setTimeout(r, 80));
      if (i % 2 === 1) {
        const c = longs.pop()!;
        await c.query('COMMIT');
        c.release();
        expected.push((c as pg.PoolClient & { eventId?: string }).eventId!);
        await new Promise((r) => setTimeout(r, 80));
      }
    }
    const last = longs.pop()!;
    await last.query('COMMIT');
    last.release();
    expected.push((last as pg.PoolClient & { eventId?: string }).eventId!);

    // A burst of concurrent writers: exactly once, and per agent in version order.
    const burst = await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const ids: string[] = [];
        for (let v = 1; v <= 25; v++) ids.push((await commitStatus(h.pool, tenant, `burst-${w}`, v)).eventId);
        return ids;
      }),
    );
    const total = expected.length + burst.flat().length;
    const feed = await eventually(
      async () => {
        const { rows } = await h.pool.query(
          `SELECT event_id, agent_id, version FROM status_feed WHERE tenant = $1 ORDER BY seq`,
          [tenant],
        );
        return rows.length >= total && rows;
      },
      15_000,
      'the whole feed',
    );
    expect(feed).toHaveLength(total);
    expect(new Set(feed.map((r) => r.event_id)).size).toBe(total);
    expect(feed.filter((r) => !r.agent_id.startsWith('burst')).map((r) => r.event_id)).toEqual(expected);
    for (let w = 0; w < 8; w++) {
      const versions = feed.filter((r) => r.agent_id === `burst-${w}`).map((r) => Number(r.version));
      expect(versions).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    }
    await runCleanups();
  });

  it('redelivers with the same eventId after the dispatcher dies between delivering and marking, losing nothing', async () => {
    const tenant = `${h.tenant}-kill`;
    const rec = await receiver('ok');
    cleanups.push(rec.close);
    await putWebhook(h.pool, tenant, 'wfm', { url: rec.url, secret: 'kill-test-secret-0123456789' });
    const sent = [];
    for (let v = 1; v <= 3; v++) sent.push((await commitStatus(h.pool, tenant, 'a1', v)).eventId);

    const spawnDispatcher = (env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null> } => {
      const base: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'warn',
        VIGIL_DISPATCHER_METRICS_PORT: '0',
        VIGIL_WEBHOOK_TIMEOUT_MS: '1000',
        VIGIL_WEBHOOK_ALLOW_PRIVATE: '1',
      };
      delete base.TEMPORAL_ADDRESS;
      const child = spawn(process.execPath, ['--import', 'tsx', 'workers/dispatcher-main.ts'], {
        env: { ...base, ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, exited };
    };
    const crashing = spawnDispatcher({ VIGIL_FAULT: 'exit-after-deliver' });
    expect(await crashing.exited).toBe(75);
    const before = eventIdsOf(rec.got);
    expect(before.length).toBeGreaterThanOrEqual(1);
    const lane = webhookLane(tenant, 'wfm');
    expect((await laneRows(h, lane)).every((r) => r.state === 'pending')).toBe(true);

    // A healthy dispatcher process (which also creates the reconciliation schedule).
    const healthy = spawnDispatcher({ TEMPORAL_ADDRESS: inject('temporalAddress'), VIGIL_TASK_QUEUE: h.taskQueue });
    cleanups.push(async () => {
      healthy.child.kill('SIGTERM');
      await healthy.exited;
    });
    await eventually(async () => (await laneRows(h, lane)).every((r) => r.state === 'done'), 30_000, 'redelivery');
    const all = eventIdsOf(rec.got);
    expect(new Set(all)).toEqual(new Set(sent));
    for (const id of before) expect(all.filter((x) => x === id).length).toBeGreaterThanOrEqual(2);
    expect(await ackedVersion(h.pool, tenant, 'wfm', 'a1')).toBe(3);

    const schedule = await eventually(
      () =>
        h.client.schedule
          .getHandle(RECONCILE_SCHEDULE_ID)
          .describe()
          .catch(() => undefined),
      20_000,
      'the schedule',
    );
    expect(schedule.action.type).toBe('startWorkflow');
    expect(schedule.action.type === 'startWorkflow' && schedule.action.workflowType).toBe('reconcileWorkflow');
    expect(await ensureReconcileSchedule(h.client, { taskQueue: h.taskQueue, everySec: 60 })).toBe(false);
    // Later tests run reconcileWorkflow themselves; a scheduled run racing them would make them flaky.
    await h.client.schedule.getHandle(RECONCILE_SCHEDULE_ID).delete();
    // The dispatcher creates the retention schedule too (test/integration/retention.test.ts runs the workflow).
    const retention = await eventually(
      () =>
        h.client.schedule
          .getHandle(RETENTION_SCHEDULE_ID)
          .describe()
          .catch(() => undefined),
      20_000,
      'the retention schedule',
    );
    expect(retention.action.type === 'startWorkflow' && retention.action.workflowType).toBe('retentionWorkflow');
    await h.client.schedule.getHandle(RETENTION_SCHEDULE_ID).delete();
    await runCleanups();
  });

  it('keeps the feed and a healthy webhook fast while another webhook hangs and a third returns 500', async () => {
    const tenant = `${h.tenant}-iso`;
    const [hang, failing, ok] = await Promise.all([receiver('hang'), receiver('fail'), receiver('ok')]);
    cleanups.push(hang.close, failing.close, ok.close);
    const secret = 'iso-test-secret-0123456789';
    for (const [id, r] of [
      ['hang', hang],
      ['fail', failing],
      ['ok', ok],
    ] as const)
      await putWebhook(h.pool, tenant, id, { url: r.url, secret });
    const metrics = createDispatcherMetrics(h.pool);
    const server = await serveMetrics(metrics.registry, 0);
    cleanups.push(server.close);
    await dispatcher({
      hooks: metrics.hooks,
      webhook: { timeoutMs: 4_000 },
      retry: { maxAttempts: 5, baseMs: 300, maxMs: 1_000 },
    });

    const timings: { feedMs: number; okMs: number }[] = [];
    for (let v = 1; v <= 6; v++) {
      const t0 = Date.now();
      const { eventId } = await commitStatus(h.pool, tenant, 'a1', v);
      // Poll the feed every 5 ms (eventually() polls every 100 ms: too coarse to measure).
      let feedAt = 0;
      while (!feedAt && Date.now() - t0 < 5_000) {
        const { rowCount } = await h.pool.query(`SELECT 1 FROM status_feed WHERE event_id = $1`, [eventId]);
        if (rowCount) feedAt = Date.now();
        else await new Promise((r) => setTimeout(r, 5));
      }
      const okAt = await eventually(
        async () => ok.got.find((g) => JSON.parse(g.body).eventId === eventId)?.at,
        5_000,
        'the healthy webhook',
      );
      timings.push({ feedMs: feedAt - t0, okMs: okAt - t0 });
    }
    const hangRows = await laneRows(h, webhookLane(tenant, 'hang'));
    process.stderr.write(
      `isolation: feed ms ${timings.map((t) => t.feedMs).join(',')}; healthy webhook ms ${timings.map((t) => t.okMs).join(',')}; hanging lane ${hangRows.filter((r) => r.state === 'pending').length} pending\n`,
    );
    for (const t of timings) {
      expect(t.feedMs).toBeGreaterThan(0);
      expect(t.feedMs).toBeLessThan(2_000);
      expect(t.okMs).toBeLessThan(2_000);
    }
    // The hanging receiver has requests in flight and none delivered; the failing one is retrying.
    expect(hang.got.length).toBeGreaterThanOrEqual(1);
    expect(hangRows.some((r) => r.state === 'done')).toBe(false);
    await eventually(
      async () => (await laneRows(h, webhookLane(tenant, 'fail'))).some((r) => r.last_error === 'HTTP 500'),
      5_000,
      'a recorded 500',
    );

    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(text).toMatch(/vigil_dispatch_latency_seconds_count\{lane="feed"\} [1-9]/);
    expect(text).toContain(`vigil_delivery_errors_total{lane="${webhookLane(tenant, 'fail')}"}`);
    expect(text).toContain(`vigil_lane_lag_seconds{lane="${webhookLane(tenant, 'hang')}"}`);
    await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [tenant]);
    await runCleanups();
  });

  it('dead-letters after the last attempt, lists and redrives through the admin API, and signs with HMAC', async () => {
    const tenant = `${h.tenant}-dl`;
    const rec = await receiver('fail');
    cleanups.push(rec.close);
    const jwt = 'propagation-test-secret-0123456789';
    const app = harnessGateway(h, jwt, { webhookAllowPrivate: true });
    cleanups.push(() => app.close());
    const admin = { authorization: `Bearer ${await signToken(jwt, { tenant, sub: 'root', role: 'admin' })}` };
    const service = { authorization: `Bearer ${await signToken(jwt, { tenant, sub: 'wfm', role: 'service' })}` };
    const secret = 'dl-test-secret-0123456789';

    const put = await app.inject({
      method: 'PUT',
      url: '/v1/webhooks/wfm',
      headers: admin,
      payload: { url: rec.url, secret, filter: { topics: ['status'] } },
    });
    expect(put.statusCode).toBe(201);
    expect(put.json()).toMatchObject({ id: 'wfm', lane: 'webhook:wfm', enabled: true, filter: { topics: ['status'] } });
    expect(put.json().secret).toBeUndefined();
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/v1/webhooks/wfm',
          headers: admin,
          payload: { url: rec.url, secret, filter: { topics: ['status'] } },
        })
      ).statusCode,
    ).toBe(200);
    const list = await app.inject({ url: '/v1/webhooks', headers: admin });
    expect(list.json().webhooks.map((w: { id: string }) => w.id)).toEqual(['wfm']);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/v1/webhooks/x',
          headers: admin,
          payload: { url: 'ftp://x/y', secret },
        })
      ).json().code,
    ).toBe('BAD_REQUEST');
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/v1/webhooks/x',
          headers: admin,
          payload: { url: rec.url, secret: 'short' },
        })
      ).statusCode,
    ).toBe(400);
    expect((await app.inject({ url: '/v1/dead-letters?lane=nope', headers: admin })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/webhooks', headers: service })).statusCode).toBe(403);
    expect((await app.inject({ url: '/v1/webhooks' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/v1/webhooks/missing', headers: admin })).statusCode).toBe(404);

    await dispatcher({
      lanes: { feed: false, push: false },
      retry: { maxAttempts: 2, baseMs: 100, maxMs: 200 },
      webhook: { timeoutMs: 2_000 },
    });
    const { id, eventId } = await commitStatus(h.pool, tenant, 'a7', 4);
    await commitReminder(h.pool, tenant, 'a7', 4); // filtered out: the subscription wants status only
    const dead = await eventually(
      async () => {
        const r = await app.inject({ url: '/v1/dead-letters?lane=webhook:wfm', headers: admin });
        return r.json().deadLetters.length > 0 && r.json().deadLetters;
      },
      10_000,
      'a dead letter',
    );
    expect(dead).toEqual([
      expect.objectContaining({
        lane: 'webhook:wfm',
        outboxId: id,
        eventId,
        agentId: 'a7',
        attempts: 2,
        lastError: 'HTTP 500',
      }),
    ]);
    expect(rec.got).toHaveLength(2);
    expect((await laneRows(h, webhookLane(tenant, 'wfm'))).map((r) => r.outbox_id)).toEqual([id]);

    rec.mode = 'ok';
    const redrive = await app.inject({
      method: 'POST',
      url: '/v1/dead-letters/redrive',
      headers: admin,
      payload: { lane: 'webhook:wfm' },
    });
    expect(redrive.json()).toEqual({ redriven: 1 });
    await eventually(
      async () => (await ackedVersion(h.pool, tenant, 'wfm', 'a7')) === 4,
      10_000,
      'the redriven delivery',
    );
    const last = rec.got.at(-1)!;
    const ts = String(last.headers['x-vigil-timestamp']);
    expect(last.headers['x-vigil-signature']).toBe(signWebhook(secret, ts, last.body));
    expect(last.headers['x-vigil-signature']).not.toBe(signWebhook('another-secret-0123456789', ts, last.body));
    expect(last.headers['x-vigil-event-id']).toBe(eventId);
    expect(JSON.parse(last.body)).toMatchObject({
      eventId,
      tenant,
      agentId: 'a7',
      topic: 'status',
      version: 4,
      data: { status: 'IDLE', from: 'ONLINE' },
    });
    expect((await app.inject({ url: '/v1/dead-letters', headers: admin })).json().deadLetters).toEqual([]);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/dead-letters/redrive',
          headers: admin,
          payload: { lane: 'webhook:wfm', outboxIds: [id] },
        })
      ).statusCode,
    ).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: '/v1/webhooks/wfm', headers: admin })).statusCode).toBe(204);
    await runCleanups();
  });

  it('pushes status changes and reminders to push_messages and notifies vigil_push', async () => {
    const tenant = `${h.tenant}-push`;
    const listener = new pg.Client({ connectionString: databaseUrl });
    await listener.connect();
    cleanups.push(() => listener.end());
    const notes: { tenant: string; agentId: string; seq: number; msgId: string }[] = [];
    listener.on('notification', (n) => {
      const p = JSON.parse(n.payload!);
      if (p.tenant === tenant) notes.push(p);
    });
    await listener.query('LISTEN vigil_push');
    await dispatcher({ lanes: { feed: false, webhooks: false } });
    const s = await commitStatus(h.pool, tenant, 'a2', 5, 'BUSY', 'ONLINE');
    const r = await commitReminder(h.pool, tenant, 'a2', 5);
    await eventually(async () => notes.length >= 2, 5_000, 'two push notifications');
    const { rows } = await h.pool.query(
      `SELECT seq, outbox_id, topic, data FROM push_messages WHERE tenant = $1 ORDER BY seq`,
      [tenant],
    );
    expect(rows.map((x) => Number(x.outbox_id))).toEqual([s.id, r.id]);
    expect(rows[0].data).toMatchObject({
      status: 'BUSY',
      statusCode: 1001,
      cause: 'NO_TASK',
      version: 5,
      from: 'ONLINE',
      eventId: s.eventId,
    });
    expect(rows[1].data).toMatchObject({ cause: 'NO_ACTION', lockSec: 840, version: 5, eventId: r.eventId });
    expect(notes).toEqual(rows.map((x) => ({ tenant, agentId: 'a2', seq: Number(x.seq), msgId: `m-${x.seq}` })));
    await runCleanups();
  });

  it('reconciliation re-enqueues the latest status for a consumer whose acknowledged version is behind HCM', async () => {
    const tenant = `${h.tenant}-rec`;
    const rec = await receiver('ok');
    cleanups.push(rec.close);
    await ensureAgent(h.pool, tenant, 'a9', 'local');
    await putWebhook(h.pool, tenant, 'bi', {
      url: rec.url,
      secret: 'rec-test-secret-0123456789',
      filter: { statuses: ['IDLE', 'BUSY'] },
    });
    const lane = webhookLane(tenant, 'bi');
    const hcmCommit = async (version: number) => {
      const c = await h.pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`UPDATE status_table SET version = $3, status = 'IDLE' WHERE tenant = $1 AND agent_id = $2`, [
          tenant,
          'a9',
          version,
        ]);
        const o = await commitStatus(c, tenant, 'a9', version);
        await c.query('COMMIT');
        return o;
      } finally {
        c.release();
      }
    };
    const v1 = await hcmCommit(1);
    // The delivery was lost without an acknowledgement (say, marked done by an operator).
    await h.pool.query(`UPDATE outbox_deliveries SET state = 'done' WHERE lane = $1 AND outbox_id = $2`, [lane, v1.id]);
    const acts = createReconcileActivities({ pool: h.pool });
    expect(await acts.reconcileWebhooks()).toBeGreaterThanOrEqual(1);
    expect(await laneRows(h, lane)).toEqual([
      expect.objectContaining({ outbox_id: v1.id, state: 'pending', attempts: 0 }),
    ]);
    await acts.reconcileWebhooks(); // a pending delivery exists: nothing more for this lane
    expect(await laneRows(h, lane)).toHaveLength(1);

    await dispatcher({ lanes: { feed: false, push: false } });
    await eventually(
      async () => (await ackedVersion(h.pool, tenant, 'bi', 'a9')) === 1,
      10_000,
      'the ack of version 1',
    );

    // Version 2 is dead-lettered; the scheduled workflow (run here directly) brings it back.
    const v2 = await hcmCommit(2);
    await eventually(
      async () => (await ackedVersion(h.pool, tenant, 'bi', 'a9')) === 2,
      10_000,
      'the ack of version 2',
    );
    await h.pool.query(`DELETE FROM webhook_acks WHERE tenant = $1`, [tenant]);
    await h.pool.query(`UPDATE outbox_deliveries SET state = 'dead' WHERE lane = $1 AND outbox_id = $2`, [lane, v2.id]);
    const worker = await h.startWorker();
    cleanups.push(() => worker.stop());
    // A scheduled run fired before the schedule was deleted may get there first: count either.
    await h.client.workflow.execute(reconcileWorkflow, {
      taskQueue: h.taskQueue,
      workflowId: `reconcile-${tenant}`,
      workflowExecutionTimeout: '1 minute',
    });
    await eventually(
      async () => (await ackedVersion(h.pool, tenant, 'bi', 'a9')) === 2,
      10_000,
      'the re-delivered version 2',
    );
    expect(eventIdsOf(rec.got).filter((e) => e === v2.eventId).length).toBe(2);
    await h.pool.query(`DELETE FROM webhook_subscriptions WHERE tenant = $1`, [tenant]);
    await runCleanups();
  });
});
