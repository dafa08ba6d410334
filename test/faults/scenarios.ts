// Fault scenarios (README "Faults"): each runs a fleet of SDK workbenches against the real stack,
// injects one fault under load, lets everything settle and counts what happened to every event.
import http from 'node:http';
import type net from 'node:net';
import WebSocket from 'ws';
import { upsertAgent } from '../../db/agents.ts';
import { upsertRule } from '../../db/rules.ts';
import { WorkbenchClient } from '../../sdk/index.ts';
import { pct } from '../../bench/stats.ts';
import { Fleet } from './fleet.ts';
import type { FaultStack, Proc } from './stack.ts';

export interface ScenarioOptions {
  agents: number;
  /** Traffic before and after the fault, each. */
  trafficMs: number;
  /** How long Postgres or Temporal stays down. */
  outageMs: number;
}

export interface Counts {
  scenario: string;
  tenant: string;
  agents: number;
  /** Events the workbenches sent, and those a receipt accepted (resends until accepted). */
  sent: number;
  accepted: number;
  /** Accepted events whose facts are in HCM (reqId recorded, last action written). */
  inHcm: number;
  /** Accepted work-status requests, and those a workflow committed (the rest were superseded by a newer one). */
  requests: number;
  committed: number;
  /** A reqId accepted twice, a status committed twice in a row or a chain that breaks. */
  duplicates: number;
  /** Accepted events missing from HCM, plus agents whose final status is not their last request. */
  lost: number;
  /** What else the scenario checked, in words (all must hold: `ok`). */
  checks: string[];
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until nothing accepted waits to reach a workflow and every agent shows its last request (or time is up). */
async function settle(stack: FaultStack, fleet: Fleet, timeoutMs: number): Promise<void> {
  await fleet.drain(timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await pendingAndWrong(stack, fleet).catch(() => undefined);
    if (r && r.pending === 0 && r.wrongFinal === 0) return;
    await sleep(500);
  }
}

/** Intake rows not yet signalled, and agents whose committed status is not their last accepted request. */
async function pendingAndWrong(stack: FaultStack, fleet: Fleet): Promise<{ pending: number; wrongFinal: number }> {
  const { rows: p } = await stack.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM intake_pending WHERE tenant = $1`,
    [fleet.tenant],
  );
  const { rows: statuses } = await stack.pool.query<{ agent_id: string; status: string }>(
    `SELECT agent_id, status FROM status_table WHERE tenant = $1`,
    [fleet.tenant],
  );
  const status = new Map(statuses.map((r) => [r.agent_id, r.status]));
  const requests = [...fleet.sent.values()].filter((x) => x.type === 2 && x.acceptedAt !== undefined);
  let wrongFinal = 0;
  for (const agent of fleet.agents) {
    const last = requests
      .filter((x) => x.agentId === agent)
      .sort((a, b) => a.sentAt - b.sentAt)
      .at(-1);
    if (last && status.get(agent) !== last.status) wrongFinal++;
  }
  return { pending: p[0]!.n, wrongFinal };
}

export async function countFleet(
  stack: FaultStack,
  fleet: Fleet,
  scenario: string,
  checks: [string, boolean][],
): Promise<Counts> {
  const sent = [...fleet.sent.values()];
  const accepted = sent.filter((s) => s.acceptedAt !== undefined);
  const { rows: dedupe } = await stack.pool.query<{ req_id: string }>(
    `SELECT req_id FROM event_dedupe WHERE tenant = $1 AND req_id = ANY($2)`,
    [fleet.tenant, accepted.map((s) => s.reqId)],
  );
  const inHcm = new Set(dedupe.map((r) => r.req_id));
  const requests = accepted.filter((s) => s.type === 2);
  const { rows: log } = await stack.pool.query<{
    agent_id: string;
    version: number;
    from_status: string;
    to_status: string;
    dedupe_key: string;
  }>(
    `SELECT agent_id, version, from_status, to_status, dedupe_key FROM unified_work_status_log WHERE tenant = $1 ORDER BY agent_id, version`,
    [fleet.tenant],
  );
  const keys = new Set(log.map((r) => r.dedupe_key));
  const why: string[] = [];
  if (fleet.doubleAccepted) why.push(`${fleet.doubleAccepted} reqIds accepted twice`);
  for (let i = 0; i < log.length; i++) {
    const r = log[i]!;
    const prev = log[i - 1];
    if (r.from_status === r.to_status) why.push(`${r.agent_id} v${r.version} ${r.from_status}→${r.to_status}`);
    if (prev && prev.agent_id === r.agent_id && prev.to_status !== r.from_status)
      why.push(`${r.agent_id} v${r.version} starts from ${r.from_status} after ${prev.to_status}`);
  }
  const duplicates = why.length + Math.max(0, fleet.doubleAccepted - 1); // the first entry counts them all
  const { pending, wrongFinal } = await pendingAndWrong(stack, fleet);
  const lostFacts = accepted.filter((s) => !inHcm.has(s.reqId)).length;
  const committed = requests.filter((s) => keys.has(`req:${s.reqId}`)).length;
  if (why.length) checks.push([`no duplicate (${why.join(', ')})`, false]);
  const all: [string, boolean][] = [
    ...checks,
    [`nothing accepted left waiting for its workflow (${pending} intake rows)`, pending === 0],
  ];
  return {
    scenario,
    tenant: fleet.tenant,
    agents: fleet.agents.length,
    sent: sent.length,
    accepted: accepted.length,
    inHcm: accepted.length - lostFacts,
    requests: requests.length,
    committed,
    duplicates,
    lost: lostFacts + wrongFinal,
    checks: all.map(([what, ok]) => `${ok ? 'ok' : 'FAILED'}: ${what}`),
    ok: all.every(([, ok]) => ok) && lostFacts + wrongFinal === 0 && duplicates === 0,
  };
}

/** A scenario's frame: its tenant, worker, dispatcher, one gateway, a connected fleet under traffic. */
async function withFleet(
  stack: FaultStack,
  name: string,
  o: ScenarioOptions,
  fault: (ctx: { fleet: Fleet; procs: Map<string, Proc>; checks: [string, boolean][] }) => Promise<void>,
  gatewayEnv: Record<string, string> = {},
  /** Checks of the settled state that need the processes still running. */
  after?: (ctx: { fleet: Fleet; checks: [string, boolean][] }) => Promise<void>,
): Promise<Counts> {
  const tenant = await stack.tenant(name);
  const procs = new Map<string, Proc>();
  procs.set('worker', await stack.worker());
  procs.set('dispatcher', await stack.dispatcher());
  const g = await stack.gateway(gatewayEnv);
  procs.set('gateway', g);
  stack.lb.route([g.port!]);
  const fleet = new Fleet(
    stack,
    tenant,
    Array.from({ length: o.agents }, (_, i) => `agent-${i}`),
  );
  const checks: [string, boolean][] = [];
  try {
    await fleet.connect();
    fleet.startTraffic();
    await sleep(o.trafficMs);
    await fault({ fleet, procs, checks });
    await sleep(o.trafficMs);
    fleet.stopTraffic();
    await settle(stack, fleet, 60_000);
    await after?.({ fleet, checks });
    return await countFleet(stack, fleet, name, checks);
  } finally {
    await fleet.stop();
    for (const p of procs.values()) await p.kill('SIGKILL');
  }
}

/** The worker is killed (kill -9) while HCM calls are under way, and a new one takes over. */
export const workerKill = (stack: FaultStack, o: ScenarioOptions) =>
  withFleet(stack, 'worker-kill', o, async ({ procs }) => {
    await procs.get('worker')!.kill('SIGKILL');
    await sleep(1000);
    procs.set('worker', await stack.worker());
  });

/**
 * A gateway is killed between receipts and their signals: its path to Temporal is cut (signals
 * fail while receipts, which need only Postgres, go on), then it is killed; the load balancer
 * sends the workbenches to a second gateway, whose sweeper forwards what the dead one held.
 */
export async function gatewayKill(stack: FaultStack, o: ScenarioOptions): Promise<Counts> {
  const { startRelay } = await import('../relay.ts');
  const relay = await startRelay(stack.temporalAddress);
  try {
    return await withFleet(
      stack,
      'gateway-kill',
      o,
      async ({ procs, checks }) => {
        const second = await stack.gateway();
        procs.set('second gateway', second);
        await relay.cut();
        await sleep(2500); // more than one round of work-status requests (every 2 s)
        const { rows } = await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM intake_pending');
        checks.push(['the killed gateway held accepted events not yet signalled', rows[0]!.n > 0]);
        stack.lb.route([second.port!]);
        await procs.get('gateway')!.kill('SIGKILL');
      },
      { TEMPORAL_ADDRESS: relay.address },
    );
  } finally {
    await relay.close();
  }
}

/** Postgres stops under load: receipts accept nothing meanwhile (clients retry), reads answer 503, all recovers. */
export const postgresStop = (stack: FaultStack, o: ScenarioOptions) =>
  withFleet(stack, 'postgres-stop', o, async ({ fleet, checks }) => {
    await stack.stopPostgres();
    const down = Date.now();
    await sleep(Math.min(2000, o.outageMs / 2));
    const read = await fetch(`${stack.lb.http}/v1/agents/agent-0`, {
      headers: { authorization: `Bearer ${await stack.token(fleet.tenant, 'agent-0')}` },
    });
    checks.push([`GET /v1/agents/:id answers 503 while Postgres is down (got ${read.status})`, read.status === 503]);
    await sleep(o.outageMs - Math.min(2000, o.outageMs / 2));
    await stack.startPostgres();
    const up = Date.now();
    const acceptedWhileDown = [...fleet.sent.values()].filter(
      (s) => s.acceptedAt !== undefined && s.acceptedAt > down + 500 && s.acceptedAt < up,
    ).length;
    checks.push([
      `no receipt accepted an event while Postgres was down (${acceptedWhileDown})`,
      acceptedWhileDown === 0,
    ]);
    const recovered = await waitFor(() => [...fleet.sent.values()].some((s) => (s.acceptedAt ?? 0) > up), 60_000);
    checks.push([
      `receipts accept again within 60 s of Postgres returning (${recovered === undefined ? 'no' : `${((recovered - up) / 1000).toFixed(1)} s`})`,
      recovered !== undefined,
    ]);
  });

/**
 * The Temporal dev server restarts under load (history on a file): accepted events still reach the
 * workflows, and windows that fell due while it was down fire once each, none lost, none twice.
 */
export function temporalRestart(stack: FaultStack, o: ScenarioOptions): Promise<Counts> {
  const silent = ['silent-0', 'silent-1', 'silent-2'];
  const clients: WorkbenchClient[] = [];
  return withFleet(
    stack,
    'temporal-restart',
    o,
    async ({ fleet, checks }) => {
      // Agents who act once and fall silent: their ABNORMAL is due in the middle of the outage.
      const abnormalSec = Math.max(2, Math.round(o.outageMs / 2000));
      await upsertRule(stack.pool, fleet.tenant, 'silent', {
        scope: { businessLine: 'silent' },
        windows: {
          idleAfterNoTaskSec: 3600,
          remindAfterNoActionSec: abnormalSec,
          abnormalAfterNoActionSec: abnormalSec,
          offlineAfterAbnormalSec: 3600,
        },
      });
      for (const agentId of silent) {
        await upsertAgent(stack.pool, fleet.tenant, agentId, { businessLine: 'silent' }, 'local');
        const c = new WorkbenchClient({
          url: stack.lb.ws,
          token: () => stack.token(fleet.tenant, agentId),
          deviceId: `${agentId}-tab`,
          WebSocket: WebSocket,
        });
        clients.push(c);
        c.start();
      }
      const open = await waitFor(() => clients.every((c) => c.state === 'open'), 10_000);
      checks.push(['the silent agents connected', open !== undefined]);
      for (const c of clients) c.click();
      await waitFor(() => clients.every((c) => c.unackedCount === 0), 10_000);
      await stack.restartTemporal(o.outageMs);
    },
    {},
    async ({ fleet, checks }) => {
      const abnormal = async () =>
        (
          await stack.pool.query<{ agent_id: string; n: number }>(
            `SELECT agent_id, count(*)::int AS n FROM unified_work_status_log WHERE tenant = $1 AND to_status = 'ABNORMAL' AND agent_id = ANY($2) GROUP BY agent_id`,
            [fleet.tenant, silent],
          )
        ).rows;
      await waitFor(async () => (await abnormal()).length === silent.length, 60_000);
      await sleep(2000); // a second firing would come now
      const rows = await abnormal();
      checks.push([
        `each window that fell due during the outage fired once (${silent.map((a) => rows.find((r) => r.agent_id === a)?.n ?? 0).join(', ')})`,
        rows.length === silent.length && rows.every((r) => r.n === 1),
      ]);
      await Promise.all(clients.map((c) => c.stop()));
    },
  );
}

/** Every workbench connection drops at once and comes back: nobody is marked off the app. */
export const reconnectStorm = (stack: FaultStack, o: ScenarioOptions) =>
  withFleet(stack, 'reconnect-storm', o, async ({ fleet, checks }) => {
    const before = new Map(fleet.welcomes);
    const t0 = Date.now();
    stack.lb.dropAll();
    // Back = welcomed again on a new connection, every one of them.
    const back = await waitFor(
      () => fleet.agents.every((a) => (fleet.welcomes.get(a) ?? 0) > (before.get(a) ?? 0)),
      10_000,
    );
    checks.push([
      `every workbench reconnected within 10 s (${back === undefined ? 'no' : `${((back - t0) / 1000).toFixed(1)} s`})`,
      back !== undefined,
    ]);
    await sleep(2000);
    const { rows } = await stack.pool.query<{ n: number }>(
      `SELECT count(DISTINCT agent_id)::int AS n FROM device_sessions WHERE tenant = $1`,
      [fleet.tenant],
    );
    checks.push([
      `every agent still has its device counted (${rows[0]!.n} of ${fleet.agents.length})`,
      rows[0]!.n === fleet.agents.length,
    ]);
    const { rows: off } = await stack.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unified_work_status_log WHERE tenant = $1 AND cause = 'NOT_ON_APP'`,
      [fleet.tenant],
    );
    checks.push(['no NOT_ON_APP transition', off[0]!.n === 0]);
  });

/** One connection sends 10,000 malformed frames: it is closed, nothing of it is written, others are not slowed. */
export const malformedFlood = (stack: FaultStack, o: ScenarioOptions) =>
  withFleet(stack, 'malformed-flood', o, async ({ fleet, checks }) => {
    const ws = new WebSocket(stack.lb.ws);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ type: 'hello', token: await stack.token(fleet.tenant, 'flooder'), deviceId: 'flood' }));
    await sleep(300);
    const t0 = Date.now();
    const before = p99Of(fleet.receiptMs.filter((r) => r.at < t0 && r.at > t0 - 5000).map((r) => r.ms));
    for (let i = 0; i < 10_000 && ws.readyState === ws.OPEN; i++)
      ws.send(i % 2 ? '{"type":"events","events":[{"nope":1}]' : '\u0000garbage');
    const code = await Promise.race([closed, sleep(10_000).then(() => -1)]);
    // 4400 at its first bad frame, or 4429 when the frame limit trips before that frame is parsed.
    checks.push([`the flooding connection was closed (${code})`, code === 4400 || code === 4429]);
    await sleep(3000);
    const during = p99Of(fleet.receiptMs.filter((r) => r.at >= t0 && r.at < t0 + 3000).map((r) => r.ms));
    checks.push([
      `others' receipts not slowed: p99 ${before} ms before, ${during} ms during`,
      during <= Math.max(250, before * 3),
    ]);
    const { rows } = await stack.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM event_dedupe WHERE tenant = $1 AND agent_id = 'flooder'`,
      [fleet.tenant],
    );
    checks.push(['nothing written for the flooder', rows[0]!.n === 0]);
  });

/**
 * The dispatcher dies right after a webhook answered 2xx and before it marked the delivery: the
 * restarted dispatcher delivers the same eventId again; no committed change is left undelivered.
 */
export async function dispatcherKill(stack: FaultStack, o: ScenarioOptions): Promise<Counts> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body).eventId);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  try {
    return await withFleet(
      stack,
      'dispatcher-kill',
      o,
      async ({ fleet, procs, checks }) => {
        await procs.get('dispatcher')!.kill('SIGKILL');
        const admin = await stack.token(fleet.tenant, 'admin', 'admin');
        const put = await fetch(`${stack.lb.http}/v1/webhooks/hook`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: JSON.stringify({ url, secret: 'a-secret-of-sixteen-chars', filter: { topics: ['status'] } }),
        });
        checks.push([`webhook registered (${put.status})`, put.status < 300]);
        const faulty = await stack.dispatcher({ VIGIL_FAULT: 'exit-after-deliver', VIGIL_WEBHOOK_ALLOW_PRIVATE: '1' });
        const code = await Promise.race([faulty.exited, sleep(30_000).then(() => 'alive')]);
        checks.push([`the dispatcher died right after a delivery (exit ${code})`, code !== 'alive']);
        procs.set('dispatcher', await stack.dispatcher({ VIGIL_WEBHOOK_ALLOW_PRIVATE: '1' }));
      },
      { VIGIL_WEBHOOK_ALLOW_PRIVATE: '1' },
      async ({ fleet, checks }) => {
        const { rows } = await stack.pool.query<{ event_id: string }>(
          `SELECT o.event_id FROM status_change_outbox o JOIN outbox_deliveries d ON d.outbox_id = o.id
          WHERE o.tenant = $1 AND o.topic = 'status' AND d.lane LIKE 'webhook:%'`,
          [fleet.tenant],
        );
        const owed = new Set(rows.map((r) => r.event_id));
        // Done when the lane marked every row: the one cut short is marked only after its redelivery
        // (its claim lapses first: webhook timeout plus margin).
        const done = await waitFor(async () => {
          const { rows: open } = await stack.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM outbox_deliveries d JOIN status_change_outbox o ON o.id = d.outbox_id
            WHERE o.tenant = $1 AND d.lane LIKE 'webhook:%' AND d.state <> 'done'`,
            [fleet.tenant],
          );
          return open[0]!.n === 0 && [...owed].every((id) => received.includes(id));
        }, 60_000);
        const redelivered = received.length - new Set(received).size;
        checks.push([
          `every committed change reached the webhook (${owed.size} owed, ${received.length} deliveries, ${redelivered} redelivered)`,
          done !== undefined,
        ]);
        checks.push(['the delivery cut short by the crash was redelivered with its eventId', redelivered > 0]);
      },
    );
  } finally {
    server.close();
  }
}

const p99Of = (xs: number[]): number => pct(xs, 99) ?? 0;

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return Date.now();
    await sleep(100);
  }
  return undefined;
}

export const SCENARIOS = {
  workerKill,
  gatewayKill,
  dispatcherKill,
  postgresStop,
  temporalRestart,
  reconnectStorm,
  malformedFlood,
};
