// The sweeper holds no lock across a Temporal call: while it forwards a dead gateway's leftovers
// over a slow path to Temporal, the dead gateway's devices reconnect elsewhere at once, the pool
// stays free, and a device that reconnected is not left reported gone by the slow disconnect.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { live } from './agent-helpers.ts';
import { helloClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';
import { temporalRelay } from './temporal-relay.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AGENTS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
const TABS = ['tab-0', 'tab-1', 'tab-2', 'tab-3'];

describe('sweeper without locks across Temporal calls', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  beforeAll(async () => {
    h = await createHarness('sweeplocks');
    await setRule(h, 'slow', {
      windows: {
        idleAfterNoTaskSec: 600,
        remindAfterNoActionSec: 600,
        abnormalAfterNoActionSec: 900,
        offlineAfterAbnormalSec: 600,
      },
      reconnectGraceSec: 120,
    });
    w = await h.startWorker();
    // Where devices reconnect; its own sweeps are rare here, so the slow sweeper below does the work.
    g = await startGateway(h, { leaseSec: 120 });
  });
  afterAll(async () => {
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  it('a reconnect during a slow sweep completes promptly, the pool is not exhausted, and the device ends connected', async () => {
    // A dead gateway: lease run out, 24 websocket devices of 6 agents, an urgent frame not yet signalled.
    const deadId = `dead-${randomUUID().slice(0, 8)}`;
    await h.pool.query(`INSERT INTO gateway_leases (gateway_id, expires_at) VALUES ($1, now() - interval '1 minute')`, [
      deadId,
    ]);
    for (const a of AGENTS) {
      await g.app.vigil.ensureAgent(h.tenant, a);
      for (const t of TABS) {
        await h.pool.query(
          `INSERT INTO device_sessions (tenant, agent_id, device_id, session_id, gateway_id) VALUES ($1, $2, $3, $4, $5)`,
          [h.tenant, a, t, randomUUID(), deadId],
        );
      }
    }
    const leftover = {
      reqId: randomUUID(),
      type: 2,
      ts: Date.now(),
      receivedAt: Date.now(),
      deviceId: 'tab-0',
      data: { status: 'BUSY' },
    };
    await h.pool.query('INSERT INTO intake_pending (tenant, agent_id, gateway_id, events) VALUES ($1, $2, $3, $4)', [
      h.tenant,
      'a0',
      deadId,
      JSON.stringify([leftover]),
    ]);

    // The sweeping gateway reaches Temporal over a path that holds every byte for a while.
    const relay = await temporalRelay(inject('temporalAddress'));
    const sweeperPool = createPool(inject('databaseUrl'), 4);
    const sweeper = await startGateway(
      h,
      { leaseSec: 120, temporalTimeoutMs: 6000 },
      { temporal: relay.client, pool: sweeperPool },
    );
    const clients: RawClient[] = [];
    try {
      relay.set('stall');
      const sweep = sweeper.app.vigil.presence.sweep();
      await sleep(500); // its first signal is hanging now

      // Every device reconnects to the other gateway at once: more hellos than that gateway has connections.
      const t0 = Date.now();
      const hellos = AGENTS.flatMap((a) => TABS.map((t) => helloClient(g, a, t)));
      clients.push(...(await Promise.all(hellos)));
      expect(Date.now() - t0).toBeLessThan(3000);
      const r0 = Date.now();
      const state = await fetch(`${g.http}/v1/agents/a0`, {
        headers: { authorization: `Bearer ${await g.token('a0')}` },
      });
      expect(state.status).toBe(200);
      expect(Date.now() - r0).toBeLessThan(1000);

      // The slow signals land (after the reconnects' connects), and the sweep ends.
      relay.set('open');
      await sweep;
      const { rows } = await h.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM device_sessions WHERE tenant = $1 AND gateway_id = $2',
        [h.tenant, g.app.vigil.gatewayId],
      );
      expect(rows[0]!.n).toBe(AGENTS.length * TABS.length);
      const pending = await h.pool.query('SELECT count(*)::int AS n FROM intake_pending WHERE gateway_id = $1', [
        deadId,
      ]);
      expect(pending.rows[0].n).toBe(0);
      await eventually(
        async () => (await live(h, 'a0')).timeline.some((t) => t.kind === 'events'),
        20_000,
        'the leftover frame in the workflow',
      );

      // Whatever order the slow disconnects landed in, every reconnected device ends connected.
      await eventually(
        async () => {
          for (const a of AGENTS) {
            const s = await live(h, a);
            if (!TABS.every((t) => s.devices[t]?.connected)) return false;
          }
          return true;
        },
        40_000,
        'every reconnected device connected in its workflow',
      );
    } finally {
      for (const c of clients) c.socket.close();
      await sweeper.close();
      await relay.close();
      await sweeperPool.end();
    }
  });
});
