// The operator console's own routes through the real gateway app (inject) on real Postgres:
// GET /v1/floor (counts, groups and the last hour walked back through the status log) and
// GET /v1/console/config.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floorSnapshot } from '../../db/floor.ts';
import { FLOOR_HISTORY } from '../../gateway/floor.ts';
import { signToken, type Role } from '../../platform/auth.ts';
import { STATUSES, STATUS_CODE, type Status } from '../../workflows/model.ts';
import { harnessGateway } from './gateway-helpers.ts';
import { createHarness, type Harness } from '../harness.ts';

const SECRET = 'floor-test-secret-0123456789abcdef';
type Counts = Record<Status, number>;
const counts = (o: Partial<Counts>): Counts => ({ ONLINE: 0, IDLE: 0, BUSY: 0, ABNORMAL: 0, OFFLINE: 0, ...o });

describe('the operator console routes', () => {
  let h: Harness;
  let app: FastifyInstance;
  const call = async (url: string, role: Role, tenant = h.tenant, sub = `${role}-1`, on = app) => {
    const token = await signToken(SECRET, { tenant, role, sub });
    const res = await on.inject({ url, headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, body: res.json() };
  };
  const gateway = (extra: { temporalUiUrl?: string } = {}) => harnessGateway(h, SECRET, extra);

  beforeAll(async () => {
    h = await createHarness('floor');
    app = gateway({ temporalUiUrl: 'https://temporal.example.com/ui' });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  /** A committed change as HCM writes it (status row and log row), dated `secAgo` seconds back. */
  const move = async (agentId: string, from: Status, to: Status, secAgo: number) => {
    const { rows } = await h.pool.query<{ version: number }>(
      `UPDATE status_table SET status = $3, status_code = $4, cause = 'SUPERVISOR', version = version + 1,
              since = now() - make_interval(secs => $5)
        WHERE tenant = $1 AND agent_id = $2 AND status = $6 RETURNING version`,
      [h.tenant, agentId, to, STATUS_CODE[to], secAgo, from],
    );
    expect(rows, `${agentId} was ${from}`).toHaveLength(1);
    await h.pool.query(
      `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor,
         window_start, dedupe_key, committed_at)
       VALUES ($1, $2, $3, $4, $5, 'SUPERVISOR', 'supervisor:s1', now(), $6, now() - make_interval(secs => $7))`,
      [h.tenant, agentId, rows[0]!.version, from, to, `manual:${agentId}:${rows[0]!.version}`, secAgo],
    );
  };

  it('counts agents per status, per business line and per skill group, and walks the last hour back', async () => {
    const admin = await signToken(SECRET, { tenant: h.tenant, role: 'admin', sub: 'admin-1' });
    const put = (id: string, body: object) =>
      app.inject({
        method: 'PUT',
        url: `/v1/agents/${id}`,
        headers: { authorization: `Bearer ${admin}` },
        payload: body,
      });
    await put('f1', { businessLine: 'sales', skillGroups: ['sg-a', 'sg-b'] });
    await put('f2', { businessLine: 'sales', skillGroups: ['sg-a'] });
    await put('f3', { businessLine: 'support', skillGroups: ['sg-b'] });
    await put('f4', {});

    // Oldest first per agent, each in the middle of a minute (the answer's `at` is a moment later).
    await move('f2', 'ONLINE', 'IDLE', 90 * 60); // before the hour: not walked back
    await move('f1', 'ONLINE', 'BUSY', 40.5 * 60);
    await move('f2', 'IDLE', 'ABNORMAL', 20.5 * 60);
    await move('f3', 'ONLINE', 'IDLE', 10.5 * 60);
    await move('f3', 'IDLE', 'OFFLINE', 5.5 * 60);

    const r = await call('/v1/floor', 'supervisor');
    expect(r.status).toBe(200);
    const f = r.body;
    expect(Date.now() - Date.parse(f.at)).toBeLessThan(20_000);
    expect(f.total).toBe(4);
    expect(f.byStatus).toEqual(counts({ ONLINE: 1, BUSY: 1, ABNORMAL: 1, OFFLINE: 1 }));
    expect(f.byBusinessLine).toEqual([
      { businessLine: '', total: 1, byStatus: counts({ ONLINE: 1 }) },
      { businessLine: 'sales', total: 2, byStatus: counts({ BUSY: 1, ABNORMAL: 1 }) },
      { businessLine: 'support', total: 1, byStatus: counts({ OFFLINE: 1 }) },
    ]);
    expect(f.bySkillGroup).toEqual([
      { skillGroup: 'sg-a', total: 2, byStatus: counts({ BUSY: 1, ABNORMAL: 1 }) },
      { skillGroup: 'sg-b', total: 2, byStatus: counts({ BUSY: 1, OFFLINE: 1 }) },
    ]);

    const { stepSec, points } = f.history as { stepSec: number; points: { at: string; byStatus: Counts }[] };
    expect(stepSec).toBe(60);
    expect(points).toHaveLength(61);
    expect(points.map((p) => Date.parse(p.at))).toEqual(
      Array.from({ length: 61 }, (_, i) => Date.parse(f.at) - (60 - i) * 60_000),
    );
    // Minute by minute, as read off the changes above (f4 was created now and counts ONLINE throughout).
    const expected = (p: number): Counts =>
      counts({
        ONLINE: 1 + (p < 20 ? 1 : 0) + (p < 50 ? 1 : 0),
        BUSY: p >= 20 ? 1 : 0,
        IDLE: (p < 40 ? 1 : 0) + (p >= 50 && p < 55 ? 1 : 0),
        ABNORMAL: p >= 40 ? 1 : 0,
        OFFLINE: p >= 55 ? 1 : 0,
      });
    expect(points.map((p) => p.byStatus)).toEqual(Array.from({ length: 61 }, (_, p) => expected(p)));
    expect(points[60]!.byStatus).toEqual(f.byStatus);
    expect(points[0]!.byStatus).toEqual(counts({ ONLINE: 3, IDLE: 1 }));

    // The same walk done agent by agent from the log rows' exact times agrees at every point.
    const { rows: log } = await h.pool.query<{ agent_id: string; from_status: Status; committed_at: Date }>(
      `SELECT agent_id, from_status, committed_at FROM unified_work_status_log WHERE tenant = $1 ORDER BY version DESC`,
      [h.tenant],
    );
    const { rows: now } = await h.pool.query<{ agent_id: string; status: Status }>(
      `SELECT agent_id, status FROM status_table WHERE tenant = $1`,
      [h.tenant],
    );
    for (const p of points) {
      const byAgent = new Map(now.map((a) => [a.agent_id, a.status]));
      for (const l of log) if (l.committed_at.getTime() > Date.parse(p.at)) byAgent.set(l.agent_id, l.from_status);
      const c = counts({});
      for (const s of byAgent.values()) c[s]++;
      expect(p.byStatus, p.at).toEqual(c);
    }
  });

  it('dates each change to the first point at or after its commit, to the microsecond', async () => {
    // In one transaction now() stands still, so the rows can sit exactly on the points' instants.
    const c = await h.pool.connect();
    try {
      await c.query('BEGIN');
      const rows: [from: Status, to: Status, at: string][] = [
        ['BUSY', 'OFFLINE', `now() - interval '60 minutes'`], // on point 0: it had happened then
        ['BUSY', 'IDLE', `now() - interval '30 minutes'`], // on point 30
        ['IDLE', 'BUSY', `now() - interval '20 minutes' + interval '1 microsecond'`], // just after point 40
        ['OFFLINE', 'BUSY', `now()`], // on the last point
        ['ABNORMAL', 'ONLINE', `now() + interval '1 second'`], // dated after the read began: the last point
      ];
      for (const [i, [from, to, at]] of rows.entries()) {
        await c.query(
          `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor,
             window_start, dedupe_key, committed_at)
           VALUES ($1, 'edge', $2, $3, $4, 'SUPERVISOR', 'supervisor:s1', now(), $5, ${at})`,
          [h.tenant, i + 1, from, to, `edge-${i}`],
        );
      }
      const snap = await floorSnapshot(c, h.tenant, FLOOR_HISTORY);
      const edge = snap.moves.filter((m) => rows.some(([from, to]) => m.from === from && m.to === to));
      expect(edge.sort((a, b) => a.point - b.point)).toEqual([
        { point: 30, from: 'BUSY', to: 'IDLE', n: 1 },
        { point: 41, from: 'IDLE', to: 'BUSY', n: 1 },
        { point: 60, from: 'OFFLINE', to: 'BUSY', n: 1 },
        { point: 60, from: 'ABNORMAL', to: 'ONLINE', n: 1 },
      ]);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('shows another tenant an empty floor with all five statuses and a flat hour', async () => {
    const r = await call('/v1/floor', 'admin', `${h.tenant}-other`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ total: 0, byStatus: counts({}), byBusinessLine: [], bySkillGroup: [] });
    expect(r.body.history.points).toHaveLength(61);
    for (const p of r.body.history.points) expect(p.byStatus).toEqual(counts({}));
    expect(Object.keys(r.body.byStatus).sort()).toEqual([...STATUSES].sort());
  });

  it("reads a tenant's floor at most every 2 s per gateway, however many consoles ask", async () => {
    const tenant = `${h.tenant}-cached`;
    const [first, second] = await Promise.all([
      call('/v1/floor', 'admin', tenant),
      call('/v1/floor', 'supervisor', tenant),
    ]);
    expect(second.body).toEqual(first.body);
    await h.pool.query(`INSERT INTO agents (tenant, agent_id) VALUES ($1, 'c1')`, [tenant]);
    await h.pool.query(
      `INSERT INTO status_table (tenant, agent_id, status, status_code, cause, actor, since)
       VALUES ($1, 'c1', 'BUSY', 1002, 'INITIAL', 'system:vigil', now())`,
      [tenant],
    );
    expect((await call('/v1/floor', 'admin', tenant)).body).toEqual(first.body);
    await new Promise((r) => setTimeout(r, 2100));
    const fresh = await call('/v1/floor', 'admin', tenant);
    expect(fresh.body).toMatchObject({ total: 1, byStatus: counts({ BUSY: 1 }) });
    expect(Date.parse(fresh.body.at)).toBeGreaterThan(Date.parse(first.body.at));
  });

  it('lets supervisors and admins read the floor, and answers others and unknown parameters in the error shape', async () => {
    for (const role of ['agent', 'service'] as Role[])
      expect(await call('/v1/floor', role)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect((await app.inject({ url: '/v1/floor' })).statusCode).toBe(401);
    expect(await call('/v1/floor?window=2h', 'admin')).toMatchObject({
      status: 400,
      body: { code: 'BAD_REQUEST', message: 'querystring/window: unknown field' },
    });
  });

  it("tells the console who is calling, the Temporal namespace and where Temporal's Web UI is", async () => {
    for (const role of ['agent', 'supervisor', 'admin', 'service'] as Role[]) {
      expect(await call('/v1/console/config', role, h.tenant, `${role}-7`)).toEqual({
        status: 200,
        body: {
          tenant: h.tenant,
          sub: `${role}-7`,
          role,
          namespace: 'default',
          temporalUiUrl: 'https://temporal.example.com/ui',
        },
      });
    }
    expect((await app.inject({ url: '/v1/console/config' })).statusCode).toBe(401);
    // Without a setting, the config loader's default: the dev server's Web UI on localhost.
    const plain = gateway();
    try {
      const r = await call('/v1/console/config', 'supervisor', h.tenant, 'sup', plain);
      expect(r.body.temporalUiUrl).toBe('http://localhost:8233');
    } finally {
      await plain.close();
    }
  });
});
