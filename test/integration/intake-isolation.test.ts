// One frame cannot fail its neighbours: frames of many agents and tenants share one intake
// transaction (group commit); a frame Postgres refuses is rejected alone, the others commit.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { createCore } from '../../gateway/core.ts';
import { freePort } from '../../platform/ports.ts';
import { createHarness, type Harness } from '../harness.ts';
import { helloClient, SECRET, startGateway, type TestGateway } from './gateway-helpers.ts';

const click = () => ({ reqId: randomUUID(), type: 100, ts: Date.now() });
const openTicket = (ticketId: string) => ({ reqId: randomUUID(), type: 3, ts: Date.now(), ticketId });

describe('intake isolation on real Postgres', () => {
  let h: Harness;
  let g: TestGateway;
  const constraint = `poison_${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    h = await createHarness('isolation');
    // A value Postgres refuses that the edge lets through: tickets of this test's tenants named poison-*.
    await h.pool.query(
      `ALTER TABLE tasks ADD CONSTRAINT ${constraint} CHECK (NOT (tenant LIKE '${h.tenant}%' AND ticket_id LIKE 'poison%'))`,
    );
    g = await startGateway(h);
  });
  afterAll(async () => {
    await g?.close();
    await h?.pool.query(`ALTER TABLE tasks DROP CONSTRAINT IF EXISTS ${constraint}`);
    await h?.close();
  });

  const stored = async (tenant: string, reqIds: string[]) => {
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n FROM event_dedupe WHERE tenant = $1 AND req_id = ANY($2::text[])',
      [tenant, reqIds],
    );
    return rows[0].n as number;
  };

  it('rejects only the poisoned frame among many concurrent frames of other agents and tenants', async () => {
    const core = g.app.vigil;
    const tenants = [h.tenant, `${h.tenant}-b`];
    const frames = Array.from({ length: 40 }, (_, i) => ({
      tenant: tenants[i % 2]!,
      agentId: `agent-${i}`,
      events: [click(), openTicket(`ok-${i}`)],
    }));
    const poisoned = { tenant: h.tenant, agentId: 'poisoned', events: [click(), openTicket('poison-1')] };
    frames.splice(20, 0, poisoned);
    const commits = core.writer.stats.commits;
    const receipts = await Promise.all(frames.map((f) => core.ingest(f.tenant, f.agentId, 'tab-1', f.events, 'ws')));
    // They did share transactions: far fewer commits than frames.
    expect(core.writer.stats.commits - commits).toBeLessThan(frames.length / 2);

    const bad = receipts[20]!;
    expect(bad.accepted).toEqual([]);
    expect(bad.retry).toBeUndefined();
    expect(bad.rejected).toEqual(
      poisoned.events.map((e) => ({
        reqId: e.reqId,
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/could not be stored/),
      })),
    );
    expect(
      await stored(
        h.tenant,
        poisoned.events.map((e) => e.reqId),
      ),
    ).toBe(0);

    for (const [i, r] of receipts.entries()) {
      if (i === 20) continue;
      expect(r).toEqual({
        type: 'receipt',
        accepted: frames[i]!.events.map((e) => e.reqId),
        duplicates: [],
        rejected: [],
      });
    }
    for (const t of tenants) {
      const mine = frames.filter((f, i) => i !== 20 && f.tenant === t);
      expect(
        await stored(
          t,
          mine.flatMap((f) => f.events.map((e) => e.reqId)),
        ),
      ).toBe(mine.length * 2);
      const { rows } = await h.pool.query(
        `SELECT count(*)::int AS n FROM tasks WHERE tenant = $1 AND ticket_id LIKE 'ok-%' AND state = 'open'`,
        [t],
      );
      expect(rows[0].n).toBe(mine.length);
    }

    // Sent again, it is refused again: a data error never turns into an endless retry.
    const again = await core.ingest(poisoned.tenant, poisoned.agentId, 'tab-1', poisoned.events, 'ws');
    expect(again.rejected.map((r) => r.code)).toEqual(['INVALID_INPUT', 'INVALID_INPUT']);
    expect(again.retry).toBeUndefined();
  });

  it('tells a websocket client which events were refused, and keeps the connection', async () => {
    const c = await helloClient(g, 'ws-poisoned');
    const events = [openTicket('poison-2')];
    c.send({ type: 'events', events });
    expect(await c.next('receipt')).toMatchObject({
      accepted: [],
      rejected: [{ reqId: events[0]!.reqId, code: 'INVALID_INPUT' }],
    });
    const fine = [click()];
    c.send({ type: 'events', events: fine });
    expect(await c.next('receipt', c.frames.length)).toMatchObject({ accepted: [fine[0]!.reqId], rejected: [] });
    c.socket.close();
  });

  it('answers retry for every frame when Postgres is out of reach', async () => {
    const down = createPool(`postgres://vigil@127.0.0.1:${await freePort()}/vigil`, 2);
    const core = createCore({
      pool: down,
      temporal: h.client,
      namespace: 'default',
      taskQueue: h.taskQueue,
      jwtSecret: SECRET,
    });
    try {
      const frames = Array.from({ length: 5 }, (_, i) => [click(), openTicket(`down-${i}`)]);
      const receipts = await Promise.all(
        frames.map((events, i) => core.ingest(h.tenant, `down-${i}`, 'tab-1', events, 'ws')),
      );
      for (const [i, r] of receipts.entries()) {
        expect(r).toMatchObject({ accepted: [], rejected: [], retry: frames[i]!.map((e) => e.reqId) });
      }
    } finally {
      await down.end();
    }
  });
});
