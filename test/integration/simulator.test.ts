// The rule simulator (README "Rule simulator") against what the real stack did: agents act through
// the gateway while the real workflows decide; then the simulator replays the activity record under
// the same rule and must find the transitions HCM committed (same ones, within 1 s). Then proposed
// rules: a shorter ABNORMAL window flags a known set of agents more, a longer one fewer.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedChanges } from '../../db/record.ts';
import { plan, simulate, simulateChunk } from '../../simulator/run.ts';
import { EventType } from '../../workflows/model.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const WINDOWS = {
  idleAfterNoTaskSec: 3,
  // Not equal to another window: two deadlines a few ms apart leave the second to a timer of a few ms,
  // which the dev server fires up to a second late (README "Rule simulator").
  remindAfterNoActionSec: 4,
  abnormalAfterNoActionSec: 5,
  offlineAfterAbnormalSec: 4,
};
const RULE = { windows: WINDOWS, reminderLockSec: 0, offlineRecovery: 'onActivity' } as const;
const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rule simulator', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  const sockets = new Map<string, RawClient>();
  let n = 0;
  let from = 0;
  let to = 0;

  const connect = async (id: string) => {
    const c = await rawClient(gw.ws);
    c.send({ type: 'hello', token: await gw.token(id), deviceId: `${id}-pc`, modules: [] });
    await c.next('welcome');
    sockets.set(id, c);
  };
  const send = (id: string, type: number, extra: Record<string, unknown> = {}) =>
    sockets.get(id)!.send({ type: 'events', events: [{ reqId: `e${++n}`, type, ts: Date.now(), ...extra }] });
  /** Clicks every 300 ms for `ms`. */
  const actFor = async (id: string, ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      send(id, EventType.CLICK);
      await sleep(300);
    }
  };

  beforeAll(async () => {
    h = await createHarness('simulator');
    await setRule(h, 'default', RULE);
    w = await h.startWorker();
    gw = await startGateway(h);
  });

  afterAll(async () => {
    for (const s of sockets.values()) s.socket.close();
    await gw?.close();
    await w?.stop();
    await h?.close();
  });

  it('replays the recorded activity under the current rule into the transitions HCM committed', async () => {
    from = Date.now() - 1000;
    const ids = ['busy', 'pauser', 'quiet', 'steady', 'tickets'];
    for (const id of ids) await connect(id);
    // steady: acts, falls silent (ABNORMAL, OFFLINE), acts again (back ONLINE), falls silent.
    // tickets: a ticket open then closed (IDLE after it), another opened (ONLINE again).
    // busy: asks for BUSY, falls silent (ABNORMAL, OFFLINE), acts (back ONLINE).
    // pauser: acts, pauses about 3.8 s (under the ABNORMAL window), acts, falls silent.
    // quiet: never acts after its hello, and a supervisor sets it BUSY.
    // Each ends where no window runs (OFFLINE by a window; quiet BUSY): the range ends quiet.
    send('tickets', EventType.TICKET_OPENED, { ticketId: 'T-1' });
    send('busy', EventType.WORK_STATUS, { data: { status: 'BUSY' } });
    await Promise.all([
      actFor('steady', 2500),
      actFor('tickets', 1500).then(() => send('tickets', EventType.TICKET_COMPLETED, { ticketId: 'T-1' })),
      actFor('pauser', 2000).then(async () => {
        await sleep(3500);
        await actFor('pauser', 1000);
      }),
    ]);
    const status = async (id: string) =>
      (await h.pool.query('SELECT status FROM status_table WHERE tenant = $1 AND agent_id = $2', [h.tenant, id]))
        .rows[0]?.status;
    await eventually(async () => (await status('steady')) === 'OFFLINE', 20_000, 'steady OFFLINE');
    // Not within a second of a deadline: recorded actions are known to the second only.
    await sleep(1500);
    send('tickets', EventType.TICKET_OPENED, { ticketId: 'T-2' });
    send('steady', EventType.CLICK);
    send('busy', EventType.KEY);
    const r = await fetch(`${gw.http}/v1/agents/quiet/status`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${await gw.token('boss', 'supervisor')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ status: 'BUSY', reason: 'on a call' }),
    });
    expect(r.status).toBe(200);
    await sleep(1000);
    let last: unknown[] = [];
    await eventually(
      // quiet stays BUSY: its silence already had its ABNORMAL (HCM answers the same window ALREADY_HANDLED).
      async () =>
        (last = await Promise.all(ids.map(status))).every((s, i) => s === (ids[i] === 'quiet' ? 'BUSY' : 'OFFLINE')),
      30_000,
      'everyone settled',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${ids.map((id, i) => `${id} ${String(last[i])}`).join(', ')}`);
    });
    to = Date.now() + 500;
    await sleep(500);

    const committed = await committedChanges(h.pool, h.tenant, ids, from, to);
    const req = { tenant: h.tenant, rule: { ruleId: 'unrelated', enabled: false }, from, to };
    const replayed = await simulateChunk(h.pool, req, ids, (await plan(h.pool, req)).rulesFor);
    const show = (l: { at: number; to: string }[]) => l.map((t) => `${t.to}@${t.at - from}`).join(' ');
    const pairs = ids.map((id) => ({
      id,
      real: committed.filter((c) => c.agentId === id),
      sim: replayed.find((x) => x.agentId === id)!.current,
    }));
    const worst = Math.max(...pairs.flatMap((p) => p.sim.map((t, i) => Math.abs(t.at - (p.real[i]?.at ?? t.at)))));
    console.log(`simulator: ${committed.length} transitions replayed, worst time difference ${worst} ms`);
    if (worst > 1000) {
      const { live } = await import('./agent-helpers.ts');
      for (const id of ids)
        console.log(
          id,
          (await live(h, id)).timeline
            .map((e) => `${e.at - from} ${e.kind} ${e.detail}`)
            .reverse()
            .join('\n'),
        );
    }
    for (const { id, real, sim } of pairs) {
      expect(
        sim.map((t) => t.to),
        `${id}: real ${show(real)} / simulated ${show(sim)}`,
      ).toEqual(real.map((t) => t.to));
      sim.forEach((t, i) =>
        expect(
          Math.abs(t.at - real[i]!.at),
          `${id} ${t.to}: real ${show(real)} / simulated ${show(sim)}`,
        ).toBeLessThanOrEqual(1000),
      );
    }
    // The streams covered what they were meant to.
    expect(committed.map((c) => `${c.agentId}:${c.to}`)).toEqual(
      expect.arrayContaining([
        'steady:ABNORMAL',
        'steady:OFFLINE',
        'steady:ONLINE',
        'tickets:IDLE',
        'tickets:ONLINE',
        'busy:BUSY',
        'busy:ABNORMAL',
        'quiet:BUSY',
      ]),
    );
    expect(committed.filter((c) => c.agentId === 'pauser').map((c) => c.to)).toEqual(['IDLE', 'ABNORMAL', 'OFFLINE']);
  });

  it('finds a known agent flagged under a shorter ABNORMAL window, and nobody under a much longer one', async () => {
    const run = (abnormalAfterNoActionSec: number) =>
      simulate(h.pool, {
        tenant: h.tenant,
        rule: {
          ...RULE,
          ruleId: 'default',
          // The reminder may not come after ABNORMAL.
          windows: {
            ...WINDOWS,
            abnormalAfterNoActionSec,
            remindAfterNoActionSec: Math.min(WINDOWS.remindAfterNoActionSec, abnormalAfterNoActionSec),
          },
        },
        from,
        to,
      });
    const base = await run(WINDOWS.abnormalAfterNoActionSec);
    expect(base.agents).toMatchObject({ affected: 5, simulated: 5, changed: 0 });
    expect(base.sample).toEqual([]);
    expect(base.transitions.ABNORMAL.proposed).toBe(base.transitions.ABNORMAL.current);

    // 3 s: the pause of 'pauser' is now long enough; the others are flagged as before, earlier.
    const shorter = await run(3);
    const abnormals = (l: { to: string }[]) => l.filter((t) => t.to === 'ABNORMAL').length;
    const more = shorter.sample.filter((s) => abnormals(s.proposed) > abnormals(s.current)).map((s) => s.agentId);
    expect(more).toEqual(['pauser']);
    expect(shorter.transitions.ABNORMAL.proposed).toBe(shorter.transitions.ABNORMAL.current + 1);
    expect(shorter.minutes.ABNORMAL.delta).toBeGreaterThan(0);

    // 60 s: nobody was silent that long within the range.
    const longer = await run(60);
    expect(longer.agentsInto.ABNORMAL).toEqual({ current: 5, proposed: 0 });
    expect(longer.minutes.ABNORMAL.proposed).toBe(0);
    expect(longer.minutes.OFFLINE.delta).toBeLessThan(0);
    expect(longer.sample[0]!.timeline).toMatch(/^\/v1\/agents\/[a-z]+\/timeline\?from=/);
  });

  it('runs as a workflow through the API with progress, and the CLI prints the same summary', async () => {
    const rule = {
      ...RULE,
      ruleId: 'default',
      windows: { ...WINDOWS, abnormalAfterNoActionSec: 3, remindAfterNoActionSec: 3 },
    };
    const direct = await simulate(h.pool, { tenant: h.tenant, rule, from, to });
    const admin = { authorization: `Bearer ${await gw.token('ops', 'admin')}`, 'content-type': 'application/json' };
    const post = (body: unknown) =>
      fetch(`${gw.http}/v1/rules/simulate`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    // Bad ranges are refused before anything runs.
    const iso = (ms: number) => new Date(ms).toISOString();
    expect((await post({ rule, from: iso(to), to: iso(from) })).status).toBe(400);
    expect((await post({ rule, from: iso(from - 30 * 86_400_000), to: iso(to) })).status).toBe(400);
    expect((await post({ rule: { windows: WINDOWS }, from: iso(from), to: iso(to) })).status).toBe(400);
    const late = { ...rule, windows: { ...WINDOWS, remindAfterNoActionSec: 9 } };
    expect((await post({ rule: late, from: iso(from), to: iso(to) })).status).toBe(400);

    const started = await post({ rule, from: iso(from), to: iso(to) });
    expect(started.status).toBe(202);
    const { simulationId } = (await started.json()) as { simulationId: string };
    const done = await eventually(
      async () => {
        const r = (await (
          await fetch(`${gw.http}/v1/rules/simulations/${simulationId}`, { headers: admin })
        ).json()) as {
          state: string;
          progress: { done: number; total: number };
          result: unknown;
        };
        return r.state === 'done' ? r : undefined;
      },
      30_000,
      'the simulation done',
    );
    expect(done.progress).toEqual({ done: 5, total: 5 });
    expect(done.result).toEqual(direct);
    // Another tenant's admin does not see it.
    const other = { authorization: `Bearer ${await gw.token('ops', 'admin', { tenant: 'someone-else' })}` };
    expect((await fetch(`${gw.http}/v1/rules/simulations/${simulationId}`, { headers: other })).status).toBe(404);

    // The timeline reads the same record over any range.
    const tl = (await (
      await fetch(`${gw.http}/v1/agents/tickets/timeline?from=${iso(from)}&to=${iso(to)}&limit=500`, { headers: admin })
    ).json()) as { timeline: { source: string; kind: string; detail: string }[] };
    const rec = tl.timeline.filter((e) => e.source === 'record').map((e) => `${e.kind}: ${e.detail}`);
    expect(rec).toEqual(
      expect.arrayContaining([
        'device: tickets-pc connected',
        'event: type 3 ticket T-1',
        'event: type 5 ticket T-1',
        'event: type 3 ticket T-2',
        expect.stringMatching(/^activity: active in \d+ of 60 seconds$/),
      ]),
    );

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-sim-'));
    await fs.writeFile(path.join(dir, 'rule.json'), JSON.stringify(rule));
    const { stdout, stderr } = await exec(
      'npx',
      [
        'tsx',
        'simulator/cli.ts',
        '--rule',
        path.join(dir, 'rule.json'),
        '--from',
        iso(from),
        '--to',
        iso(to),
        '--url',
        gw.http,
      ],
      { env: { ...process.env, VIGIL_TOKEN: await gw.token('ops', 'admin') } },
    );
    expect(stderr).toMatch(/simulate: 5 of 5 agents/);
    expect(stdout).toContain(
      `agents: 5 in the tenant, 5 governed differently, ${direct.agents.changed} with other transitions`,
    );
    expect(stdout).toContain(
      `minutes ABNORMAL: ${direct.minutes.ABNORMAL.current} → ${direct.minutes.ABNORMAL.proposed}`,
    );
  });
});
