// Admin HTTP routes of PROTOCOL.md through the real gateway app (inject), real Postgres and Temporal.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../platform/auth.ts';
import type { Role } from '../../platform/auth.ts';
import { buildGateway } from '../../gateway/server.ts';
import { agentWorkflowId, eventsSignal } from '../../workflows/contract.ts';
import { createHarness, eventually, setRule, type Harness } from '../harness.ts';
import { deliver, ev, live, waitForStatus } from './agent-helpers.ts';

const SECRET = 'admin-test-secret-0123456789abcdef';

describe('admin HTTP routes', () => {
  let h: Harness;
  let app: FastifyInstance;
  const tokens = new Map<string, string>();
  const token = async (role: Role, tenant = h.tenant, sub = `${role}-1`) => {
    const k = `${role}/${tenant}/${sub}`;
    if (!tokens.has(k)) tokens.set(k, await signToken(SECRET, { tenant, role, sub }));
    return tokens.get(k)!;
  };
  const call = async (method: 'GET' | 'PUT', url: string, role: Role | undefined, body?: unknown, tenant?: string) => {
    const headers: Record<string, string> = role ? { authorization: `Bearer ${await token(role, tenant)}` } : {};
    const res = await app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: res.statusCode, body: res.json() };
  };

  beforeAll(async () => {
    h = await createHarness('admin');
    await h.startWorker();
    app = buildGateway({ pool: h.pool, temporal: h.client, namespace: 'default', taskQueue: h.taskQueue, jwtSecret: SECRET });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('lets only the documented roles in, and answers others with 401/403 in the error shape', async () => {
    const routes: [method: 'GET' | 'PUT', url: string, allowed: Role[], body?: unknown][] = [
      ['GET', '/v1/agents', ['supervisor', 'admin', 'service']],
      ['PUT', '/v1/agents/roles-a', ['admin'], { displayName: 'A' }],
      ['PUT', '/v1/rules/roles-r', ['admin'], { scope: { businessLine: 'nobody' } }],
      ['GET', '/v1/rules', ['admin', 'supervisor']],
      ['GET', '/v1/agents/roles-a/timeline', ['supervisor', 'admin']],
    ];
    for (const [method, url, allowed, body] of routes) {
      expect(await call(method, url, undefined, body)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
      for (const role of ['agent', 'supervisor', 'admin', 'service'] as Role[]) {
        const r = await call(method, url, role, body);
        if (allowed.includes(role)) expect([200, 201], `${role} ${method} ${url}: ${JSON.stringify(r.body)}`).toContain(r.status);
        else expect(r, `${role} ${method} ${url}`).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: expect.any(String) } });
      }
    }
  });

  it('creates and updates agents, keeping fields an update leaves out', async () => {
    const created = await call('PUT', '/v1/agents/alice', 'admin', { displayName: 'Alice', businessLine: 'sales', skillGroups: ['sg-en'] });
    expect(created).toMatchObject({ status: 200, body: { agentId: 'alice', tenant: h.tenant, displayName: 'Alice', businessLine: 'sales', skillGroups: ['sg-en'] } });
    const updated = await call('PUT', '/v1/agents/alice', 'admin', { skillGroups: ['sg-en', 'sg-vip'] });
    expect(updated.body).toMatchObject({ displayName: 'Alice', businessLine: 'sales', skillGroups: ['sg-en', 'sg-vip'] });
    const list = await call('GET', '/v1/agents?skillGroup=sg-vip', 'supervisor');
    expect(list.body.agents).toEqual([expect.objectContaining({
      agentId: 'alice', status: 'ONLINE', statusCode: 1000, cause: 'INITIAL', taskCount: 0, skillGroups: ['sg-en', 'sg-vip'],
      onApp: false, devices: [], lastActionAt: null, version: 0,
    })]);
  });

  it('rejects bad agent input with a 400 naming the field and writes nothing', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/v1/agents/bob', { skillGroups: { en: true } }, /skillGroups/],
      ['/v1/agents/bob', { skillGroups: [''] }, /skillGroups/],
      ['/v1/agents/bob', { displayName: 'Bob', region: 'eu' }, /region/],
      ['/v1/agents/bob', { displayName: { first: 'Bob' } }, /displayName/],
      ['/v1/agents/bad%20id', { displayName: 'x' }, /agentId/],
    ];
    for (const [url, body, field] of cases) {
      const r = await call('PUT', url, 'admin', body);
      expect(r, JSON.stringify(body)).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) } });
    }
    const bad = await app.inject({ method: 'PUT', url: '/v1/agents/bob', headers: { authorization: `Bearer ${await token('admin')}`, 'content-type': 'application/json' }, payload: '{"displayName":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'BAD_REQUEST' });
    const { rowCount } = await h.pool.query('SELECT 1 FROM agents WHERE tenant = $1 AND agent_id IN ($2, $3)', [h.tenant, 'bob', 'bad id']);
    expect(rowCount).toBe(0);
  });

  it('lists the tenant\'s agents by status and skill group with a stable cursor', async () => {
    for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) await call('PUT', `/v1/agents/${id}`, 'admin', { skillGroups: ['sg-page'] });
    await h.pool.query(`UPDATE status_table SET status = 'BUSY', status_code = 1002 WHERE tenant = $1 AND agent_id IN ('p2', 'p4')`, [h.tenant]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await call('GET', `/v1/agents?skillGroup=sg-page&limit=2${cursor ? `&cursor=${cursor}` : ''}`, 'service');
      expect(r.status).toBe(200);
      expect(r.body.agents.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.agents.map((a: { agentId: string }) => a.agentId));
      // An agent created behind the cursor mid-walk neither shifts nor repeats the pages.
      if (pages === 0) await call('PUT', '/v1/agents/p0', 'admin', { skillGroups: ['sg-page'] });
      cursor = r.body.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(pages).toBe(3);

    const busy = await call('GET', '/v1/agents?status=BUSY&skillGroup=sg-page', 'supervisor');
    expect(busy.body).toEqual({ agents: [expect.objectContaining({ agentId: 'p2', status: 'BUSY' }), expect.objectContaining({ agentId: 'p4', status: 'BUSY' })], next: null });

    const other = await call('GET', '/v1/agents?skillGroup=sg-page', 'admin', undefined, `${h.tenant}-other`);
    expect(other.body).toEqual({ agents: [], next: null });
  });

  it('rejects bad list queries with a 400 naming the parameter', async () => {
    for (const [q, field] of [['limit=0', /limit/], ['limit=abc', /limit/], ['limit=501', /limit/], ['status=SLEEPY', /status/],
      ['cursor=%25%25', /cursor/], ['cursor=a', /cursor/], ['colour=red', /colour/]] as const) {
      const r = await call('GET', `/v1/agents?${q}`, 'admin');
      expect(r, q).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) } });
    }
  });

  it('upserts rules with versions, lists them, and HCM applies the most specific one', async () => {
    const body = {
      scope: { skillGroups: ['sg-rules'] },
      windows: { idleAfterNoTaskSec: 40, remindAfterNoActionSec: 300, abnormalAfterNoActionSec: 400, offlineAfterAbnormalSec: 500 },
      reminderLockSec: 600, offlineRecovery: 'onActivity', enabled: true,
    };
    const v1 = await call('PUT', '/v1/rules/sg-rule', 'admin', body);
    expect(v1).toMatchObject({ status: 201, body: { ruleId: 'sg-rule', version: 1, tenant: h.tenant, scope: { skillGroups: ['sg-rules'] }, windows: body.windows, offlineRecovery: 'onActivity', enabled: true } });
    const v2 = await call('PUT', '/v1/rules/sg-rule', 'admin', { ...body, windows: { ...body.windows, idleAfterNoTaskSec: 45 } });
    expect(v2).toMatchObject({ status: 200, body: { version: 2, windows: { idleAfterNoTaskSec: 45 } } });
    await call('PUT', '/v1/rules/tenant-wide', 'admin', {});

    const rules = await call('GET', '/v1/rules', 'supervisor');
    expect(rules.body.rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ ruleId: 'sg-rule', version: 2 }),
      expect.objectContaining({ ruleId: 'tenant-wide', version: 1, scope: {} }),
    ]));
    const foreign = await call('GET', '/v1/rules', 'admin', undefined, `${h.tenant}-other`);
    expect(foreign.body).toEqual({ rules: [] });

    await call('PUT', '/v1/agents/ruled', 'admin', { skillGroups: ['sg-rules'] });
    await deliver(h, 'ruled', { events: [ev(101)] });
    const s = await eventually(async () => { const st = await live(h, 'ruled'); return st.runInputs > 0 ? st : undefined; });
    expect(s.rule).toEqual({ ruleId: 'sg-rule', version: 2 });
  });

  it('rejects bad rules with a 400 naming the field and keeps the stored version', async () => {
    await call('PUT', '/v1/rules/strict', 'admin', { scope: { businessLine: 'nobody' } });
    const cases: [unknown, RegExp][] = [
      [{ windows: { idleAfterNoTaskSec: 0 } }, /idleAfterNoTaskSec/],
      [{ windows: { idleAfterNoTaskSec: 'soon' } }, /idleAfterNoTaskSec/],
      [{ windows: { idleAfterNoTask: 30 } }, /idleAfterNoTask/],
      [{ windows: { remindAfterNoActionSec: 700, abnormalAfterNoActionSec: 600 } }, /remindAfterNoActionSec/],
      [{ offlineRecovery: 'never' }, /offlineRecovery/],
      [{ scope: { skillGroups: [] } }, /skillGroups/],
      [{ scope: { team: 'x' } }, /team/],
      [{ enabled: 'yes' }, /enabled/],
      [{ reminderLockSec: -1 }, /reminderLockSec/],
    ];
    for (const [body, field] of cases) {
      const r = await call('PUT', '/v1/rules/strict', 'admin', body);
      expect(r, JSON.stringify(body)).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) } });
    }
    const rules = await call('GET', '/v1/rules', 'admin');
    expect(rules.body.rules.find((r: { ruleId: string }) => r.ruleId === 'strict')).toMatchObject({ version: 1 });
  });

  it('shows an agent\'s timeline newest first: events, candidates, commits and deliveries', async () => {
    const agent = 'timed';
    await call('PUT', `/v1/agents/${agent}`, 'admin', { skillGroups: ['sg-timeline'] });
    await setRule(h, 'timeline-fast', { scope: { skillGroups: ['sg-timeline'] }, windows: { idleAfterNoTaskSec: 1, remindAfterNoActionSec: 60, abnormalAfterNoActionSec: 60, offlineAfterAbnormalSec: 60 } });
    await deliver(h, agent, { events: [ev(101)] });
    await waitForStatus(h, agent, 'IDLE', 10_000);

    const r = await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor');
    expect(r.status).toBe(200);
    const tl = r.body.timeline as { at: string; source: string; kind: string; detail: string }[];
    expect(tl.map((e) => e.at)).toEqual([...tl.map((e) => e.at)].sort().reverse());
    expect(tl).toEqual(expect.arrayContaining([
      expect.objectContaining({ source: 'workflow', kind: 'events', detail: '1 events, 0 duplicates' }),
      expect.objectContaining({ source: 'workflow', kind: 'candidate', detail: 'ONLINE→IDLE NO_TASK' }),
      expect.objectContaining({ source: 'workflow', kind: 'commit' }),
      expect.objectContaining({ source: 'hcm', kind: 'commit', detail: expect.stringMatching(/^v1 ONLINE→IDLE NO_TASK by system:.*rule timeline-fast v1/) }),
      expect.objectContaining({ source: 'delivery', kind: 'delivery', detail: expect.stringMatching(/^feed status v1: /) }),
    ]));

    const limited = await call('GET', `/v1/agents/${agent}/timeline?limit=2`, 'admin');
    expect(limited.body.timeline).toEqual(tl.slice(0, 2));
    expect(await call('GET', `/v1/agents/${agent}/timeline?limit=0`, 'admin')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/limit/) } });
    expect(limited.body.partial).toBeUndefined();
    expect(await call('GET', '/v1/agents/nobody/timeline', 'admin')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor', undefined, `${h.tenant}-other`)).toMatchObject({ status: 404 });
  });

  it('still shows HCM\'s side of the timeline when no worker answers the workflow query', async () => {
    const agent = 'orphan';
    await call('PUT', `/v1/agents/${agent}`, 'admin', {});
    await h.pool.query(
      `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor, window_start, dedupe_key)
       VALUES ($1, $2, 1, 'ONLINE', 'BUSY', 'SUPERVISOR', 'supervisor:s1', now(), 'manual-1')`, [h.tenant, agent]);
    // Its workflow lives on a task queue no worker polls, so the state query cannot be answered.
    await h.client.workflow.signalWithStart('agentWorkflow', {
      workflowId: agentWorkflowId(h.tenant, agent), taskQueue: `${h.taskQueue}-unpolled`,
      args: [{ tenant: h.tenant, agentId: agent }], signal: eventsSignal, signalArgs: [{}],
    });
    const started = Date.now();
    const r = await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r).toMatchObject({ status: 200, body: { partial: 'workflow unavailable', timeline: [expect.objectContaining({ source: 'hcm', detail: expect.stringMatching(/^v1 ONLINE→BUSY SUPERVISOR/) })] } });
    await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).terminate('test done');
  });
});
