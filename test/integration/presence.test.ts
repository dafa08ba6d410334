// Device liveness on real Temporal and real Postgres: websocket pings, last-seen per device,
// HTTP-only devices that expire, and a gateway whose own lease lapsed while its sockets stayed open.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AgentStateRow } from '../../db/agents.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { live, statusLog, waitForStatus } from './agent-helpers.ts';
import { helloClient, rawClient, startGateway, type TestGateway } from './gateway-helpers.ts';

// Windows long enough that a device gone after 2 s (+1 s grace) is off the app when ABNORMAL is due.
const RULE = {
  windows: {
    idleAfterNoTaskSec: 1,
    remindAfterNoActionSec: 6,
    abnormalAfterNoActionSec: 8,
    offlineAfterAbnormalSec: 60,
  },
  reconnectGraceSec: 1,
};
const TUNING = { leaseSec: 3, wsPingSec: 0.5, httpDeviceTimeoutSec: 2 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const event = (type: number) => ({ reqId: randomUUID(), type, ts: Date.now() });

describe('device liveness', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  beforeAll(async () => {
    h = await createHarness('presence');
    await setRule(h, 'liveness', RULE);
    w = await h.startWorker();
    g = await startGateway(h, TUNING);
  });
  afterAll(async () => {
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  async function sessions(agentId: string) {
    const { rows } = await h.pool.query<{ device_id: string; session_id: string; gateway_id: string; via: string }>(
      'SELECT device_id, session_id, gateway_id, via FROM device_sessions WHERE tenant = $1 AND agent_id = $2 ORDER BY device_id',
      [h.tenant, agentId],
    );
    return rows;
  }

  async function agentState(agentId: string): Promise<AgentStateRow> {
    const r = await fetch(`${g.http}/v1/agents/${agentId}`, {
      headers: { authorization: `Bearer ${await g.token(agentId)}` },
    });
    expect(r.status).toBe(200);
    return (await r.json()) as AgentStateRow;
  }

  async function post(agentId: string, deviceId: string, events: object[]) {
    const r = await fetch(`${g.http}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await g.token(agentId)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId, events }),
    });
    expect(r.status).toBe(200);
    return r.json();
  }

  const deviceEntries = async (agentId: string, deviceId: string) =>
    (await live(h, agentId)).timeline
      .filter((t) => t.kind === 'device' && t.detail.startsWith(`${deviceId} `))
      .map((t) => t.detail);

  it('counts an HTTP-only device while it posts and disconnects it once it stops, so NOT_ON_APP can fire', async () => {
    const agent = 'http-only';
    await post(agent, 'phone-1', [event(100)]);
    expect(await sessions(agent)).toEqual([
      expect.objectContaining({ device_id: 'phone-1', via: 'http', session_id: 'http:phone-1' }),
    ]);
    await eventually(
      async () => (await live(h, agent)).devices['phone-1']?.connected,
      10_000,
      'the HTTP device to count as connected',
    );
    expect(await agentState(agent)).toMatchObject({
      onApp: true,
      devices: ['phone-1'],
      deviceSessions: [{ deviceId: 'phone-1', via: 'http' }],
    });

    // It stops posting: 2 s later its row is gone and the workflow hears it left.
    await eventually(async () => (await sessions(agent)).length === 0, 10_000, 'the silent HTTP device to expire');
    await eventually(
      async () => (await deviceEntries(agent, 'phone-1')).includes('phone-1 disconnected'),
      10_000,
      'the disconnect in the workflow',
    );
    await eventually(
      async () => (await live(h, agent)).onApp === false,
      10_000,
      'the agent off the app after the grace',
    );
    await waitForStatus(h, agent, 'ABNORMAL', 15_000);
    expect((await statusLog(h, agent)).at(-1)).toMatchObject({ to_status: 'ABNORMAL', cause: 'NOT_ON_APP' });
    expect(await agentState(agent)).toMatchObject({ onApp: false, devices: [], deviceSessions: [], lastSeenAt: null });
  });

  it('keeps an HTTP-only device that keeps posting past the timeout', async () => {
    const agent = 'http-steady';
    for (let i = 0; i < 12; i++) {
      await post(agent, 'phone-2', [event(1)]);
      await sleep(300);
    }
    // Posts for almost twice the timeout: still there, connected exactly once.
    expect(await sessions(agent)).toEqual([expect.objectContaining({ device_id: 'phone-2', via: 'http' })]);
    expect(await deviceEntries(agent, 'phone-2')).toEqual(['phone-2 connected']);
  });

  it('shows when each device was last seen, advancing on heartbeats', async () => {
    const agent = 'heartbeats';
    const c = await helloClient(g, agent, 'tab-h');
    const first = await eventually(
      async () => {
        const s = await agentState(agent);
        return s.lastSeenAt !== null && s;
      },
      10_000,
      'a last-seen time',
    );
    expect(first).toMatchObject({
      onApp: true,
      devices: ['tab-h'],
      deviceSessions: [{ deviceId: 'tab-h', via: 'ws', lastSeenAt: first.lastSeenAt }],
    });
    for (let i = 0; i < 2; i++) {
      await sleep(1200);
      const before = (await agentState(agent)).lastSeenAt!;
      c.send({ type: 'events', events: [event(1)] });
      await c.next('receipt', c.frames.length);
      const after = await eventually(
        async () => {
          const s = await agentState(agent);
          return s.lastSeenAt! > before && s.lastSeenAt!;
        },
        10_000,
        'the heartbeat to advance lastSeenAt',
      );
      expect(Date.parse(after) - Date.parse(before)).toBeGreaterThanOrEqual(1000);
    }
    // The supervisors' list shows the same.
    const list = await fetch(`${g.http}/v1/agents?limit=500`, {
      headers: { authorization: `Bearer ${await g.token('boss', 'supervisor')}` },
    });
    const row = ((await list.json()).agents as AgentStateRow[]).find((a) => a.agentId === agent);
    expect(row).toMatchObject({ onApp: true, devices: ['tab-h'], deviceSessions: [{ deviceId: 'tab-h', via: 'ws' }] });
    expect(row!.lastSeenAt).toBe(row!.deviceSessions[0]!.lastSeenAt);
    c.socket.close();
  });

  it('terminates a socket that stops answering pings and disconnects its device', async () => {
    const agent = 'mute';
    const mute = await rawClient(g.ws, {}, { autoPong: false });
    mute.send({ type: 'hello', token: await g.token(agent), deviceId: 'tab-m' });
    await mute.next('welcome');
    const welcomedAt = Date.now();
    // Sends nothing either, but its client answers pings: it stays.
    const answers = await helloClient(g, 'answers', 'tab-a');
    const code = await Promise.race([mute.closed, sleep(8000).then(() => 'still open')]);
    expect(code).toBe(1006);
    expect(Date.now() - welcomedAt).toBeGreaterThanOrEqual(900); // two pings 0.5 s apart went unanswered
    await eventually(
      async () => (await deviceEntries(agent, 'tab-m')).includes('tab-m disconnected'),
      10_000,
      'the disconnect in the workflow',
    );
    expect(await sessions(agent)).toEqual([]);
    expect(answers.socket.readyState).toBe(WebSocket.OPEN);
    expect(await sessions('answers')).toHaveLength(1);
    answers.socket.close();
  });

  it('a gateway whose lease lapsed puts its sockets back, and their later close still disconnects', async () => {
    const agent = 'lapsed';
    const gatewayId = g.app.vigil.gatewayId;
    const expireLease = () =>
      h.pool.query(`UPDATE gateway_leases SET expires_at = now() - interval '1 second' WHERE gateway_id = $1`, [
        gatewayId,
      ]);
    const c = await helloClient(g, agent, 'tab-l');
    await eventually(async () => (await live(h, agent)).devices['tab-l']?.connected, 10_000, 'the device connected');

    // Its own sweeper never takes it over.
    await expireLease();
    await g.app.vigil.presence.sweep();
    expect(await sessions(agent)).toEqual([expect.objectContaining({ device_id: 'tab-l', gateway_id: gatewayId })]);
    expect(await deviceEntries(agent, 'tab-l')).toEqual(['tab-l connected']);

    // Another gateway's sweeper does, as if Postgres had been out of reach for longer than the lease.
    const other = await startGateway(h, TUNING);
    try {
      await eventually(
        async () => {
          await expireLease();
          await other.app.vigil.presence.sweep();
          return (await deviceEntries(agent, 'tab-l')).includes('tab-l disconnected');
        },
        15_000,
        'the other gateway to sweep the lapsed one',
      );
    } finally {
      await other.close();
    }
    // The lapsed gateway's next renewal notices: the row is back and the workflow counts the device again.
    await eventually(
      async () => (await sessions(agent)).some((r) => r.gateway_id === gatewayId),
      10_000,
      'the row to be put back',
    );
    await eventually(
      async () => (await live(h, agent)).devices['tab-l']?.connected,
      10_000,
      'the device connected again',
    );
    expect((await deviceEntries(agent, 'tab-l')).at(-1)).toBe('tab-l connected');
    await eventually(
      async () => {
        const s = await agentState(agent);
        return s.onApp && s.devices.join() === 'tab-l';
      },
      10_000,
      'GET /v1/agents/:id to show the device',
    );

    c.socket.close();
    await eventually(
      async () => (await live(h, agent)).devices['tab-l']?.connected === false,
      10_000,
      'the close to disconnect',
    );
    expect(await sessions(agent)).toEqual([]);
  });
});
