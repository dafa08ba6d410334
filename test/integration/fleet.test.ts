// Fleet mode (README "Fleet mode") against the real stack: two dozen instances beat over websockets;
// some stop (MISSING → RECOVERING → FAILED through the recovery ladder, whose hooks answer on a local
// server), one comes back mid-recovery, some degrade by their metrics, one restarts (its sequence
// resets), one loses beats, two deregister. A person of the same tenant is not touched.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../platform/signed-post.ts';
import { EventType } from '../../workflows/model.ts';
import { createHarness, eventually, QUIET_WINDOWS, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { live } from './agent-helpers.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const HOOK_SECRET = 'fleet-hook-secret-0123456789';
const BEAT_MS = 1000;

interface Instance {
  id: string;
  c: RawClient;
  seq: number;
  beating: boolean;
  cpu: number;
  /** Added to seq at the next beat (a gap), or null to restart from 0. */
  jump?: number | null;
}

interface Call {
  step: string;
  agentId: string;
  incident: string;
  signed: boolean;
}

describe('fleet mode', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  let hooks: http.Server;
  const calls: Call[] = [];
  const fleet = new Map<string, Instance>();
  const timers: ReturnType<typeof setInterval>[] = [];
  const sockets: RawClient[] = [];

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    role: 'admin' | 'instance' = 'admin',
    sub = 'ops',
  ) => {
    const r = await fetch(`${gw.http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await gw.token(sub, role)}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const statusOf = async (id: string) =>
    (
      await h.pool.query<{ status: string; cause: string }>(
        'SELECT status, cause FROM status_table WHERE tenant = $1 AND agent_id = $2',
        [h.tenant, id],
      )
    ).rows[0];
  const logOf = async (id: string) =>
    (
      await h.pool.query<{ from_status: string; to_status: string; cause: string }>(
        'SELECT from_status, to_status, cause FROM unified_work_status_log WHERE tenant = $1 AND agent_id = $2 ORDER BY version',
        [h.tenant, id],
      )
    ).rows.map((r) => `${r.from_status}→${r.to_status} ${r.cause}`);

  const beat = (i: Instance) => {
    if (!i.beating) return;
    if (i.jump === null) i.seq = 0;
    else if (i.jump !== undefined) i.seq += i.jump;
    delete i.jump;
    i.seq += 1;
    i.c.send({
      type: 'events',
      events: [
        {
          reqId: `${i.id}-${i.seq}-${Date.now()}`,
          type: EventType.HEARTBEAT,
          ts: Date.now(),
          data: { seq: i.seq, metrics: { cpu: i.cpu, memory: 0.4, errorRate: 0.001, queueDepth: 3 } },
        },
      ],
    });
  };

  const start = async (id: string) => {
    const c = await rawClient(gw.ws);
    c.send({ type: 'hello', token: await gw.token(id, 'instance'), deviceId: `${id}-host`, modules: [] });
    await c.next('welcome');
    sockets.push(c);
    const i: Instance = { id, c, seq: 0, beating: true, cpu: 0.2 };
    fleet.set(id, i);
    beat(i);
    timers.push(setInterval(() => beat(i), BEAT_MS));
    return i;
  };

  beforeAll(async () => {
    hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { step: string; agentId: string; incident: string };
        const signed =
          req.headers['x-vigil-signature'] === signBody(HOOK_SECRET, String(req.headers['x-vigil-timestamp']), body);
        calls.push({ step: parsed.step, agentId: parsed.agentId, incident: parsed.incident, signed });
        // The replace hook is broken: every attempt fails.
        res.writeHead(parsed.step === 'replace' ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;

    h = await createHarness('fleet');
    await setRule(h, 'default', {
      windows: QUIET_WINDOWS,
      fleet: {
        heartbeatSec: BEAT_MS / 1000,
        missingAfterBeats: 2,
        limits: { cpu: 0.9, errorRate: 0.1 },
        ladder: [
          { step: 'restart', afterSec: 0 },
          { step: 'replace', afterSec: 2 },
          { step: 'alert', afterSec: 2 },
        ],
        stepTimeoutSec: 2,
        stepAttempts: 2,
      },
    });
    w = await h.startWorker();
    gw = await startGateway(h, {}, { webhookAllowPrivate: true });
    for (const step of ['restart', 'replace', 'alert']) {
      const r = await api('PUT', `/v1/fleet/hooks/${step}`, { url: hookUrl, secret: HOOK_SECRET });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  });

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.socket.close();
    await gw?.close();
    await w?.stop();
    await h?.close();
    hooks?.close();
  });

  it('decides two dozen instances: missing ones through the ladder, degraded, restarted, deregistered', async () => {
    // A person of the same tenant: fleet mode must leave them alone.
    const person = await rawClient(gw.ws);
    person.send({ type: 'hello', token: await gw.token('person-1'), deviceId: 'pc', modules: [] });
    await person.next('welcome');
    sockets.push(person);

    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, k) => `${prefix}-${k + 1}`);
    const healthy = ids('ok', 14);
    const stopped = ids('stop', 3);
    const all = [...healthy, ...stopped, 'back', 'hot', 'warm', 'reboot', 'lossy', 'bye-ws', 'bye-http'];
    expect(all).toHaveLength(24);
    for (const id of all) await start(id);
    await eventually(
      async () => (await api('GET', '/v1/fleet/health')).body.counts.HEALTHY === 24,
      20_000,
      '24 HEALTHY instances',
    );

    // What happens to them.
    for (const id of [...stopped, 'back']) fleet.get(id)!.beating = false;
    fleet.get('hot')!.cpu = 0.97;
    fleet.get('warm')!.cpu = 0.95;
    fleet.get('reboot')!.jump = null;
    fleet.get('lossy')!.jump = 4;
    const byeWs = fleet.get('bye-ws')!;
    byeWs.beating = false;
    byeWs.c.send({ type: 'deregister', reason: 'scaled in' });
    await byeWs.c.next('deregistered');
    expect(await byeWs.c.closed).toBe(1000);
    fleet.get('bye-http')!.beating = false;
    const http = await api(
      'POST',
      '/v1/fleet/instances/bye-http/deregister',
      { reason: 'drained' },
      'instance',
      'bye-http',
    );
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    expect(http.body.status).toBe('DEREGISTERED');
    // An instance may not deregister another, nor may a person deregister.
    expect((await api('POST', '/v1/fleet/instances/ok-1/deregister', {}, 'instance', 'ok-2')).status).toBe(403);
    expect((await api('POST', '/v1/fleet/instances/person-1/deregister', {})).status).toBe(409);

    // 'warm' cools down once DEGRADED; 'back' returns once its recovery began.
    await eventually(async () => (await statusOf('warm'))?.status === 'DEGRADED', 15_000, 'warm DEGRADED');
    fleet.get('warm')!.cpu = 0.3;
    await eventually(async () => (await statusOf('back'))?.status === 'RECOVERING', 15_000, 'back RECOVERING');
    fleet.get('back')!.beating = true;

    await eventually(
      async () => {
        const c = (await api('GET', '/v1/fleet/health')).body.counts;
        return c.HEALTHY === 18 && c.DEGRADED === 1 && c.FAILED === 3 && c.DEREGISTERED === 2 ? c : undefined;
      },
      30_000,
      'final fleet counts',
    );
    const health = (await api('GET', '/v1/fleet/health')).body;
    expect(health.counts).toEqual({ HEALTHY: 18, DEGRADED: 1, MISSING: 0, RECOVERING: 0, FAILED: 3, DEREGISTERED: 2 });
    const hot = health.unhealthy.find((u: { agentId: string }) => u.agentId === 'hot');
    expect(hot).toMatchObject({ status: 'DEGRADED', cause: 'METRICS', metrics: { cpu: 0.97 } });
    expect(hot.lastBeatAt).not.toBeNull();

    // The ladder: restart done, replace failed on both attempts, alert done, then FAILED.
    for (const id of stopped) {
      expect(await logOf(id)).toEqual([
        'HEALTHY→MISSING NO_HEARTBEAT',
        'MISSING→RECOVERING RECOVERY',
        'RECOVERING→FAILED RECOVERY_EXHAUSTED',
      ]);
      const steps = health.recoveries.filter((r: { agentId: string }) => r.agentId === id);
      expect(steps.map((r: { step: string; outcome: string }) => `${r.step} ${r.outcome}`).sort()).toEqual([
        'alert done',
        'replace failed',
        'restart done',
      ]);
      expect(calls.filter((c) => c.agentId === id).map((c) => c.step)).toEqual([
        'restart',
        'replace',
        'replace',
        'alert',
      ]);
    }
    expect(calls.every((c) => c.signed)).toBe(true);
    // The one that came back: its recovery was abandoned, and it is HEALTHY again.
    expect(await logOf('back')).toEqual([
      'HEALTHY→MISSING NO_HEARTBEAT',
      'MISSING→RECOVERING RECOVERY',
      'RECOVERING→HEALTHY HEARTBEAT_RESUMED',
    ]);
    expect(
      health.recoveries
        .filter((r: { agentId: string }) => r.agentId === 'back')
        .map((r: { step: string; outcome: string }) => `${r.step} ${r.outcome}`),
    ).toEqual(expect.arrayContaining(['restart done', 'replace abandoned']));
    expect(await logOf('warm')).toEqual(['HEALTHY→DEGRADED METRICS', 'DEGRADED→HEALTHY METRICS_OK']);

    // Sequence numbers: a restart and lost beats are in the timeline, and neither changes health.
    expect((await live(h, 'reboot')).timeline.some((e) => /restart: seq \d+ → 1/.test(e.detail))).toBe(true);
    expect((await live(h, 'lossy')).timeline.some((e) => /gap: 4 heartbeats lost/.test(e.detail))).toBe(true);
    expect(await logOf('reboot')).toEqual([]);

    // Deregistered: at once, and never MISSING after, though they stopped beating long ago.
    expect(await logOf('bye-ws')).toEqual(['HEALTHY→DEREGISTERED DEREGISTERED']);
    expect(await logOf('bye-http')).toEqual(['HEALTHY→DEREGISTERED DEREGISTERED']);

    // The person: still ONLINE, and the people's floor counts only them.
    expect(await statusOf('person-1')).toEqual({ status: 'ONLINE', cause: 'INITIAL' });
    const floor = (await api('GET', '/v1/floor')).body;
    expect(floor.total).toBe(1);
  });
});
