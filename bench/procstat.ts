// CPU and memory of the processes under test, from /proc (Linux): CPU seconds over a phase and
// the peak proportional set size (PSS: shared pages split between their users, so Postgres
// backends sharing buffers are not counted many times).
import fs from 'node:fs';
import { round } from './stats.ts';

const TICK = 100; // USER_HZ on Linux

export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

export function pssMiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The process and all its descendants. */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** First process whose command line contains every needle. */
export function findPid(...needles: string[]): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (needles.every((n) => cmd.includes(n))) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export interface ProcUsage {
  cpuSec: number;
  /** CPU seconds per wall second (1.0 = one core busy). */
  cores: number;
  peakPssMiB: number;
}

/** A name ending in `!` counts that process alone, not its descendants (the bench client spawns the rest). */
const rootsOf = (name: string, pid: number) => (name.endsWith('!') ? [pid] : tree(pid));

/**
 * Samples named process trees every second (a name may stand for several processes, summed);
 * `stop()` returns CPU used since start and peak memory.
 */
export function watch(pids: Record<string, number | number[] | undefined>): { stop(): Record<string, ProcUsage> } {
  const t0 = Date.now();
  const names = Object.keys(pids).filter((name) => list(pids[name]).length > 0);
  const all = (name: string) => list(pids[name]).flatMap((p) => rootsOf(name, p));
  // Per process: CPU when first seen (0 for one born after the start) and as last seen, so a
  // process that exits before stop() keeps what it used.
  const first = new Map<number, number>();
  const last = new Map<number, { name: string; cpu: number }>();
  const peak: Record<string, number> = {};
  let started = false;
  const sample = () => {
    for (const name of names) {
      const ps = all(name);
      for (const p of ps) {
        const cpu = cpuSeconds(p);
        if (!first.has(p)) first.set(p, started ? 0 : cpu);
        if (cpu > 0) last.set(p, { name, cpu });
      }
      peak[name] = Math.max(
        peak[name] ?? 0,
        ps.reduce((s, p) => s + pssMiB(p), 0),
      );
    }
  };
  sample();
  started = true;
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const wall = (Date.now() - t0) / 1000;
      const out: Record<string, ProcUsage> = {};
      for (const name of names) {
        let used = 0;
        for (const [p, l] of last) if (l.name === name) used += l.cpu - (first.get(p) ?? 0);
        out[name.replace(/!$/, '')] = {
          cpuSec: round(used, 2),
          cores: round(used / wall, 2),
          peakPssMiB: round(peak[name] ?? 0, 2),
        };
      }
      return out;
    },
  };
}

const list = (p: number | number[] | undefined) => (p === undefined ? [] : Array.isArray(p) ? p : [p]);
