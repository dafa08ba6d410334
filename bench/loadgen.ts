// The load generator: the fleet's simulated workbenches split over several processes (shards), so
// that neither one event loop nor one process's file limit caps the load. Each shard drives its
// agents with `Simulation`, reports progress every 5 s and writes its raw measurements to a file
// when done; `runLoad` merges them. Connections are spread over gateway ports and loopback source
// addresses (one source address and one destination port hold ~28k connections).
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signToken } from '../platform/auth.ts';
import { MIXES } from './mix.ts';
import { pct } from './stats.ts';
import { Simulation, type ActionRecord } from './workbench.ts';

export interface ShardSpec {
  wsUrls: string[];
  secret: string;
  tenant: string;
  /** Fleet positions [from, to) of this shard's agents (agent ids are `a<position>`). */
  from: number;
  to: number;
  durationSec: number;
  mix: keyof typeof MIXES;
  localAddresses: string[];
  connectPerSec: number;
  outFile: string;
}

export interface ShardProgress {
  shard: number;
  connected: number;
  everConnected: number;
  accepted: number;
  /** Receipt latencies of the last 5 s. */
  recent: number[];
}

/** What a shard measured (and the merge of all shards). */
export interface LoadResult {
  receiptMs: number[];
  receiptAt: number[];
  allConnectedAt: number | undefined;
  actions: Record<string, ActionRecord[]>;
  requests: { agentId: string; ts: number }[];
  acceptedBy: Record<string, number>;
  counts: Simulation['counts'];
  everConnected: number;
  peakConnected: number;
  /** Event-loop delay of each load-generator process, ms: p99 and max. */
  loopDelayMs: { p99: number; max: number }[];
  /** CPU seconds and peak PSS of the load generator processes are measured by the caller. */
  pids: number[];
}

export const agentId = (position: number) => `a${position}`;

/** How many shards and which source addresses a fleet of `agents` needs. */
export function layout(agents: number, perShard = 5000): { shards: number; localAddresses: string[] } {
  const shards = Math.max(1, Math.ceil(agents / perShard));
  const addresses = Math.max(1, Math.ceil(agents / 10_000));
  return { shards, localAddresses: Array.from({ length: addresses }, (_, i) => `127.0.0.${i + 1}`) };
}

async function shardMain(spec: ShardSpec, shard: number): Promise<void> {
  const ids = Array.from({ length: spec.to - spec.from }, (_, i) => agentId(spec.from + i));
  const tokens = new Map<string, string>();
  for (const a of ids)
    tokens.set(a, await signToken(spec.secret, { sub: a, tenant: spec.tenant, role: 'agent' }, 4 * 3600));
  const sim = new Simulation({
    wsUrl: '',
    token: async (a) => tokens.get(a)!,
    agents: ids,
    durationSec: spec.durationSec,
    behaviour: MIXES[spec.mix].behaviour,
    offset: spec.from,
    localAddresses: spec.localAddresses,
    connectPerSec: spec.connectPerSec,
    wsUrlOf: (i) => spec.wsUrls[i % spec.wsUrls.length]!,
  });
  await sim.run((s) => {
    const p: ShardProgress = {
      shard,
      connected: s.connected,
      everConnected: s.everConnected.size,
      accepted: s.counts.accepted,
      recent: s.receiptsSince(Date.now() - 5000),
    };
    process.send!({ type: 'progress', progress: p });
  });
  const result: LoadResult = {
    receiptMs: sim.receiptMs,
    receiptAt: sim.receiptAt,
    allConnectedAt: sim.allConnectedAt,
    actions: Object.fromEntries(sim.actions),
    requests: sim.requests,
    acceptedBy: Object.fromEntries(sim.acceptedBy),
    counts: sim.counts,
    everConnected: sim.everConnected.size,
    peakConnected: sim.peakConnected,
    loopDelayMs: [{ p99: sim.loopDelay.percentile(99) / 1e6, max: sim.loopDelay.max / 1e6 }],
    pids: [process.pid],
  };
  await fs.writeFile(spec.outFile, JSON.stringify(result));
  process.send!({ type: 'done' });
}

export interface LoadOptions {
  wsUrls: string[];
  secret: string;
  tenant: string;
  agents: number;
  durationSec: number;
  mix: keyof typeof MIXES;
  /** Called every 5 s with the fleet's totals. */
  onProgress(p: {
    elapsedSec: number;
    connected: number;
    everConnected: number;
    accepted: number;
    recentP99: number | null;
  }): void;
  /** Called once the shards run, with their pids (to measure them). */
  onStarted?(pids: number[]): void;
}

/** Runs the fleet for `durationSec` over as many shard processes as it needs; merges what they measured. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const { shards, localAddresses } = layout(o.agents);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-load-'));
  const connectPerSec = Math.max(20, o.agents / MIXES[o.mix].loginSpreadSec);
  const children: ChildProcess[] = [];
  const latest = new Map<number, ShardProgress>();
  const t0 = Date.now();
  const per = Math.ceil(o.agents / shards);
  const done: Promise<void>[] = [];
  for (let s = 0; s < shards; s++) {
    const spec: ShardSpec = {
      wsUrls: o.wsUrls,
      secret: o.secret,
      tenant: o.tenant,
      from: s * per,
      to: Math.min(o.agents, (s + 1) * per),
      durationSec: o.durationSec,
      mix: o.mix,
      localAddresses,
      connectPerSec: connectPerSec / shards,
      outFile: path.join(dir, `shard-${s}.json`),
    };
    const child = fork(new URL(import.meta.url).pathname, ['--shard', String(s)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    done.push(
      new Promise<void>((resolve, reject) => {
        child.on('message', (m: { type: string; progress?: ShardProgress }) => {
          if (m.type === 'progress') latest.set(s, m.progress!);
          if (m.type === 'done') resolve();
        });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load shard ${s} exited with ${code}`))));
      }),
    );
    child.send({ type: 'start', spec });
  }
  o.onStarted?.(children.map((c) => c.pid!));
  const tick = setInterval(() => {
    const ps = [...latest.values()];
    o.onProgress({
      elapsedSec: (Date.now() - t0) / 1000,
      connected: ps.reduce((a, p) => a + p.connected, 0),
      everConnected: ps.reduce((a, p) => a + p.everConnected, 0),
      accepted: ps.reduce((a, p) => a + p.accepted, 0),
      recentP99: pct(
        ps.flatMap((p) => p.recent),
        99,
      ),
    });
  }, 5000);
  // Peak at once across shards, from the progress reports.
  let peak = 0;
  const peakTick = setInterval(() => {
    peak = Math.max(
      peak,
      [...latest.values()].reduce((a, p) => a + p.connected, 0),
    );
  }, 1000);
  try {
    await Promise.all(done);
  } finally {
    clearInterval(tick);
    clearInterval(peakTick);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  }
  const parts: LoadResult[] = [];
  for (let s = 0; s < shards; s++)
    parts.push(JSON.parse(await fs.readFile(path.join(dir, `shard-${s}.json`), 'utf8')) as LoadResult);
  await fs.rm(dir, { recursive: true, force: true });
  const counts = { ...parts[0]!.counts };
  for (const p of parts.slice(1))
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += p.counts[k];
  const connectedAll = parts.every((p) => p.allConnectedAt !== undefined);
  return {
    receiptMs: parts.flatMap((p) => p.receiptMs),
    receiptAt: parts.flatMap((p) => p.receiptAt),
    allConnectedAt: connectedAll ? Math.max(...parts.map((p) => p.allConnectedAt!)) : undefined,
    actions: Object.assign({}, ...parts.map((p) => p.actions)),
    requests: parts.flatMap((p) => p.requests),
    acceptedBy: Object.assign({}, ...parts.map((p) => p.acceptedBy)),
    counts,
    everConnected: parts.reduce((a, p) => a + p.everConnected, 0),
    peakConnected: Math.max(peak, ...parts.map((p) => p.peakConnected)),
    loopDelayMs: parts.flatMap((p) => p.loopDelayMs),
    pids: children.map((c) => c.pid!),
  };
}

if (process.argv.includes('--shard')) {
  const shard = Number(process.argv[process.argv.indexOf('--shard') + 1]);
  process.once('message', (m: { type: string; spec: ShardSpec }) => {
    shardMain(m.spec, shard).then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`load shard ${shard} failed: ${err?.stack ?? err}\n`);
        process.exit(1);
      },
    );
  });
}
