// Admin HTTP routes of docs/PROTOCOL.md through the real gateway app (inject), real Postgres and Temporal.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { migrate } from 'postgres-migrations';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signToken } from '../../platform/auth.ts';
import type { Role } from '../../platform/auth.ts';
import { recordEvents } from '../../db/intake.ts';
import { signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { STATUS_CODE, type Status } from '../../workflows/model.ts';
import { harnessGateway } from './gateway-helpers.ts';
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
    app = harnessGateway(h, SECRET);
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
      ['GET', '/v1/rules/roles-r/versions', ['admin', 'supervisor']],
      ['GET', '/v1/agents/roles-a/timeline', ['supervisor', 'admin']],
    ];
    for (const [method, url, allowed, body] of routes) {
      expect(await call(method, url, undefined, body)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
      for (const role of ['agent', 'supervisor', 'admin', 'service'] as Role[]) {
        const r = await call(method, url, role, body);
        if (allowed.includes(role))
          expect([200, 201], `${role} ${method} ${url}: ${JSON.stringify(r.body)}`).toContain(r.status);
        else
          expect(r, `${role} ${method} ${url}`).toMatchObject({
            status: 403,
            body: { code: 'FORBIDDEN', message: expect.any(String) },
          });
      }
    }
  });

  it('creates and updates agents, keeping fields an update leaves out', async () => {
    const created = await call('PUT', '/v1/agents/alice', 'admin', {
      displayName: 'Alice',
      businessLine: 'sales',
      skillGroups: ['sg-en'],
    });
    expect(created).toMatchObject({
      status: 200,
      body: { agentId: 'alice', tenant: h.tenant, displayName: 'Alice', businessLine: 'sales', skillGroups: ['sg-en'] },
    });
    const updated = await call('PUT', '/v1/agents/alice', 'admin', { skillGroups: ['sg-en', 'sg-vip'] });
    expect(updated.body).toMatchObject({
      displayName: 'Alice',
      businessLine: 'sales',
      skillGroups: ['sg-en', 'sg-vip'],
    });
    const list = await call('GET', '/v1/agents?skillGroup=sg-vip', 'supervisor');
    expect(list.body.agents).toEqual([
      expect.objectContaining({
        agentId: 'alice',
        status: 'ONLINE',
        statusCode: 1000,
        cause: 'INITIAL',
        taskCount: 0,
        skillGroups: ['sg-en', 'sg-vip'],
        onApp: false,
        devices: [],
        lastActionAt: null,
        version: 0,
      }),
    ]);
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
      expect(r, JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) },
      });
    }
    const bad = await app.inject({
      method: 'PUT',
      url: '/v1/agents/bob',
      headers: { authorization: `Bearer ${await token('admin')}`, 'content-type': 'application/json' },
      payload: '{"displayName":',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'BAD_REQUEST' });
    const { rowCount } = await h.pool.query('SELECT 1 FROM agents WHERE tenant = $1 AND agent_id IN ($2, $3)', [
      h.tenant,
      'bob',
      'bad id',
    ]);
    expect(rowCount).toBe(0);
  });

  it("lists the tenant's agents by status and skill group with a stable cursor", async () => {
    for (const id of ['p1', 'p2', 'p3', 'p4', 'p5'])
      await call('PUT', `/v1/agents/${id}`, 'admin', { skillGroups: ['sg-page'] });
    await h.pool.query(
      `UPDATE status_table SET status = 'BUSY', status_code = 1002 WHERE tenant = $1 AND agent_id IN ('p2', 'p4')`,
      [h.tenant],
    );

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await call(
        'GET',
        `/v1/agents?skillGroup=sg-page&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        'service',
      );
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
    expect(busy.body).toEqual({
      agents: [
        expect.objectContaining({ agentId: 'p2', status: 'BUSY' }),
        expect.objectContaining({ agentId: 'p4', status: 'BUSY' }),
      ],
      next: null,
    });

    const other = await call('GET', '/v1/agents?skillGroup=sg-page', 'admin', undefined, `${h.tenant}-other`);
    expect(other.body).toEqual({ agents: [], next: null });
  });

  it('searches by agent-id prefix or display-name part, filters by business line, and pages the result', async () => {
    const agents: [string, string, string][] = [
      ['srch-a1', 'Ann Lee', 'bl-s'],
      ['SRCH-a2', 'Bob', 'bl-s'],
      ['srch-a3', '50%_off Carol', 'bl-t'],
      ['x-srch', 'Dan', 'bl-s'],
      ['y-1', 'the srch-lead', 'bl-t'],
      ['z-pct', '50 percent', 'bl-s'],
    ];
    for (const [id, displayName, businessLine] of agents)
      await call('PUT', `/v1/agents/${id}`, 'admin', { displayName, businessLine });
    await call('PUT', '/v1/agents/srch-a1', 'admin', { skillGroups: ['sg-srch'] });
    await h.pool.query(
      `UPDATE status_table SET status = 'BUSY', status_code = 1002 WHERE tenant = $1 AND agent_id = 'y-1'`,
      [h.tenant],
    );
    const ids = async (query: string) => {
      const r = await call('GET', `/v1/agents?${query}`, 'supervisor');
      expect(r.status, query).toBe(200);
      return r.body.agents.map((a: { agentId: string }) => a.agentId);
    };
    // Ids by prefix whatever the case, display names by any part; ids in byte order.
    expect(await ids('q=srch-')).toEqual(['SRCH-a2', 'srch-a1', 'srch-a3', 'y-1']);
    expect(await ids('q=ANN')).toEqual(['srch-a1']);
    // % and _ are plain characters, not LIKE wildcards.
    expect(await ids('q=%25')).toEqual(['srch-a3']);
    expect(await ids('q=_')).toEqual(['srch-a3']);
    expect(await ids('q=50%25_')).toEqual(['srch-a3']);
    expect(await ids('businessLine=bl-t')).toEqual(['srch-a3', 'y-1']);
    expect(await ids('q=srch-&businessLine=bl-s')).toEqual(['SRCH-a2', 'srch-a1']);
    expect(await ids('q=srch-&status=BUSY')).toEqual(['y-1']);
    expect(await ids('q=srch-&skillGroup=sg-srch')).toEqual(['srch-a1']);
    expect(await ids('businessLine=bl-none')).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await call('GET', `/v1/agents?q=srch-&limit=1${cursor ? `&cursor=${cursor}` : ''}`, 'admin');
      seen.push(...r.body.agents.map((a: { agentId: string }) => a.agentId));
      cursor = r.body.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['SRCH-a2', 'srch-a1', 'srch-a3', 'y-1']);
    expect(pages).toBe(4);

    expect((await call('GET', '/v1/agents?q=srch-', 'admin', undefined, `${h.tenant}-other`)).body).toEqual({
      agents: [],
      next: null,
    });
  });

  it("estimates each listed agent's next deadline from HCM's facts with the engine's own windows", async () => {
    await setRule(h, 'deadlines', {
      scope: { businessLine: 'bl-dl' },
      windows: {
        idleAfterNoTaskSec: 40,
        remindAfterNoActionSec: 300,
        abnormalAfterNoActionSec: 400,
        offlineAfterAbnormalSec: 500,
      },
    });
    const T = Date.now() - 60_000;
    const at = (ms: number) => new Date(ms);
    const ids = ['dl-1', 'dl-2', 'dl-3', 'dl-4', 'dl-5', 'dl-6', 'dl-7', 'dl-8'];
    for (const id of ids) await call('PUT', `/v1/agents/${id}`, 'admin', { businessLine: 'bl-dl' });
    await call('PUT', '/v1/agents/dl-default', 'admin', { businessLine: 'bl-other-dl', displayName: 'dl default' });
    // Created long ago (the windows of a workflow count from its start until the agent acts).
    await h.pool.query(`UPDATE agents SET created_at = $2 WHERE tenant = $1 AND agent_id LIKE 'dl-%'`, [
      h.tenant,
      at(T - 3_600_000),
    ]);
    const state = (id: string, status: Status, fields: { lastActionAt?: number; lastReminderAt?: number } = {}) =>
      h.pool.query(
        `UPDATE status_table SET status = $3, status_code = $4, since = $5, last_action_at = $6, last_reminder_at = $7,
                prior_status = CASE WHEN $3 = 'ABNORMAL' THEN 'ONLINE' END
          WHERE tenant = $1 AND agent_id = $2`,
        [
          h.tenant,
          id,
          status,
          STATUS_CODE[status],
          at(T),
          fields.lastActionAt === undefined ? null : at(fields.lastActionAt),
          fields.lastReminderAt === undefined ? null : at(fields.lastReminderAt),
        ],
      );
    const task = (id: string, ticket: string, state: 'open' | 'closed', updatedAt: number) =>
      h.pool.query(
        `INSERT INTO tasks (tenant, agent_id, ticket_id, state, last_event_type, updated_at) VALUES ($1, $2, $3, $4, 3, $5)`,
        [h.tenant, id, ticket, state, at(updatedAt)],
      );
    await state('dl-1', 'ONLINE', { lastActionAt: T });
    await state('dl-2', 'ONLINE', { lastActionAt: T });
    await task('dl-2', 'old', 'closed', T - 100_000);
    await task('dl-2', 'last', 'closed', T + 5_000);
    await state('dl-3', 'ONLINE', { lastActionAt: T });
    await task('dl-3', 'busy', 'open', T);
    await state('dl-4', 'IDLE', { lastActionAt: T - 10_000 });
    await state('dl-5', 'IDLE', { lastActionAt: T - 10_000, lastReminderAt: T });
    await state('dl-6', 'ABNORMAL');
    await state('dl-7', 'OFFLINE');
    await state('dl-8', 'ONLINE');
    await task('dl-8', 'never-acted', 'open', T);
    await state('dl-default', 'ONLINE', { lastActionAt: T });

    const r = await call('GET', '/v1/agents?q=dl-', 'supervisor');
    expect(r.status).toBe(200);
    const next = Object.fromEntries(
      r.body.agents.map((a: { agentId: string; nextDeadline: unknown }) => [a.agentId, a.nextDeadline]),
    );
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(next).toEqual({
      // ONLINE, no task: IDLE counts from the later of `since` and the last task's close.
      'dl-1': { action: 'IDLE', at: iso(T + 40_000) },
      'dl-2': { action: 'IDLE', at: iso(T + 5_000 + 40_000) },
      // A task open: no IDLE; the reminder comes before ABNORMAL.
      'dl-3': { action: 'REMIND', at: iso(T + 300_000) },
      'dl-4': { action: 'REMIND', at: iso(T - 10_000 + 300_000) },
      // Reminded since the last action: ABNORMAL is next.
      'dl-5': { action: 'ABNORMAL', at: iso(T - 10_000 + 400_000) },
      'dl-6': { action: 'OFFLINE', at: iso(T + 500_000) },
      'dl-7': null,
      // Never acted: its windows count from its creation (HCM's closest fact to its workflow's start), long due.
      'dl-8': { action: 'REMIND', at: iso(T - 3_600_000 + 300_000) },
      // No rule covers it: the default windows (30 s to IDLE).
      'dl-default': { action: 'IDLE', at: iso(T + 30_000) },
    });
  });

  it("gives a running agent the same next deadline as its workflow's own state query", async () => {
    const agent = 'dl-live';
    await call('PUT', `/v1/agents/${agent}`, 'admin', { businessLine: 'bl-dl' });
    // A task open, so no IDLE window: the reminder counts from the last action in both.
    await deliver(h, agent, { events: [ev(3, { ticketId: 'T-live' })] });
    await eventually(async () => (await live(h, agent)).taskCount === 1);
    const [click] = await recordEvents(h.pool, h.tenant, agent, [ev(100)]);
    await signalAgent(h.client, h.taskQueue, { tenant: h.tenant, agentId: agent }, { events: [click!] });
    const s = await eventually(async () => {
      const st = await live(h, agent);
      return st.lastActionAt === click!.receivedAt ? st : undefined;
    });
    expect(s.next).toEqual({ action: 'REMIND', at: click!.receivedAt! + 300_000 });
    const r = await call('GET', `/v1/agents?q=${agent}`, 'supervisor');
    expect(r.body.agents).toEqual([
      expect.objectContaining({
        agentId: agent,
        nextDeadline: { action: s.next!.action, at: new Date(s.next!.at).toISOString() },
      }),
    ]);
  });

  it('rejects bad list queries with a 400 naming the parameter', async () => {
    for (const [q, field] of [
      ['limit=0', /limit/],
      ['limit=abc', /limit/],
      ['limit=501', /limit/],
      ['status=SLEEPY', /status/],
      ['cursor=%25%25', /cursor/],
      ['cursor=a', /cursor/],
      ['q=', /q/],
      [`q=${'x'.repeat(129)}`, /q/],
      ['businessLine=', /businessLine/],
      ['colour=red', /colour/],
      ['fields=all', /fields/],
      ['fields=version&limit=5001', /limit/],
    ] as const) {
      const r = await call('GET', `/v1/agents?${q}`, 'admin');
      expect(r, q).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) } });
    }
  });

  it('upserts rules with versions, lists them, and HCM applies the most specific one', async () => {
    const body = {
      scope: { skillGroups: ['sg-rules'] },
      windows: {
        idleAfterNoTaskSec: 40,
        remindAfterNoActionSec: 300,
        abnormalAfterNoActionSec: 400,
        offlineAfterAbnormalSec: 500,
      },
      reminderLockSec: 600,
      offlineRecovery: 'onActivity',
      enabled: true,
    };
    const v1 = await call('PUT', '/v1/rules/sg-rule', 'admin', body);
    expect(v1).toMatchObject({
      status: 201,
      body: {
        ruleId: 'sg-rule',
        version: 1,
        tenant: h.tenant,
        scope: { skillGroups: ['sg-rules'] },
        windows: body.windows,
        offlineRecovery: 'onActivity',
        enabled: true,
      },
    });
    const v2 = await call('PUT', '/v1/rules/sg-rule', 'admin', {
      ...body,
      windows: { ...body.windows, idleAfterNoTaskSec: 45 },
    });
    expect(v2).toMatchObject({ status: 200, body: { version: 2, windows: { idleAfterNoTaskSec: 45 } } });
    await call('PUT', '/v1/rules/tenant-wide', 'admin', {});

    const rules = await call('GET', '/v1/rules', 'supervisor');
    expect(rules.body.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ruleId: 'sg-rule', version: 2 }),
        expect.objectContaining({ ruleId: 'tenant-wide', version: 1, scope: {} }),
      ]),
    );
    const foreign = await call('GET', '/v1/rules', 'admin', undefined, `${h.tenant}-other`);
    expect(foreign.body).toEqual({ rules: [] });

    await call('PUT', '/v1/agents/ruled', 'admin', { skillGroups: ['sg-rules'] });
    await deliver(h, 'ruled', { events: [ev(101)] });
    const s = await eventually(async () => {
      const st = await live(h, 'ruled');
      return st.runInputs > 0 ? st : undefined;
    });
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
      expect(r, JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { code: 'BAD_REQUEST', message: expect.stringMatching(field) },
      });
    }
    const rules = await call('GET', '/v1/rules', 'admin');
    expect(rules.body.rules.find((r: { ruleId: string }) => r.ruleId === 'strict')).toMatchObject({ version: 1 });
  });

  it('keeps every version of a rule as it was written and lists them newest first', async () => {
    const windows = {
      idleAfterNoTaskSec: 50,
      remindAfterNoActionSec: 100,
      abnormalAfterNoActionSec: 200,
      offlineAfterAbnormalSec: 300,
    };
    const v1 = await call('PUT', '/v1/rules/versioned', 'admin', { scope: { businessLine: 'bl-v' }, windows });
    const v2 = await call('PUT', '/v1/rules/versioned', 'admin', {
      scope: { businessLine: 'bl-v', channels: ['chat'] },
      windows: { ...windows, idleAfterNoTaskSec: 55 },
      offlineRecovery: 'onActivity',
    });
    // Refused edits write no version.
    expect((await call('PUT', '/v1/rules/versioned', 'admin', { windows: { idleAfterNoTaskSec: 0 } })).status).toBe(
      400,
    );
    const v3 = await call('PUT', '/v1/rules/versioned', 'admin', { enabled: false });
    expect([v1.status, v2.status, v3.status]).toEqual([201, 200, 200]);

    const r = await call('GET', '/v1/rules/versioned/versions', 'supervisor');
    expect(r.status).toBe(200);
    // Each version is the rule as PUT answered it then (the RULE shape, without `reached`).
    const asWritten = (x: { body: Record<string, unknown> }) => {
      const { reached: _r, ...rule } = x.body;
      return rule;
    };
    expect(r.body).toEqual({ versions: [asWritten(v3), asWritten(v2), asWritten(v1)] });
    expect(r.body.versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(r.body.versions[2]).toMatchObject({ scope: { businessLine: 'bl-v' }, windows, offlineRecovery: 'manual' });
    // The newest version is the rule GET /v1/rules lists.
    const rules = await call('GET', '/v1/rules', 'admin');
    expect(rules.body.rules.find((x: { ruleId: string }) => x.ruleId === 'versioned')).toEqual(r.body.versions[0]);

    expect(await call('GET', '/v1/rules/never-written/versions', 'admin')).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND', message: 'no rule never-written' },
    });
    expect(await call('GET', '/v1/rules/versioned/versions', 'admin', undefined, `${h.tenant}-other`)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect(await call('GET', '/v1/rules/bad%20id/versions', 'admin')).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/ruleId/) },
    });
    expect(await call('GET', '/v1/rules/versioned/versions?limit=2', 'admin')).toMatchObject({
      status: 400,
      body: { message: 'querystring/limit: unknown field' },
    });
  });

  it('migration 8 starts the history of rules that existed before it with their current version', async () => {
    // A fresh database migrated up to 7, a rule at version 2, then the real migrations.
    const db = `vigil_m8_${Date.now()}`;
    await h.pool.query(`CREATE DATABASE ${db}`);
    const url = new URL(inject('databaseUrl'));
    url.pathname = `/${db}`;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-m7-'));
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const all = path.join(import.meta.dirname, '..', '..', 'db', 'migrations');
      for (const f of await fs.readdir(all))
        if (Number(f.split('_')[0]) <= 7) await fs.copyFile(path.join(all, f), path.join(dir, f));
      await migrate({ client }, dir, { logger: () => {} });
      await client.query(
        `INSERT INTO rules (tenant, rule_id, version, idle_after_no_task_sec, updated_at)
         VALUES ('t-m8', 'old', 2, 45, '2026-01-02T03:04:05Z')`,
      );
      await migrate({ client }, all, { logger: () => {} });
      const { rows } = await client.query(
        `SELECT rule_id, version, idle_after_no_task_sec, updated_at FROM rule_versions WHERE tenant = 't-m8'`,
      );
      expect(rows).toEqual([
        { rule_id: 'old', version: 2, idle_after_no_task_sec: 45, updated_at: new Date('2026-01-02T03:04:05Z') },
      ]);
    } finally {
      await client.end();
      await fs.rm(dir, { recursive: true, force: true });
      await h.pool.query(`DROP DATABASE ${db}`);
    }
  });

  it("shows an agent's timeline newest first: events, candidates, commits and deliveries", async () => {
    const agent = 'timed';
    await call('PUT', `/v1/agents/${agent}`, 'admin', { skillGroups: ['sg-timeline'] });
    await setRule(h, 'timeline-fast', {
      scope: { skillGroups: ['sg-timeline'] },
      windows: {
        idleAfterNoTaskSec: 1,
        remindAfterNoActionSec: 60,
        abnormalAfterNoActionSec: 60,
        offlineAfterAbnormalSec: 60,
      },
    });
    await deliver(h, agent, { events: [ev(101)] });
    await waitForStatus(h, agent, 'IDLE', 10_000);

    const r = await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor');
    expect(r.status).toBe(200);
    const tl = r.body.timeline as { at: string; source: string; kind: string; detail: string }[];
    expect(tl.map((e) => e.at)).toEqual([...tl.map((e) => e.at)].sort().reverse());
    expect(tl).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'workflow', kind: 'events', detail: '1 events, 0 duplicates' }),
        expect.objectContaining({ source: 'workflow', kind: 'candidate', detail: 'ONLINE→IDLE NO_TASK' }),
        expect.objectContaining({ source: 'workflow', kind: 'commit' }),
        expect.objectContaining({
          source: 'hcm',
          kind: 'commit',
          detail: expect.stringMatching(/^v1 ONLINE→IDLE NO_TASK by system:.*rule timeline-fast v1/),
        }),
        expect.objectContaining({
          source: 'delivery',
          kind: 'delivery',
          detail: expect.stringMatching(/^feed status v1: /),
        }),
      ]),
    );

    const limited = await call('GET', `/v1/agents/${agent}/timeline?limit=2`, 'admin');
    expect(limited.body.timeline).toEqual(tl.slice(0, 2));
    expect(await call('GET', `/v1/agents/${agent}/timeline?limit=0`, 'admin')).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/limit/) },
    });
    expect(limited.body.partial).toBeUndefined();
    expect(await call('GET', '/v1/agents/nobody/timeline', 'admin')).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect(
      await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor', undefined, `${h.tenant}-other`),
    ).toMatchObject({ status: 404 });
  });

  it("still shows HCM's side of the timeline when no worker answers the workflow query", async () => {
    const agent = 'orphan';
    await call('PUT', `/v1/agents/${agent}`, 'admin', {});
    await h.pool.query(
      `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor, window_start, dedupe_key)
       VALUES ($1, $2, 1, 'ONLINE', 'BUSY', 'SUPERVISOR', 'supervisor:s1', now(), 'manual-1')`,
      [h.tenant, agent],
    );
    // Its workflow lives on a task queue no worker polls, so the state query cannot be answered.
    await signalAgent(h.client, `${h.taskQueue}-unpolled`, { tenant: h.tenant, agentId: agent }, {});
    const started = Date.now();
    const r = await call('GET', `/v1/agents/${agent}/timeline`, 'supervisor');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r).toMatchObject({
      status: 200,
      body: {
        partial: 'workflow unavailable',
        timeline: [
          expect.objectContaining({ source: 'hcm', detail: expect.stringMatching(/^v1 ONLINE→BUSY SUPERVISOR/) }),
        ],
      },
    });
    await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).terminate('test done');
  });
});
