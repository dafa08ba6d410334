// Turns a results file of `npm run bench` into the tables of BENCHMARKS.md (between markers, so
// the prose around them stays) and a PNG chart. `npx tsx bench/report.ts <results.json>` redoes it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { PhaseResult } from './run.ts';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

const n = (x: number | null | undefined, d = 0) => (x === null || x === undefined ? '–' : x.toFixed(d));

export async function writeReport(resultsFile: string, mdFile: string, pngFile: string): Promise<string> {
  const doc = JSON.parse(await fs.readFile(resultsFile, 'utf8')) as { at: string; args: Record<string, unknown>; knee: number | null; results: PhaseResult[] };
  const rs = doc.results;
  const lines: string[] = [];
  lines.push(START, '', `Measured ${doc.at} — results file \`${path.relative(path.dirname(mdFile), resultsFile)}\`.`, '');
  lines.push('| phase | agents connected (peak at once) | events/s | receipt p50 / p99 ms (steady p50 / p99) | signals per event | workflow tasks per event | state change → commit p50 / p99 ms | → feed p50 / p99 ms | window lateness p50 / p99 / max ms | window transitions | wrong transitions | history events per agent-hour |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rs) {
    const windows = Object.entries(r.transitions).filter(([k]) => /^(IDLE:NO_TASK|ABNORMAL|OFFLINE:ABNORMAL_TIMEOUT)/.test(k)).reduce((s, [, v]) => s + v, 0);
    lines.push(`| ${r.name} (${r.mode}) | ${r.agentsConnected ?? r.peakConnected} / ${r.agents} (${r.peakConnected}) | ${n(r.eventsPerSec)} | ${n(r.receiptMs.p50)} / ${n(r.receiptMs.p99)} (${n(r.steadyReceiptMs?.p50)} / ${n(r.steadyReceiptMs?.p99)}) | ${n(r.signalsPerEvent, 3)} | ${n(r.workflowTasksPerEvent, 3)} | ${n(r.e2eCommitMs.p50)} / ${n(r.e2eCommitMs.p99)} | ${n(r.e2eFeedMs.p50)} / ${n(r.e2eFeedMs.p99)} | ${n(r.latenessMs.p50)} / ${n(r.latenessMs.p99)} / ${n(r.latenessMs.max)} | ${windows} | ${r.wrongTransitions} | ${n(r.historyEventsPerAgentHour)} |`);
  }
  lines.push('', 'CPU (cores busy on average) and peak memory (PSS, MiB) per process:', '');
  const procs = [...new Set(rs.flatMap((r) => Object.keys(r.processes)))];
  lines.push(`| phase | ${procs.join(' | ')} |`, `|---|${procs.map(() => '---').join('|')}|`);
  for (const r of rs) lines.push(`| ${r.name} | ${procs.map((p) => (r.processes[p] ? `${n(r.processes[p]!.cores, 2)} / ${n(r.processes[p]!.peakPssMiB)}` : '–')).join(' | ')} |`);
  const co = rs.find((r) => r.mode === 'coalesced' && !r.name.startsWith('ramp'));
  const na = rs.find((r) => r.mode === 'naive');
  if (co && na) {
    lines.push('', `Coalescing versus one signal per frame, same mix and agent count: **${n(co.signalsPerEvent, 3)}** versus **${n(na.signalsPerEvent, 3)}** signals per event (${n(na.signalsPerEvent / co.signalsPerEvent, 1)}× fewer); workflow tasks per event ${n(co.workflowTasksPerEvent, 3)} versus ${n(na.workflowTasksPerEvent, 3)}.`);
  }
  const ramp = rs.filter((r) => r.name.startsWith('ramp-'));
  if (ramp.length > 0) lines.push('', `Ramp: the largest step within the thresholds (receipt p99 ≤ ${doc.args['max-receipt-p99']} ms, window lateness p99 ≤ ${doc.args['max-lateness-p99']} ms, zero wrong transitions, every agent connected) was **${doc.knee ?? 'none'}** agents.`);
  const held = rs.filter((r) => r.wrongTransitions === 0 && (r.agentsConnected ?? r.peakConnected) === r.agents).reduce((m, r) => Math.max(m, r.agents), 0);
  lines.push('', `Largest agent count held with zero wrong transitions in this run: **${held}**.`, '', `![chart](${path.relative(path.dirname(mdFile), pngFile)})`, '', END);

  const block = lines.join('\n');
  let md = await fs.readFile(mdFile, 'utf8').catch(() => `# Benchmarks\n\n${START}\n${END}\n`);
  if (!md.includes(START)) md += `\n${START}\n${END}\n`;
  md = md.slice(0, md.indexOf(START)) + block + md.slice(md.indexOf(END) + END.length);
  await fs.writeFile(mdFile, md);
  await fs.writeFile(pngFile, new Resvg(chart(rs), { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng());
  return mdFile;
}

/** Left: signals and workflow tasks per event, coalesced vs naive. Right: the ramp. */
function chart(rs: PhaseResult[]): string {
  const W = 1000;
  const H = 420;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  const text = (x: number, y: number, s: string, extra = '') => out.push(`<text x="${x}" y="${y}" ${extra}>${s}</text>`);

  // Left panel.
  const pair = rs.filter((r) => !r.name.startsWith('ramp-'));
  text(30, 28, 'Cost per accepted event', 'font-size="15" font-weight="bold"');
  const maxV = Math.max(0.01, ...pair.flatMap((r) => [r.signalsPerEvent, r.workflowTasksPerEvent ?? 0]));
  const x0 = 60, y0 = 360, ph = 290, bw = 50;
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x0 + 380}" y2="${y0}" stroke="black"/>`);
  pair.forEach((r, i) => {
    const vals: [string, number, string][] = [['signals', r.signalsPerEvent, '#3b6ea8'], ['wf tasks', r.workflowTasksPerEvent ?? 0, '#e08a2c']];
    vals.forEach(([label, v, color], j) => {
      const h = (v / maxV) * ph;
      const x = x0 + 30 + i * 180 + j * (bw + 10);
      out.push(`<rect x="${x}" y="${y0 - h}" width="${bw}" height="${h}" fill="${color}"/>`);
      text(x, y0 - h - 6, v.toFixed(3));
      text(x, y0 + 16, label, 'font-size="11"');
    });
    text(x0 + 40 + i * 180, y0 + 36, `${r.mode} (${r.agents} agents)`, 'font-weight="bold"');
  });

  // Right panel.
  const ramp = rs.filter((r) => r.name.startsWith('ramp-'));
  const rx0 = 560, ry0 = 360, rw = 400;
  text(rx0 - 20, 28, ramp.length ? 'Ramp: receipt p99 and window lateness p99' : 'Events accepted per second', 'font-size="15" font-weight="bold"');
  out.push(`<line x1="${rx0}" y1="${ry0}" x2="${rx0 + rw}" y2="${ry0}" stroke="black"/><line x1="${rx0}" y1="${ry0}" x2="${rx0}" y2="${ry0 - ph}" stroke="black"/>`);
  if (ramp.length) {
    const maxY = Math.max(1, ...ramp.flatMap((r) => [r.steadyReceiptMs?.p99 ?? 0, r.latenessMs.p99 ?? 0]));
    const xs = (i: number) => rx0 + 30 + (i * (rw - 60)) / Math.max(1, ramp.length - 1);
    const ys = (v: number) => ry0 - (v / maxY) * ph;
    const line = (get: (r: PhaseResult) => number | null, color: string) => {
      const pts = ramp.map((r, i) => `${xs(i)},${ys(get(r) ?? 0)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
      ramp.forEach((r, i) => {
        out.push(`<circle cx="${xs(i)}" cy="${ys(get(r) ?? 0)}" r="3" fill="${color}"/>`);
        text(xs(i) + 4, ys(get(r) ?? 0) - 4, `${n(get(r))}`, `fill="${color}" font-size="10"`);
      });
    };
    line((r) => r.steadyReceiptMs?.p99 ?? null, '#3b6ea8');
    line((r) => r.latenessMs.p99, '#c0392b');
    ramp.forEach((r, i) => text(xs(i) - 10, ry0 + 16, String(r.agents)));
    text(rx0 + rw / 2 - 20, ry0 + 36, 'agents');
    text(rx0 + 10, 50, 'steady receipt p99 (ms)', 'fill="#3b6ea8"');
    text(rx0 + 160, 50, 'window lateness p99 (ms)', 'fill="#c0392b"');
  } else {
    const maxE = Math.max(1, ...pair.map((r) => r.eventsPerSec));
    pair.forEach((r, i) => {
      const h = (r.eventsPerSec / maxE) * ph;
      const x = rx0 + 40 + i * 150;
      out.push(`<rect x="${x}" y="${ry0 - h}" width="80" height="${h}" fill="#5a9e6f"/>`);
      text(x, ry0 - h - 6, n(r.eventsPerSec));
      text(x, ry0 + 16, r.mode);
    });
  }
  out.push('</svg>');
  return out.join('\n');
}

if (process.argv[1]?.endsWith('report.ts') && process.argv[2]) {
  const file = process.argv[2];
  const md = await writeReport(file, path.resolve('BENCHMARKS.md'), path.join(path.dirname(file), 'chart.png'));
  process.stdout.write(`updated ${md}\n`);
}
