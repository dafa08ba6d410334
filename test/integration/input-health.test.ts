// Input health and degrade (README "Input health and degrade") against the real stack: a simulated
// upstream outage for one business line holds its windows of absence while the other line's silent
// agent goes ABNORMAL on time; after recovery the truly silent agent goes ABNORMAL (with the `since`
// its window closed at) and the one who was working all along does not. Then an operator forces
// degrade on a line and gives it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../workflows/model.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { live } from './agent-helpers.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const OUT = 'line-out';
const OK = 'line-ok';
/** Windows and thresholds short enough for a test, in the proportions of the defaults. */
const ABNORMAL_SEC = 7;
const GRACE_SEC = 2;

interface Commit {
  agent_id: string;
  to_status: string;
  since: Date;
  committed_at: Date;
}

describe('input health and degrade', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  const sockets: RawClient[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  /** Agents whose workbench sends actions now (the outage stops one of them). */
  const acting = new Set<string>();
  let n = 0;

  const admin = async () => `Bearer ${await gw.token('ops', 'admin')}`;
  const api = async (method: string, path: string, body?: unknown, auth?: string) => {
    const r = await fetch(`${gw.http}${path}`, {
      method,
      headers: { authorization: auth ?? (await admin()), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const send = (c: RawClient, type: number) =>
    c.send({ type: 'events', events: [{ reqId: `e-${++n}`, type, ts: Date.now() }] });

  /** A workbench: heartbeats all along, an action now, and more while the agent is in `acting`. */
  const workbench = async (agentId: string, businessLine: string) => {
    expect((await api('PUT', `/v1/agents/${agentId}`, { businessLine })).status).toBe(200);
    const c = await rawClient(gw.ws);
    c.send({ type: 'hello', token: await gw.token(agentId), deviceId: `${agentId}-pc`, modules: [] });
    await c.next('welcome');
    sockets.push(c);
    send(c, EventType.CLICK);
    timers.push(setInterval(() => send(c, EventType.HEARTBEAT), 500));
    timers.push(setInterval(() => acting.has(agentId) && send(c, EventType.KEY), 200));
  };

  const commits = async (agentId: string): Promise<Commit[]> =>
    (
      await h.pool.query<Commit>(
        `SELECT l.agent_id, l.to_status, s.since, l.committed_at
           FROM unified_work_status_log l JOIN status_table s USING (tenant, agent_id)
          WHERE l.tenant = $1 AND l.agent_id = $2 ORDER BY l.version`,
        [h.tenant, agentId],
      )
    ).rows;
  const abnormal = async (agentId: string) => (await commits(agentId)).find((c) => c.to_status === 'ABNORMAL');
  const scope = async (line: string) =>
    (await api('GET', '/v1/health/input')).body.scopes.find((s: { businessLine: string }) => s.businessLine === line);

  beforeAll(async () => {
    h = await createHarness('inputhealth');
    await setRule(h, 'default', {
      windows: {
        idleAfterNoTaskSec: 3600,
        remindAfterNoActionSec: ABNORMAL_SEC - 1,
        abnormalAfterNoActionSec: ABNORMAL_SEC,
        offlineAfterAbnormalSec: 3600,
      },
      inputHealth: {
        minConnected: 1,
        minBaselineActions: 3,
        baselineSec: 4,
        dropRatio: 0.2,
        recoverRatio: 0.5,
        connectedRatio: 0.5,
        holdRecheckSec: 1,
        recoveryGraceSec: GRACE_SEC,
      },
    });
    w = await h.startWorker();
    gw = await startGateway(h, { inputFlushMs: 200, inputEvalMs: 300, inputWindowSec: 2 });
  });

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.socket.close();
    await gw?.close();
    await w?.stop();
    await h?.close();
  });

  it("holds one line's windows through its outage, and after recovery marks only the truly silent agent", async () => {
    acting.add('out-busy').add('ok-busy');
    await workbench('out-busy', OUT);
    await workbench('out-quiet', OUT);
    await workbench('ok-busy', OK);
    await workbench('ok-quiet', OK);
    const t0 = Date.now();

    // Both lines learn their baseline, then the upstream of line-out stops delivering actions
    // (its workbenches stay connected and keep their heartbeats).
    await eventually(async () => (await scope(OUT))?.baselineActions >= 3, 15_000, 'a baseline for line-out');
    acting.delete('out-busy');
    const cut = Date.now();
    const degraded = await eventually(
      async () => {
        const s = await scope(OUT);
        return s?.state === 'degraded' ? s : undefined;
      },
      10_000,
      'line-out degraded',
    );
    expect(degraded).toMatchObject({ holding: true, reason: 'RATE_DROP' });
    expect((await scope(OK)).state).toBe('healthy');
    const metrics = await (await fetch(`${gw.http}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`vigil_input_degraded\\{tenant="${h.tenant}",business_line="${OUT}",reason="RATE_DROP"\\} 1`),
    );

    // The healthy line's silent agent goes ABNORMAL on time; line-out's silent agents are held.
    const okQuiet = await eventually(() => abnormal('ok-quiet'), 20_000, 'ok-quiet ABNORMAL');
    expect(okQuiet.committed_at.getTime() - t0).toBeLessThan((ABNORMAL_SEC + 3) * 1000);
    await eventually(
      async () => (await live(h, 'out-quiet')).timeline.some((e) => e.kind === 'held'),
      20_000,
      'out-quiet held',
    );
    // Past out-busy's own window too (its last action was at the cut): still held, nobody marked.
    await eventually(
      async () => (await live(h, 'out-busy')).timeline.some((e) => e.kind === 'held'),
      (ABNORMAL_SEC + 5) * 1000,
      'out-busy held',
    );
    // (Its last action was at most one 200 ms tick before the cut.)
    expect(Date.now() - cut).toBeGreaterThanOrEqual(ABNORMAL_SEC * 1000 - 250);
    expect(await abnormal('out-quiet')).toBeUndefined();
    expect(await abnormal('out-busy')).toBeUndefined();
    const during = (await api('GET', '/v1/health/input')).body;
    expect(
      during.held
        .filter((x: { resolvedAt: unknown }) => x.resolvedAt === null)
        .map((x: { agentId: string }) => x.agentId)
        .sort(),
    ).toEqual(['out-busy', 'out-quiet']);

    // The upstream comes back: out-busy's actions arrive again.
    acting.add('out-busy');
    await eventually(async () => (await scope(OUT))?.state !== 'degraded', 10_000, 'line-out recovered');
    const quiet = await eventually(() => abnormal('out-quiet'), 20_000, 'out-quiet ABNORMAL after recovery');
    const recoveredAt = Date.parse((await scope(OUT)).recoveredAt);
    expect(quiet.committed_at.getTime()).toBeGreaterThanOrEqual(recoveredAt + GRACE_SEC * 1000 - 50);
    // Its status begins when its window closed (its last action + the window), not at the commit.
    expect(quiet.since.getTime()).toBeLessThan(quiet.committed_at.getTime() - 3000);
    expect(Math.abs(quiet.since.getTime() - (t0 + ABNORMAL_SEC * 1000))).toBeLessThan(2000);
    // The agent who kept working is not marked, and its hold ended as released.
    await eventually(
      async () =>
        (
          await h.pool.query(
            `SELECT outcome FROM held_candidates WHERE tenant = $1 AND agent_id = 'out-busy' AND outcome = 'released'`,
            [h.tenant],
          )
        ).rowCount === 1,
      15_000,
      "out-busy's hold released",
    );
    expect(await abnormal('out-busy')).toBeUndefined();
    const after = (await api('GET', '/v1/health/input')).body;
    expect(after.log.map((l: { businessLine: string; change: string }) => `${l.businessLine} ${l.change}`)).toEqual(
      expect.arrayContaining([`${OUT} degraded`, `${OUT} recovered`]),
    );
    expect(after.held.find((x: { agentId: string }) => x.agentId === 'out-quiet')).toMatchObject({
      outcome: 'committed',
      to: 'ABNORMAL',
    });
  });

  it('lets an admin force degrade on a line and give it back, logged with actor and reason', async () => {
    // Only an admin may.
    const agent = `Bearer ${await gw.token('ok-busy', 'agent')}`;
    expect(
      (await api('PUT', '/v1/health/input/degrade', { businessLine: OK, mode: 'on', reason: 'x' }, agent)).status,
    ).toBe(403);
    expect(
      (await api('PUT', '/v1/health/input/degrade', { businessLine: OK, mode: 'maybe', reason: 'x' })).status,
    ).toBe(400);

    const forced = await api('PUT', '/v1/health/input/degrade', {
      businessLine: OK,
      mode: 'on',
      reason: 'upstream cutover drill',
    });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ businessLine: OK, state: 'forced on', holding: true, forcedBy: 'admin:ops' });

    // A new silent agent of the forced line is held past its window…
    await workbench('ok-late', OK);
    const joined = Date.now();
    await eventually(
      async () => (await live(h, 'ok-late')).timeline.some((e) => e.kind === 'held' && e.detail.includes('FORCED')),
      (ABNORMAL_SEC + 8) * 1000,
      'ok-late held',
    );
    expect(await abnormal('ok-late')).toBeUndefined();

    // …and goes ABNORMAL once the line is given back to the evaluator (after the grace).
    const back = await api('PUT', '/v1/health/input/degrade', { businessLine: OK, mode: 'auto', reason: 'drill over' });
    expect(back.body).toMatchObject({ state: 'recovering', holding: true });
    const late = await eventually(() => abnormal('ok-late'), 20_000, 'ok-late ABNORMAL');
    expect(late.committed_at.getTime()).toBeGreaterThan(joined + ABNORMAL_SEC * 1000);
    const log = (await api('GET', '/v1/health/input')).body.log;
    expect(log.slice(0, 2)).toMatchObject([
      { businessLine: OK, change: 'automatic', actor: 'admin:ops', reason: 'drill over' },
      { businessLine: OK, change: 'forced on', actor: 'admin:ops', reason: 'upstream cutover drill' },
    ]);
  });
});
