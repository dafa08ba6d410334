// Turns a results file of `npm run bench` into the tables of BENCHMARKS.md (between markers, so the
// prose around them stays), the paper model for the reference fleet computed from the measured
// per-agent figures, and a PNG chart. `npx tsx bench/report.ts <results.json>` redoes it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { LimitResult } from './limit/measure.ts';
import type { MIXES } from './mix.ts';
import { AGENTS_PER_GATEWAY, type PhaseResult } from './phase.ts';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';
/** The reference production fleet (BENCHMARKS.md "On paper"). */
export const FLEET = { agents: 47_149, eventsPerSec: 4_000 };

/** A results file: what `bench/run.ts` writes after every step and this module reads back. */
export interface BenchDoc {
  at: string;
  args: Record<string, unknown>;
  mix: string;
  rule: (typeof MIXES)[keyof typeof MIXES]['rule'];
  knee: number | null;
  /** Why the ramp stopped (a threshold, the time budget, or the last step). */
  stoppedBy: string | null;
  limits: LimitResult[];
  results: PhaseResult[];
}

const n = (x: number | null | undefined, d = 0) =>
  x === null || x === undefined
    ? '–'
    : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const cores = (r: PhaseResult) =>
  Object.entries(r.processes)
    .filter(([k]) => k !== 'bench client')
    .reduce((s, [, u]) => s + u.cores, 0);

export async function writeReport(resultsFile: string, mdFile: string, pngFile: string): Promise<string> {
  const doc = JSON.parse(await fs.readFile(resultsFile, 'utf8')) as BenchDoc;
  const rs = doc.results;
  const L: string[] = [];
  L.push(
    START,
    '',
    `Measured ${doc.at} with the ${doc.mix} mix — results file \`${path.relative(path.dirname(mdFile), resultsFile)}\`.`,
    '',
  );

  const limit = doc.limits[0];
  if (doc.limits.length > 0) {
    L.push(
      "### Temporal's own limit on this box",
      '',
      'The trivial workflow (a signal wakes it, it sleeps 1 s on a timer) on 1,000 workflows, each rate for 20 s; workflow tasks counted by the server.',
      '',
    );
    L.push(
      '| dev server | signals/s offered | accepted/s | signal p50 / p99 ms | workflow tasks/s | CPU cores: temporal / worker |',
      '|---|---|---|---|---|---|',
    );
    for (const l of doc.limits) {
      for (const s of l.steps)
        L.push(
          `| ${l.label} | ${n(s.offered)} | ${n(s.signalsPerSec)} | ${n(s.signalMs.p50)} / ${n(s.signalMs.p99)} | ${n(s.workflowTasksPerSec)} | ${n(s.processes.temporal?.cores, 2)} / ${n(s.processes['limit worker']?.cores, 2)} |`,
        );
    }
    L.push(
      '',
      ...doc.limits.map((l) => `- ${l.label}: at most **${n(l.maxWorkflowTasksPerSec)} workflow tasks/s**.`),
      '',
    );
  }

  L.push('### The production mix, ramped', '');
  L.push(
    '| agents (connected / peak at once) | events/s (per agent) | steady receipt p50 / p99 ms | window lateness p50 / p99 / max ms | IDLE / reminder→ABNORMAL / OFFLINE by window | wrong transitions | signals per event | signals per agent-hour | workflow tasks/s (per agent-hour) | history events per agent-hour | work-status change → commit p50 / p99 ms |',
  );
  L.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rs) {
    const t = r.transitions;
    const win = `${n(t['IDLE:NO_TASK'] ?? 0)} / ${n(
      Object.entries(t)
        .filter(([k]) => k.startsWith('ABNORMAL'))
        .reduce((s, [, v]) => s + v, 0),
    )} / ${n(t['OFFLINE:ABNORMAL_TIMEOUT'] ?? 0)}`;
    L.push(
      `| ${n(r.agents)} (${n(r.agentsConnected)} / ${n(r.peakConnected)}) | ${n(r.eventsPerSec)} (${n(r.eventsPerAgentSec, 3)}) | ${n(r.steadyReceiptMs.p50)} / ${n(r.steadyReceiptMs.p99)} | ${n(r.latenessMs.p50)} / ${n(r.latenessMs.p99)} / ${n(r.latenessMs.max)} | ${win} | ${r.wrongTransitions} | ${n(r.signalsPerEvent, 3)} | ${n(r.signalsPerAgentHour)} | ${n(r.workflowTasksPerSec)} (${n(r.workflowTasksPerAgentHour)}) | ${n(r.historyEventsPerAgentHour)} | ${n(r.e2eCommitMs.p50)} / ${n(r.e2eCommitMs.p99)} |`,
    );
  }
  L.push('', 'Lateness per window (p50 / p99 / max ms, count):', '');
  L.push(
    '| agents | IDLE (30 s without a task) | ABNORMAL (10 min without an action) | OFFLINE (10 min after ABNORMAL) |',
    '|---|---|---|---|',
  );
  for (const r of rs) {
    const w = (k: string) =>
      r.latenessByWindow[k]
        ? `${n(r.latenessByWindow[k].p50)} / ${n(r.latenessByWindow[k].p99)} / ${n(r.latenessByWindow[k].max)} (${n(r.latenessByWindow[k].n)})`
        : '–';
    L.push(`| ${n(r.agents)} | ${w('IDLE')} | ${w('ABNORMAL')} | ${w('OFFLINE')} |`);
  }
  L.push(
    '',
    "CPU (cores busy on average) and peak memory (PSS, MiB) per process; memory per connected agent; the load generator's event-loop delay:",
    '',
  );
  const procs = [...new Set(rs.flatMap((r) => Object.keys(r.processes)))];
  L.push(
    `| agents | ${procs.join(' | ')} | all but the bench client | gateway / worker KiB per agent | load generator loop delay p99 / max ms |`,
    `|---|${procs.map(() => '---').join('|')}|---|---|---|`,
  );
  for (const r of rs) {
    L.push(
      `| ${n(r.agents)} | ${procs.map((p) => (r.processes[p] ? `${n(r.processes[p].cores, 2)} / ${n(r.processes[p].peakPssMiB)}` : '–')).join(' | ')} | ${n(cores(r), 2)} cores | ${n(r.memoryPerAgentKiB.gateway)} / ${n(r.memoryPerAgentKiB.worker)} | ${n(r.loadLoopDelayMs.p99)} / ${n(r.loadLoopDelayMs.max)} |`,
    );
  }

  const kneeRun = rs.find((r) => r.agents === doc.knee);
  L.push(
    '',
    `Thresholds: steady receipt p99 ≤ ${String(doc.args['max-receipt-p99'])} ms, window lateness p99 ≤ ${String(doc.args['max-lateness-p99'])} ms, zero wrong transitions, every agent connected.`,
  );
  L.push(
    `**Knee: ${doc.knee === null ? 'no step within the thresholds' : `${n(doc.knee)} agents`}**; the ramp stopped at: ${doc.stoppedBy ?? '–'}.`,
  );
  const wrong = rs.reduce((s, r) => s + r.wrongTransitions, 0);
  L.push(`Wrong transitions over all phases: **${wrong}**.`);
  if (kneeRun && limit && kneeRun.workflowTasksPerSec) {
    const frac = kneeRun.workflowTasksPerSec / limit.maxWorkflowTasksPerSec;
    const perTask = kneeRun.agents / kneeRun.workflowTasksPerSec;
    L.push(
      `At the knee Vigil used **${n(kneeRun.workflowTasksPerSec)} workflow tasks/s, ${n(frac * 100)} %** of the ${n(limit.maxWorkflowTasksPerSec)}/s the same dev server sustains with the trivial workflow — **${n(perTask)} agents per workflow task/s**, so the ${n(Math.max(0, limit.maxWorkflowTasksPerSec - kneeRun.workflowTasksPerSec))} tasks/s of headroom would hold ≈ ${n(Math.max(0, limit.maxWorkflowTasksPerSec - kneeRun.workflowTasksPerSec) * perTask)} more agents if Temporal alone were the limit. The box's CPU at the knee: ${n(cores(kneeRun), 2)} of 2 cores (bench client excluded).`,
    );
  }
  L.push('', ...whereCpuGoes(rs, kneeRun, limit));
  L.push('', ...paperModel(kneeRun ?? rs[0], limit));
  L.push('', `![chart](${path.relative(path.dirname(mdFile), pngFile)})`, '', END);

  const block = L.join('\n');
  let md = await fs.readFile(mdFile, 'utf8').catch(() => `# Benchmarks\n\n${START}\n${END}\n`);
  if (!md.includes(START)) md += `\n${START}\n${END}\n`;
  md = md.slice(0, md.indexOf(START)) + block + md.slice(md.indexOf(END) + END.length);
  await fs.writeFile(mdFile, md);
  await fs.writeFile(
    pngFile,
    new Resvg(chart(rs, limit), {
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
      background: 'white',
    })
      .render()
      .asPng(),
  );
  return mdFile;
}

/** CPU per 1,000 agents, per accepted event and per workflow task, process by process; the step after the knee, if any, shows what ran out. */
function whereCpuGoes(rs: PhaseResult[], knee: PhaseResult | undefined, limit: LimitResult | undefined): string[] {
  const procs = [...new Set(rs.flatMap((r) => Object.keys(r.processes)))].filter((p) => p !== 'bench client');
  const out = [
    'Where the CPU goes: cores per 1,000 agents, and CPU ms per accepted event (gateway, Postgres, load generator) or per workflow task (worker, Temporal):',
    '',
  ];
  out.push(`| agents | ${procs.join(' | ')} | all |`, `|---|${procs.map(() => '---').join('|')}|---|`);
  for (const r of rs) {
    const cell = (p: string) => {
      const u = r.processes[p];
      if (!u) return '–';
      const perK = (u.cores * 1000) / r.agents;
      const perTask = p === 'worker' || p === 'temporal';
      const per = perTask
        ? r.workflowTasksPerSec
          ? (u.cores * 1000) / r.workflowTasksPerSec
          : null
        : (u.cores * 1000) / Math.max(1e-9, r.eventsPerSec);
      return `${n(perK, 3)} (${n(per, 2)} ms/${perTask ? 'task' : 'event'})`;
    };
    out.push(`| ${n(r.agents)} | ${procs.map(cell).join(' | ')} | ${n((cores(r) * 1000) / r.agents, 3)} |`);
  }
  const after = knee ? rs[rs.indexOf(knee) + 1] : rs[0];
  if (after) {
    const top = procs
      .filter((p) => after.processes[p])
      .sort((a, b) => after.processes[b]!.cores - after.processes[a]!.cores);
    const share =
      limit && after.workflowTasksPerSec
        ? `; ${n(after.workflowTasksPerSec)} workflow tasks/s, ${n((after.workflowTasksPerSec / limit.maxWorkflowTasksPerSec) * 100)} % of the dev server's limit`
        : '';
    out.push(
      '',
      `At ${n(after.agents)} agents${knee ? ' (the step after the knee)' : ''} the processes under test kept **${n(cores(after), 2)} of the box's 2 cores** busy (${top.map((p) => `${p} ${n(after.processes[p]!.cores, 2)}`).join(', ')})${share}.`,
    );
  }
  return out;
}

/** The reference fleet on paper, from one phase's per-agent figures (the knee's). */
function paperModel(r: PhaseResult | undefined, limit: LimitResult | undefined): string[] {
  if (!r || r.workflowTasksPerAgentHour === null || r.workflowTasksPerSec === null) return [];
  const A = FLEET.agents;
  const perAgent = (x: number) => (x * A) / r.agents;
  const wft = (A * r.workflowTasksPerAgentHour) / 3600;
  const hist = r.historyEventsPerAgentHour === null ? null : (A * r.historyEventsPerAgentHour) / 3600;
  const signals = (A * r.signalsPerAgentHour) / 3600;
  const ms = (proc: string) => (r.processes[proc] ? (r.processes[proc].cores * 1000) / r.workflowTasksPerSec! : null);
  const temporalCores = ms('temporal') === null ? null : (wft * ms('temporal')!) / 1000;
  const workerCores = perAgent(r.processes.worker?.cores ?? 0);
  const gatewayCores = perAgent(r.processes.gateway?.cores ?? 0);
  const pgCores = perAgent(r.processes.postgres?.cores ?? 0);
  const gwMemGiB = r.memoryPerAgentKiB.gateway === null ? null : (A * r.memoryPerAgentKiB.gateway) / 1024 / 1024;
  const wkMemGiB = r.memoryPerAgentKiB.worker === null ? null : (A * r.memoryPerAgentKiB.worker) / 1024 / 1024;
  const gateways = Math.max(Math.ceil(A / AGENTS_PER_GATEWAY), Math.ceil(gatewayCores / 1.5));
  return [
    `### On paper: ${n(A)} agents, from the ${n(r.agents)}-agent step`,
    '',
    '| | how | estimate |',
    '|---|---|---|',
    `| events | ${n(A)} × ${n(r.eventsPerAgentSec, 3)} events/s per agent (reference: ${n(FLEET.eventsPerSec)}/s) | ${n(A * r.eventsPerAgentSec)}/s |`,
    `| signals to Temporal | ${n(A)} × ${n(r.signalsPerAgentHour)} per agent-hour | ${n(signals)}/s |`,
    `| workflow tasks | ${n(A)} × ${n(r.workflowTasksPerAgentHour)} per agent-hour | **${n(wft)}/s** |`,
    `| history events written | ${n(A)} × ${n(r.historyEventsPerAgentHour)} per agent-hour | **${n(hist)}/s** |`,
    `| Temporal CPU | ${n(wft)} tasks/s × ${n(ms('temporal'), 1)} ms per task (dev server: all services and SQLite in one process) | ≈ ${n(temporalCores, 1)} cores |`,
    `| this box's Temporal | ${n(limit?.maxWorkflowTasksPerSec)} tasks/s at most (trivial workflow) | ${limit ? `${n(wft / limit.maxWorkflowTasksPerSec, 1)}× this dev server` : '–'} |`,
    `| worker | ${n(r.processes.worker?.cores, 2)} cores and ${n(r.memoryPerAgentKiB.worker)} KiB per agent at ${n(r.agents)} agents, scaled | ≈ ${n(workerCores, 1)} cores, ≈ ${n(wkMemGiB, 1)} GiB of workflow cache |`,
    `| gateways | ${n(r.processes.gateway?.cores, 2)} cores and ${n(r.memoryPerAgentKiB.gateway)} KiB per connection at ${n(r.agents)}, scaled; ≤ ${n(AGENTS_PER_GATEWAY)} connections and ≤ 1.5 busy cores per instance | ≈ ${n(gatewayCores, 1)} cores, ${n(gwMemGiB, 1)} GiB: ${gateways} instances |`,
    `| Postgres (intake, HCM, outbox) | ${n(r.processes.postgres?.cores, 2)} cores at ${n(r.agents)} agents, scaled | ≈ ${n(pgCores, 1)} cores |`,
  ];
}

/** Four panels over the ramp: CPU per process, latency, workflow tasks/s against the limit, memory per agent. */
function chart(rs: PhaseResult[], limit: LimitResult | undefined): string {
  const W = 1100;
  const H = 760;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const text = (x: number, y: number, s: string, extra = '') =>
    out.push(`<text x="${x}" y="${y}" ${extra}>${s}</text>`);
  const colors = ['#3b6ea8', '#e08a2c', '#5a9e6f', '#c0392b', '#8e44ad', '#7f8c8d', '#16a085'];
  const panel = (
    px: number,
    py: number,
    title: string,
    unit: string,
    series: { label: string; values: (number | null)[] }[],
    hline?: { label: string; value: number },
    legendLeft = true,
  ) => {
    const pw = 440,
      ph = 250;
    text(px, py - 12, title, 'font-size="14" font-weight="bold"');
    const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
    const maxY = Math.max(1e-9, ...all, hline?.value ?? 0) * 1.1;
    out.push(
      `<line x1="${px}" y1="${py + ph}" x2="${px + pw}" y2="${py + ph}" stroke="black"/><line x1="${px}" y1="${py}" x2="${px}" y2="${py + ph}" stroke="black"/>`,
    );
    text(px - 4, py + 4, n(maxY, maxY < 10 ? 1 : 0), 'text-anchor="end" font-size="10"');
    text(px - 4, py + ph, '0', 'text-anchor="end" font-size="10"');
    text(px + 4, py + 10, unit, 'font-size="10" fill="#555"');
    const xs = (i: number) => px + 30 + (i * (pw - 60)) / Math.max(1, rs.length - 1);
    const ys = (v: number) => py + ph - (v / maxY) * ph;
    rs.forEach((r, i) => text(xs(i) - 12, py + ph + 16, n(r.agents), 'font-size="10"'));
    if (hline) {
      out.push(
        `<line x1="${px}" y1="${ys(hline.value)}" x2="${px + pw}" y2="${ys(hline.value)}" stroke="#c0392b" stroke-dasharray="6,4"/>`,
      );
      text(px + pw - 4, ys(hline.value) + 14, hline.label, 'text-anchor="end" fill="#c0392b" font-size="10"');
    }
    series.forEach((s, k) => {
      const c = colors[k % colors.length]!;
      const pts = s.values
        .map((v, i) => (v === null ? null : `${xs(i)},${ys(v)}`))
        .filter(Boolean)
        .join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"/>`);
      s.values.forEach((v, i) => v !== null && out.push(`<circle cx="${xs(i)}" cy="${ys(v)}" r="3" fill="${c}"/>`));
      text(legendLeft ? px + 60 : px + pw - 150, py + 24 + k * 16, s.label, `fill="${c}" font-size="11"`);
    });
  };
  const procs = [...new Set(rs.flatMap((r) => Object.keys(r.processes)))].filter((p) => p !== 'bench client');
  panel(
    60,
    50,
    'CPU per process vs agents',
    'cores',
    procs.map((p) => ({ label: p, values: rs.map((r) => r.processes[p]?.cores ?? null) })),
  );
  panel(60, 420, 'Latency vs agents', 'ms (p99)', [
    { label: 'steady receipt p99', values: rs.map((r) => r.steadyReceiptMs.p99) },
    { label: 'window lateness p99', values: rs.map((r) => r.latenessMs.p99) },
  ]);
  panel(
    600,
    50,
    'Workflow tasks/s vs agents',
    'tasks/s',
    [{ label: 'Vigil', values: rs.map((r) => r.workflowTasksPerSec) }],
    limit
      ? { label: `trivial workflow limit ${n(limit.maxWorkflowTasksPerSec)}/s`, value: limit.maxWorkflowTasksPerSec }
      : undefined,
  );
  panel(
    600,
    420,
    'Memory per connected agent',
    'KiB',
    [
      { label: 'gateway', values: rs.map((r) => r.memoryPerAgentKiB.gateway) },
      { label: 'worker', values: rs.map((r) => r.memoryPerAgentKiB.worker) },
    ],
    undefined,
    false,
  );
  text(W / 2 - 20, H - 8, 'agents');
  out.push('</svg>');
  return out.join('\n');
}

if (process.argv[1]?.endsWith('report.ts') && process.argv[2]) {
  const file = process.argv[2];
  const md = await writeReport(file, path.resolve('BENCHMARKS.md'), path.join(path.dirname(file), 'chart.png'));
  process.stdout.write(`updated ${md}\n`);
}
