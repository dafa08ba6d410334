// Reconciliation of every lane on real Temporal, Postgres, gateway and dispatcher (README
// "Propagation", **Reconciliation**): the push lane re-pushes a status the workbench never acked
// (a bounded number of times), and a feed consumer that missed a change finds it by versions
// (docs/PROTOCOL.md "Reconciling a feed consumer").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createReconcileActivities } from '../../activities/reconcile.ts';
import { pushAckedVersion, reenqueueUnackedPushes } from '../../db/push.ts';
import { dispatchFeedOnce } from '../../workers/dispatcher.ts';
import { startDispatcher, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { PUSH_LANE } from '../../workers/lanes/push.ts';
import { setAgentStatus } from '../../workflows/client.ts';
import { reconcileWorkflow } from '../../workflows/reconcile.ts';
import type { Status } from '../../workflows/model.ts';
import { createHarness, eventually, type Harness, type RunningWorker } from '../harness.ts';
import { helloClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

describe('reconciliation of every lane', () => {
  let h: Harness;
  let g: TestGateway;
  let dispatcher: RunningDispatcher;
  let worker: RunningWorker;

  /** A supervisor's status change, committed by HCM through the agent's workflow. */
  const setStatus = async (agentId: string, status: Status) => {
    const r = await setAgentStatus(
      h.client,
      h.taskQueue,
      { tenant: h.tenant, agentId },
      { status, requestId: randomUUID(), actor: { kind: 'supervisor', id: 'sup' } },
    );
    expect(r.committed).toBe(true);
    return r.facts.version;
  };
  const pushesOf = (c: RawClient, version: number) =>
    c.frames.filter((f) => f.type === 'push' && (f.data as { version?: number }).version === version);
  /** Push reconciliation with no grace (the test does not wait 30 s), for this tenant's agents. */
  const reconcilePush = async (maxRepushes = 3) =>
    (await reenqueueUnackedPushes(h.pool, { lane: PUSH_LANE, graceSec: 0, maxRepushes, limit: 1000 }))
      .filter((r) => r.tenant === h.tenant)
      .map((r) => `${r.agentId}@${r.version}`);

  beforeAll(async () => {
    h = await createHarness('reconcile');
    worker = await h.startWorker({ pushReconcile: { graceSec: 0 } });
    // The push lane runs on its own; the feed lane is driven by the test (dispatchFeedOnce).
    dispatcher = await startDispatcher({
      pool: h.pool,
      databaseUrl: inject('databaseUrl'),
      refreshMs: 500,
      lanes: { feed: false, webhooks: false },
    });
    // Reconciliation alone: the connection's own redelivery (README "The gateway", push) waits longer than these tests.
    g = await startGateway(h, { pushAckTimeoutMs: 600_000 });
  });
  afterAll(async () => {
    await g?.close();
    await dispatcher?.stop();
    await worker?.stop();
    await h?.close();
  });

  it('re-pushes the current status to a workbench that never acked it, until it acks', async () => {
    const c = await helloClient(g, 'p1');
    const v = await setStatus('p1', 'BUSY');
    const first = await eventually(async () => pushesOf(c, v)[0], 10_000, 'the push of the change');
    expect(first).toMatchObject({ topic: 'status', data: { status: 'BUSY', version: v } });
    // The workbench got it but never acked (say, it crashed before it could).
    expect(await pushAckedVersion(h.pool, h.tenant, 'p1')).toBe(0);

    // The scheduled workflow's pass (run here directly) re-enqueues it: the same message comes again.
    const pass = await h.client.workflow.execute(reconcileWorkflow, {
      taskQueue: h.taskQueue,
      workflowId: `reconcile-${h.tenant}-1`,
      workflowExecutionTimeout: '1 minute',
    });
    expect(pass.pushed).toBeGreaterThanOrEqual(1);
    await eventually(async () => pushesOf(c, v).length >= 2, 10_000, 'the status pushed again');
    expect(pushesOf(c, v)[1]).toEqual(first);

    // Now it acks: recorded, and nothing more is owed.
    c.send({ type: 'ack', msgIds: [first.msgId, 'm-not-a-seq'] });
    await eventually(async () => (await pushAckedVersion(h.pool, h.tenant, 'p1')) === v, 5_000, 'the ack');
    expect(await reconcilePush()).not.toContain(`p1@${v}`);

    // A later change is owed again until acked; an ack of an older push never moves it back.
    const v2 = await setStatus('p1', 'ONLINE');
    const second = await eventually(async () => pushesOf(c, v2)[0], 10_000, 'the push of v2');
    c.send({ type: 'ack', msgIds: [first.msgId] });
    await new Promise((r) => setTimeout(r, 300));
    expect(await pushAckedVersion(h.pool, h.tenant, 'p1')).toBe(v);
    expect(await reconcilePush()).toContain(`p1@${v2}`);
    await eventually(async () => pushesOf(c, v2).length >= 2, 10_000, 'v2 pushed again');
    c.send({ type: 'ack', msgIds: [second.msgId] });
    await eventually(async () => (await pushAckedVersion(h.pool, h.tenant, 'p1')) === v2, 5_000, 'the ack of v2');
    c.socket.close();
  });

  it('re-pushes a version at most maxRepushes times to a workbench that never acks, and never without a websocket', async () => {
    const c = await helloClient(g, 'p2');
    const v = await setStatus('p2', 'BUSY');
    await eventually(async () => pushesOf(c, v)[0], 10_000, 'the push');
    for (let i = 1; i <= 2; i++) {
      expect(await reconcilePush(2)).toContain(`p2@${v}`);
      await eventually(async () => pushesOf(c, v).length === i + 1, 10_000, `re-push ${i}`);
    }
    expect(await reconcilePush(2)).not.toContain(`p2@${v}`);
    c.socket.close();

    // No websocket device: nobody to push to, nothing re-enqueued.
    await eventually(
      async () =>
        (await h.pool.query(`SELECT 1 FROM device_sessions WHERE tenant = $1 AND agent_id = 'p2'`, [h.tenant]))
          .rowCount === 0,
      10_000,
      'the session to end',
    );
    const v2 = await setStatus('p2', 'ONLINE');
    await eventually(
      async () =>
        (
          await h.pool.query(
            `SELECT 1 FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
              WHERE d.lane = 'push' AND d.state = 'done' AND o.tenant = $1 AND o.agent_id = 'p2' AND o.version = $2`,
            [h.tenant, v2],
          )
        ).rowCount === 1,
      10_000,
      'v2 through the push lane',
    );
    expect(await reconcilePush()).not.toContain(`p2@${v2}`);
    // The activity answers how many it re-enqueued (here: none of this tenant's).
    expect(await createReconcileActivities({ pool: h.pool, pushReconcile: { graceSec: 0 } }).reconcilePush()).toBe(0);
  });

  it('lets a feed consumer that missed a change find it by versions and re-read it', async () => {
    const svc = await g.token('wfm', 'service');
    const get = async (path: string) => {
      const r = await fetch(`${g.http}${path}`, { headers: { authorization: `Bearer ${svc}` } });
      expect(r.status, path).toBe(200);
      return r.json();
    };
    const drainFeed = async () => {
      while ((await dispatchFeedOnce(h.pool)) > 0);
    };
    // What the consumer holds: per agent, the version and status it last saw; and its feed cursor.
    const held = new Map<string, { version: number; status: string }>();
    let cursor = 0;
    const readFeed = async () => {
      for (;;) {
        const page = await get(`/v1/status-changes?after=${cursor}&limit=100`);
        for (const ch of page.changes)
          if ((held.get(ch.agentId)?.version ?? 0) < ch.version)
            held.set(ch.agentId, { version: ch.version, status: ch.to });
        cursor = page.next;
        if (page.changes.length < 100) return;
      }
    };
    /** The recipe: list versions, re-read every agent whose version is ahead of the one held. */
    const reconcile = async () => {
      const reread: string[] = [];
      let next: string | null = null;
      do {
        const page: { agents: { agentId: string; version: number }[]; next: string | null } = await get(
          `/v1/agents?fields=version&limit=2${next ? `&cursor=${next}` : ''}`,
        );
        for (const a of page.agents) {
          if (a.version <= (held.get(a.agentId)?.version ?? 0)) continue;
          const s = await get(`/v1/agents/${encodeURIComponent(a.agentId)}`);
          held.set(a.agentId, { version: s.version, status: s.status });
          reread.push(a.agentId);
        }
        next = page.next;
      } while (next);
      return reread;
    };

    for (const a of ['f1', 'f2', 'f3']) await setStatus(a, 'BUSY');
    await drainFeed();
    await readFeed();
    await reconcile(); // agents of the earlier tests, never in this consumer's view
    expect(await reconcile()).toEqual([]);
    const before = held.get('f1')!;

    // f1's next change never reaches the feed (its feed delivery dead-lettered); f3's does.
    const v = await setStatus('f1', 'ONLINE');
    await h.pool.query(
      `UPDATE outbox_deliveries d SET state = 'dead' FROM status_change_outbox o
        WHERE d.lane = 'feed' AND o.id = d.outbox_id AND o.tenant = $1 AND o.agent_id = 'f1' AND o.version = $2`,
      [h.tenant, v],
    );
    await setStatus('f3', 'ONLINE');
    await drainFeed();
    await readFeed();
    expect(held.get('f3')!.status).toBe('ONLINE');
    expect(held.get('f1')).toEqual(before); // missed

    // The versions list shows f1 ahead: re-read, and the consumer holds HCM's state again.
    const page = await get('/v1/agents?fields=version&limit=5000');
    expect(page.agents.find((a: { agentId: string }) => a.agentId === 'f1')).toEqual({ agentId: 'f1', version: v });
    expect(await reconcile()).toEqual(['f1']);
    expect(held.get('f1')).toEqual({ version: v, status: 'ONLINE' });
    expect(await reconcile()).toEqual([]);
  });
});
