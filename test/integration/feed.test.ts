import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../platform/auth.ts';
import { dispatchFeedOnce } from '../../workers/dispatcher.ts';
import { harnessGateway } from './gateway-helpers.ts';
import { createHarness, type Harness } from '../harness.ts';

async function commitOutbox(c: { query: Harness['pool']['query'] }, h: Harness, agent: string, version: number) {
  await c.query(
    `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload)
     VALUES ($1, $2, 'status', $3, $4, $5)`,
    [
      h.tenant,
      agent,
      version,
      `k${version}`,
      JSON.stringify({ from: 'ONLINE', to: 'IDLE', cause: 'NO_TASK', actor: 'system:vigil' }),
    ],
  );
}

describe('status feed lane', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('feed');
  });
  afterAll(() => h?.close());

  it('does not skip a row whose transaction committed late, and lists each change once in commit order', async () => {
    const long = await h.pool.connect();
    await long.query('BEGIN');
    await commitOutbox(long, h, 'a-long', 1); // lower outbox id, commits last
    await commitOutbox(h.pool, h, 'a-short', 1);
    while ((await dispatchFeedOnce(h.pool)) > 0);
    await long.query('COMMIT');
    long.release();
    while ((await dispatchFeedOnce(h.pool)) > 0);
    while ((await dispatchFeedOnce(h.pool)) > 0);

    const { rows } = await h.pool.query(`SELECT agent_id FROM status_feed WHERE tenant = $1 ORDER BY seq`, [h.tenant]);
    expect(rows.map((r) => r.agent_id)).toEqual(['a-short', 'a-long']);

    const secret = 'feed-test-secret-0123456789';
    const app = harnessGateway(h, secret);
    const svc = await signToken(secret, { tenant: h.tenant, sub: 'wfm', role: 'service' });
    const res = await app.inject({
      url: '/v1/status-changes?after=0&limit=10',
      headers: { authorization: `Bearer ${svc}` },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.changes.map((c: { agentId: string }) => c.agentId)).toEqual(['a-short', 'a-long']);
    expect(body.next).toBe(body.changes[1].seq);
    // Supervisors read it too (the operator console's live updates); agents do not.
    const sup = await signToken(secret, { tenant: h.tenant, sub: 'sup', role: 'supervisor' });
    const bySupervisor = await app.inject({
      url: '/v1/status-changes?after=0&limit=10',
      headers: { authorization: `Bearer ${sup}` },
    });
    expect(bySupervisor.statusCode).toBe(200);
    expect(bySupervisor.json()).toEqual(body);
    const agentToken = await signToken(secret, { tenant: h.tenant, sub: 'a1', role: 'agent' });
    const denied = await app.inject({ url: '/v1/status-changes', headers: { authorization: `Bearer ${agentToken}` } });
    expect(denied.statusCode).toBe(403);
    const bad = await app.inject({ url: '/v1/status-changes?limit=abc', headers: { authorization: `Bearer ${svc}` } });
    expect(bad.statusCode).toBe(400);
    await app.close();
  });
});
