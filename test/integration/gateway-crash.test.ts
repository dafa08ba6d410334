// The gateway as a real process: killed right after a receipt, and stopped gracefully (rolling restart).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, waitForPort } from '../../platform/ports.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { committedStatus, live, waitForStatus } from './agent-helpers.ts';
import { rawClient, SECRET, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';
import { signToken } from '../../platform/auth.ts';
import { startRelay } from '../relay.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every gateway process a test started: killed in afterAll even when the test failed half-way. */
const spawned: ChildProcess[] = [];

async function gatewayProcess(
  h: Harness,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; ws: string; exited: Promise<number | null> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      VIGIL_JWT_SECRET: SECRET,
      VIGIL_TASK_QUEUE: h.taskQueue,
      VIGIL_GATEWAY_LEASE_SEC: '1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  spawned.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitForPort('127.0.0.1', port, 30_000);
  return { child, ws: `ws://127.0.0.1:${port}/v1/ws`, exited };
}

describe('gateway process: crash and rolling restart', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  beforeAll(async () => {
    h = await createHarness('gwcrash');
    await setRule(h, 'slow', {
      windows: {
        idleAfterNoTaskSec: 600,
        remindAfterNoActionSec: 600,
        abnormalAfterNoActionSec: 900,
        offlineAfterAbnormalSec: 600,
      },
      reconnectGraceSec: 60,
    });
    w = await h.startWorker();
    // The surviving instance: its sweeper acts for the dead one.
    g = await startGateway(h, { leaseSec: 1 });
  });
  afterAll(async () => {
    for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  const hello = async (url: string, agent: string, deviceId: string): Promise<RawClient> => {
    const c = await rawClient(url);
    c.send({
      type: 'hello',
      token: await signToken(SECRET, { sub: agent, tenant: h.tenant, role: 'agent' }),
      deviceId,
    });
    await c.next('welcome');
    return c;
  };

  it('loses no accepted event when the gateway is killed right after the receipt', async () => {
    const agent = 'crash';
    // The gateway reaches Temporal through a relay we can cut: then an urgent event is accepted
    // (its facts and intake row committed) but cannot be signalled before the gateway dies.
    const relay = await startRelay(inject('temporalAddress'));
    const p = await gatewayProcess(h, { TEMPORAL_ADDRESS: relay.address });
    const c = await hello(p.ws, agent, 'tab-c');
    await eventually(async () => (await live(h, agent)).devices['tab-c']?.connected, 10_000, 'the device connect');
    // Pure activity: its receipt means its fact is committed, which is all a window needs.
    const click = { reqId: randomUUID(), type: 100, ts: Date.now() };
    const sent = Date.now();
    c.send({ type: 'events', events: [click] });
    expect(await c.next('receipt')).toMatchObject({ accepted: [click.reqId] });
    const { rows: facts } = await h.pool.query(
      'SELECT last_action_at FROM status_table WHERE tenant = $1 AND agent_id = $2',
      [h.tenant, agent],
    );
    expect(facts[0].last_action_at.getTime()).toBeGreaterThanOrEqual(sent - 5);
    await relay.cut();
    const busy = { reqId: randomUUID(), type: 2, ts: Date.now(), data: { status: 'BUSY' } };
    c.send({ type: 'events', events: [busy] });
    const receipt = await c.next('receipt', c.frames.length);
    expect(receipt).toMatchObject({ accepted: [busy.reqId] });
    await new Promise((r) => setTimeout(r, 300)); // its signal fails meanwhile (Temporal out of reach)
    p.child.kill('SIGKILL');
    await p.exited;
    expect(await committedStatus(h, agent)).toBe('ONLINE');
    // After the dead lease runs out, the sweeper forwards the event and declares the device gone.
    await waitForStatus(h, agent, 'BUSY', 15_000);
    await eventually(
      async () => (await live(h, agent)).devices['tab-c']?.connected === false,
      15_000,
      'the swept disconnect',
    );
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n FROM intake_pending WHERE tenant = $1 AND agent_id = $2',
      [h.tenant, agent],
    );
    expect(rows[0].n).toBe(0);
  });

  it('a rolling restart does not mark a reconnecting device gone; one that does not come back is', async () => {
    const p = await gatewayProcess(h, { VIGIL_DRAIN_GRACE_SEC: '3' });
    const stays = await hello(p.ws, 'roller', 'tab-r');
    const leaves = await hello(p.ws, 'leaver', 'tab-l');
    p.child.kill('SIGTERM');
    expect(await stays.closed).toBe(1012);
    expect(await leaves.closed).toBe(1012);
    expect(await p.exited).toBe(0);
    // The workbench reconnects to another instance within the grace; the other one never does.
    const again = await hello(g.ws, 'roller', 'tab-r');
    await eventually(
      async () => (await live(h, 'leaver')).devices['tab-l']?.connected === false,
      15_000,
      'the leaver to be swept',
    );
    const s = await live(h, 'roller');
    expect(s.devices['tab-r']?.connected).toBe(true);
    expect(s.timeline.some((t) => t.kind === 'device' && t.detail === 'tab-r disconnected')).toBe(false);
    again.socket.close();
  });
});
