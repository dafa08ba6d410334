// A long, realistic heartbeat + activity + ticket stream (bench/agent-hour.ts, compressed 30× with
// the rule's windows compressed alike): continue-as-new keeps every run's history under the limit,
// and nothing is lost or changed across the runs. bench/history.ts measures the same stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALISTIC, agentStream, compressedRule, driveAgent, runHistories } from '../../bench/agent-hour.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { createHarness, setRule, type Harness } from '../harness.ts';
import { assertChain, live, statusLog, waitForStatus } from './agent-helpers.ts';

const SCALE = 30;
// Engine 2 signals a realistic agent about 25 times an hour, so a small limit makes runs roll.
const HISTORY_LIMIT = 30;
// The run rolls at its first wake after reaching the limit, so it may pass the limit by: the
// workflow task that crossed it (≤ 6 events), that wake's inputs (a commit and a task re-read: two
// HCM calls, local activities of a marker each, plus a signal that arrives meanwhile) and the closing task.
const OVERSHOOT = 25;

describe('history stays bounded under a steady stream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('history');
    await setRule(h, 'compressed', compressedRule(SCALE));
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('continues as new before any run exceeds the limit, carrying state through every run', async () => {
    const agentId = 'steady';
    const steps = await agentStream(REALISTIC, 0.25); // 15 agent-minutes: 30 s here
    const driven = await driveAgent({
      pool: h.pool,
      client: h.client,
      taskQueue: h.taskQueue,
      tenant: h.tenant,
      agentId,
      steps,
      scale: SCALE,
      historyLimit: HISTORY_LIMIT,
    });
    const runs = await runHistories(h.client, agentWorkflowId(h.tenant, agentId), driven.firstRunId);

    expect(runs.length).toBeGreaterThanOrEqual(3);
    const sizes = runs.map((r) => r.events).join(', ');
    for (const r of runs) expect(r.events, `run sizes ${sizes}`).toBeLessThanOrEqual(HISTORY_LIMIT + OVERSHOOT);
    expect(runs.slice(0, -1).every((r) => r.continuedAsNew)).toBe(true);
    expect(runs.at(-1)!.continuedAsNew).toBe(false);
    // Every signal landed in exactly one run.
    expect(runs.reduce((n, r) => n + r.signals, 0)).toBe(steps.length);

    // The last signal is the last ticket's completion: IDLE follows 30 virtual seconds (1 s) later.
    await waitForStatus(h, agentId, 'IDLE', 10_000);
    const s = await live(h, agentId);
    expect(s.taskCount).toBe(0);
    expect(s.lastActionAt).toBe(driven.lastActionTs);
    expect(s.onApp).toBe(true);
    const log = await statusLog(h, agentId);
    assertChain(log);
    // Three tickets: IDLE after each completes (30 s without a task), ONLINE when the next arrives.
    expect(log.map((r) => `${r.to_status}:${r.cause}`)).toEqual([
      'IDLE:NO_TASK',
      'ONLINE:TASK_ASSIGNED',
      'IDLE:NO_TASK',
      'ONLINE:TASK_ASSIGNED',
      'IDLE:NO_TASK',
    ]);
  });
});
