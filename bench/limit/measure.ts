// Temporal's own limit on this box: the dev server driven by the trivial signal-and-timer workflow
// (bench/limit/workflow.ts) at rising signal rates. Workflow tasks per second are counted by the
// server itself (`service_requests{operation="RespondWorkflowTaskCompleted"}` of its frontend), the
// same counter the Vigil phases are measured with, so the two compare directly.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { cpuSeconds, watch, type ProcUsage } from '../procstat.ts';
import { pct } from '../stats.ts';
import { LIMIT_TASK_QUEUE } from './worker.ts';

export interface LimitStep {
  /** Signals per second offered. */
  offered: number;
  /** Signals per second the server accepted (the sender keeps at most `inflight` outstanding). */
  signalsPerSec: number;
  signalMs: { p50: number | null; p99: number | null };
  workflowTasksPerSec: number;
  processes: Record<string, ProcUsage>;
}

export interface LimitResult {
  label: string;
  workflows: number;
  stepSec: number;
  steps: LimitStep[];
  /** The most workflow tasks per second sustained over one step. */
  maxWorkflowTasksPerSec: number;
}

/** Sum of a metric's samples whose labels contain every `match` (Prometheus text format). */
export async function scrape(url: string, name: string, match: string[] = []): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (match.every((m) => line.includes(m))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Waits (up to 3 min) until `pid` uses under 0.1 core: the server has worked off its backlog. */
export async function quiet(pid: number, say: (s: string) => void): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 3000));
    const used = (cpuSeconds(pid) - c0) / 3;
    if (used < 0.1 || Date.now() - t0 > 180_000) {
      say(`Temporal quiet after ${Math.round((Date.now() - t0) / 1000)} s (${used.toFixed(2)} cores)`);
      return;
    }
  }
}

export const completedWorkflowTasks = (metricsUrl: string) =>
  scrape(metricsUrl, 'service_requests', ['operation="RespondWorkflowTaskCompleted"', 'service_name="frontend"']);

export async function measureTemporalLimit(o: {
  label: string;
  address: string;
  metricsUrl: string;
  temporalPid?: number;
  workflows?: number;
  rates?: number[];
  stepSec?: number;
  say(s: string): void;
}): Promise<LimitResult> {
  const workflows = o.workflows ?? 1000;
  const rates = o.rates ?? [100, 200, 400, 800, 1600];
  const stepSec = o.stepSec ?? 20;
  const worker = fork(new URL('./worker.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TEMPORAL_ADDRESS: o.address, TEMPORAL_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('exit', (code) => reject(new Error(`limit worker exited with ${code}`)));
  });
  const connection = await Connection.connect({ address: o.address });
  const client = new Client({ connection });
  const run = randomBytes(3).toString('hex');
  const ids = Array.from({ length: workflows }, (_, i) => `limit-${run}-${i}`);
  const steps: LimitStep[] = [];
  try {
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id) => client.workflow.start('sleeper', { taskQueue: LIMIT_TASK_QUEUE, workflowId: id })),
      );
    }
    await new Promise((r) => setTimeout(r, 3000));
    let k = 0;
    for (const rate of rates) {
      const latencies: number[] = [];
      let sent = 0;
      let inflight = 0;
      const maxInflight = 500;
      const usage = watch({ temporal: o.temporalPid, 'limit worker': worker.pid, 'bench client!': process.pid });
      const wft0 = await completedWorkflowTasks(o.metricsUrl);
      const t0 = Date.now();
      // Every 10 ms, send what the rate owes since t0 (bounded by the in-flight cap).
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const elapsed = Date.now() - t0;
          if (elapsed >= stepSec * 1000) {
            clearInterval(tick);
            resolve();
            return;
          }
          const owed = Math.floor((elapsed / 1000) * rate) - sent;
          for (let j = 0; j < owed && inflight < maxInflight; j++) {
            const id = ids[k++ % ids.length]!;
            const at = Date.now();
            sent++;
            inflight++;
            client.workflow
              .getHandle(id)
              .signal('poke')
              .then(
                () => latencies.push(Date.now() - at),
                () => {},
              )
              .finally(() => inflight--);
          }
          if (owed > 0 && inflight >= maxInflight) sent = Math.floor((elapsed / 1000) * rate); // the rest is not offered
        }, 10);
      });
      const wall = (Date.now() - t0) / 1000;
      const wft = (await completedWorkflowTasks(o.metricsUrl)) - wft0;
      const step: LimitStep = {
        offered: rate,
        signalsPerSec: Math.round(latencies.length / wall),
        signalMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
        workflowTasksPerSec: Math.round(wft / wall),
        processes: usage.stop(),
      };
      steps.push(step);
      o.say(
        `${o.label}: ${rate} signals/s offered → ${step.signalsPerSec} accepted/s, signal p50 ${step.signalMs.p50} ms p99 ${step.signalMs.p99} ms, ${step.workflowTasksPerSec} workflow tasks/s`,
      );
      while (inflight > 0) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 3000)); // backlog drains before the next step
      // Past the peak: more signals only batch into fewer, larger tasks and leave a backlog.
      const best = Math.max(...steps.map((x) => x.workflowTasksPerSec));
      if (
        (step.signalMs.p50 ?? Infinity) > 1000 ||
        step.signalsPerSec < 0.8 * rate ||
        step.workflowTasksPerSec < 0.9 * best
      )
        break;
    }
  } finally {
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids.slice(i, i + 100).map((id) =>
          client.workflow
            .getHandle(id)
            .terminate('limit measured')
            .catch(() => {}),
        ),
      );
    }
    await connection.close();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    if (o.temporalPid) await quiet(o.temporalPid, o.say);
  }
  return {
    label: o.label,
    workflows,
    stepSec,
    steps,
    maxWorkflowTasksPerSec: Math.max(0, ...steps.map((s) => s.workflowTasksPerSec)),
  };
}
