// The engine decides from HCM's facts, not from how fast signals arrive or what a client's clock
// says (README "Facts first"). Each case drives a real gateway over websockets, with windows of
// seconds set through the admin API the way a user would, and reads the outcome from Postgres.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, eventually, type Harness, type RunningWorker } from '../harness.ts';
import { assertChain, live, statusLog, waitForStatus } from './agent-helpers.ts';
import { helloClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const click = (tsOffsetMs = 0) => ({ reqId: randomUUID(), type: 100, ts: Date.now() + tsOffsetMs });

describe('facts first: windows decided from HCM facts at wake-up', () => {
  let h: Harness;
  let w: RunningWorker;
  let g: TestGateway;
  let admin: string;

  const put = async (path: string, body: object) => {
    const res = await fetch(`${g.http}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const windows = (abnormal: number) => ({
    idleAfterNoTaskSec: 1,
    remindAfterNoActionSec: abnormal - 2,
    abnormalAfterNoActionSec: abnormal,
    offlineAfterAbnormalSec: 30,
  });

  /** Clicks every 500 ms for `ms`, each with its ts shifted by `tsOffsetMs` (a skewed client clock). */
  async function keepClicking(c: RawClient, ms: number, tsOffsetMs = 0): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      c.send({ type: 'events', events: [click(tsOffsetMs)] });
      await sleep(500);
    }
  }

  async function reminders(agentId: string): Promise<number> {
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM status_change_outbox WHERE tenant = $1 AND agent_id = $2 AND topic = 'reminder'`,
      [h.tenant, agentId],
    );
    return rows[0].n;
  }

  /** ms between the window's end (its start + `windowSec`) and the commit of `to`. */
  async function lateness(agentId: string, to: string, windowSec: number): Promise<number> {
    const { rows } = await h.pool.query(
      `SELECT extract(epoch FROM committed_at - window_start) * 1000 AS ms FROM unified_work_status_log
        WHERE tenant = $1 AND agent_id = $2 AND to_status = $3 ORDER BY version LIMIT 1`,
      [h.tenant, agentId, to],
    );
    return Number(rows[0].ms) - windowSec * 1000;
  }

  beforeAll(async () => {
    h = await createHarness('facts');
    w = await h.startWorker();
    g = await startGateway(h);
    admin = await g.token('admin-1', 'admin');
  });
  afterAll(async () => {
    await g?.close();
    await w?.stop();
    await h?.close();
  });

  it('an acting agent whose rule was created a second earlier gets no reminder and no ABNORMAL; silent, it goes ABNORMAL within 1 s of its window', async () => {
    const agent = 'worker-bee';
    await put('/v1/rules/base', { windows: windows(4), reconnectGraceSec: 1 });
    await sleep(1000);
    const c = await helloClient(g, agent);
    await keepClicking(c, 9000); // more than twice the ABNORMAL window
    expect(await reminders(agent)).toBe(0);
    expect((await statusLog(h, agent)).filter((r) => r.to_status === 'ABNORMAL')).toEqual([]);

    await waitForStatus(h, agent, 'ABNORMAL', 10_000);
    const late = await lateness(agent, 'ABNORMAL', 4);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
    expect(await reminders(agent)).toBe(1); // the silence was reminded once, 2 s before ABNORMAL
    c.socket.close();
  });

  it('a rule edited mid-window fires on the edited window within 1 s: lengthened and shortened', async () => {
    await put('/v1/agents/patient', { businessLine: 'long' });
    await put('/v1/agents/hasty', { businessLine: 'short' });
    await put('/v1/rules/long', { scope: { businessLine: 'long' }, windows: windows(4) });
    await put('/v1/rules/short', { scope: { businessLine: 'short' }, windows: windows(9) });
    const patient = await helloClient(g, 'patient');
    const hasty = await helloClient(g, 'hasty');
    patient.send({ type: 'events', events: [click()] });
    hasty.send({ type: 'events', events: [click()] });
    await patient.next('receipt');
    await hasty.next('receipt');
    await sleep(1000);
    const longer = await put('/v1/rules/long', { scope: { businessLine: 'long' }, windows: windows(7) });
    const shorter = await put('/v1/rules/short', { scope: { businessLine: 'short' }, windows: windows(3) });
    expect(longer.reached).toBe(0); // only later deadlines: each workflow learns it at its wake-up
    expect(shorter.reached).toBe(1);

    await waitForStatus(h, 'hasty', 'ABNORMAL', 10_000);
    await waitForStatus(h, 'patient', 'ABNORMAL', 15_000);
    for (const [agent, sec] of [
      ['hasty', 3],
      ['patient', 7],
    ] as const) {
      const late = await lateness(agent, 'ABNORMAL', sec);
      expect(late, agent).toBeGreaterThanOrEqual(0);
      expect(late, agent).toBeLessThan(1000);
      assertChain(await statusLog(h, agent));
    }
    patient.socket.close();
    hasty.socket.close();
  });

  it('a shortened window already past its new deadline is decided at once', async () => {
    await put('/v1/agents/overdue', { businessLine: 'overdue' });
    await put('/v1/rules/overdue', { scope: { businessLine: 'overdue' }, windows: windows(20) });
    const c = await helloClient(g, 'overdue');
    c.send({ type: 'events', events: [click()] });
    await c.next('receipt');
    await sleep(4000);
    const t0 = Date.now();
    await put('/v1/rules/overdue', { scope: { businessLine: 'overdue' }, windows: windows(3) });
    await waitForStatus(h, 'overdue', 'ABNORMAL', 5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    c.socket.close();
  });

  it('a workbench clock 11 minutes behind or ahead causes no false reminder, ABNORMAL or OFFLINE', async () => {
    await put('/v1/agents/clock-behind', { businessLine: 'clock' });
    await put('/v1/agents/clock-ahead', { businessLine: 'clock' });
    await put('/v1/rules/clock', { scope: { businessLine: 'clock' }, windows: windows(4) });
    const behind = await helloClient(g, 'clock-behind');
    const ahead = await helloClient(g, 'clock-ahead');
    await Promise.all([keepClicking(behind, 9000, -11 * 60_000), keepClicking(ahead, 9000, 11 * 60_000)]);
    for (const agent of ['clock-behind', 'clock-ahead']) {
      expect(await reminders(agent), agent).toBe(0);
      expect(
        (await statusLog(h, agent)).filter((r) => r.to_status === 'ABNORMAL' || r.to_status === 'OFFLINE'),
        agent,
      ).toEqual([]);
    }
    // Gone silent, the skewed agent still goes ABNORMAL on time by the gateway's clock.
    await waitForStatus(h, 'clock-behind', 'ABNORMAL', 10_000);
    const late = await lateness('clock-behind', 'ABNORMAL', 4);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
    // And its return is taken: the action is after the status by the gateway's clock.
    behind.send({ type: 'events', events: [click(-11 * 60_000)] });
    await eventually(
      async () => (await statusLog(h, 'clock-behind')).some((r) => r.cause === 'ACTIVITY_RESUMED'),
      10_000,
      'the return from ABNORMAL',
    );
    behind.socket.close();
    ahead.socket.close();
  });

  it('a reminder is not sent to an agent HCM knows is acting, even when no signal told the workflow', async () => {
    const agent = 'quiet-signals';
    await put(`/v1/agents/${agent}`, { businessLine: 'quiet' });
    await put('/v1/rules/quiet', { scope: { businessLine: 'quiet' }, windows: windows(4) });
    const c = await helloClient(g, agent);
    // Pure activity is not signalled (the digest interval is minutes): only HCM's facts know it.
    await keepClicking(c, 6000);
    expect(await reminders(agent)).toBe(0);
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM intake_pending WHERE tenant = $1 AND agent_id = $2`,
      [h.tenant, agent],
    );
    expect(rows[0].n).toBe(0);
    // The workflow heard of none of the clicks, and woke at the reminder deadline to HCM's newer action.
    const state = await live(h, agent);
    expect(state.timeline.filter((t) => t.kind === 'events')).toEqual([]);
    expect(state.timeline.some((t) => t.kind === 'wake')).toBe(true);
    expect(state.engine).toBe(2);
    c.socket.close();
  });
});
