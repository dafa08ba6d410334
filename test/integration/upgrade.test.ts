// Agent workflows run forever: a workflow started by engine-1 code must keep working when the worker
// is upgraded, and take the facts-first engine at its next live task (README "Upgrading").
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordEvents } from '../../db/intake.ts';
import { WORKFLOWS_PATH, createAgentWorker } from '../../workers/agent-worker.ts';
import { agentWorkflowId } from '../../workflows/contract.ts';
import { createHarness, eventually, recordHistory, setRule, type Harness } from '../harness.ts';
import { deliver, ev, live, statusLog, waitForStatus } from './agent-helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENGINE_1_API = path.join(here, '..', 'fixtures', 'engine-1-workflow-api.ts');

describe('upgrading a running agent workflow from engine 1 to the facts-first engine', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('upgrade');
    await setRule(h, 'fast', {
      windows: {
        idleAfterNoTaskSec: 1,
        remindAfterNoActionSec: 2,
        abnormalAfterNoActionSec: 3,
        offlineAfterAbnormalSec: 30,
      },
      reconnectGraceSec: 1,
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps running on the new worker without a nondeterminism error and reaches engine 2 at its next task', async () => {
    const agent = 'upgraded';
    const id = agentWorkflowId(h.tenant, agent);
    const { code } = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: {
        log() {},
        trace() {},
        debug() {},
        info() {},
        warn() {},
        error: (m: string) => process.stderr.write(`${m}\n`),
      },
      webpackConfigHook: (config) => ({
        ...config,
        resolve: {
          ...config.resolve,
          alias: { ...(config.resolve?.alias as object), '@temporalio/workflow$': ENGINE_1_API },
        },
      }),
    });
    const nc = await NativeConnection.connect({ address: inject('temporalAddress') });
    const old = await createAgentWorker({
      connection: nc,
      namespace: 'default',
      taskQueue: h.taskQueue,
      workflowBundle: { code },
      pool: h.pool,
      region: 'local',
    });
    const oldRun = old.run();

    await deliver(h, agent, { devices: [{ deviceId: 'tab-1', connected: true, at: Date.now() }], events: [ev(101)] });
    await waitForStatus(h, agent, 'IDLE', 10_000);
    expect((await live(h, agent)).engine).toBe(1);
    old.shutdown();
    await oldRun;
    await nc.close();

    // Upgrade: today's worker. The agent keeps acting, but only HCM hears of it (no signal), which
    // engine 1 could not see and engine 2 reads at its next wake-up.
    const w = await h.startWorker();
    try {
      const until = Date.now() + 6000;
      while (Date.now() < until) {
        await recordEvents(h.pool, h.tenant, agent, [ev(101)]);
        await new Promise((r) => setTimeout(r, 500));
      }
      const state = await eventually(
        async () => {
          const s = await live(h, agent);
          return s.engine === 2 ? s : undefined;
        },
        10_000,
        'engine 2',
      );
      expect(state.timeline.some((t) => t.kind === 'wake')).toBe(true);
      expect((await statusLog(h, agent)).map((r) => r.to_status)).toEqual(['IDLE']);
      // Silent now: ABNORMAL on the facts-first engine.
      await waitForStatus(h, agent, 'ABNORMAL', 10_000);
      const history = await h.client.workflow.getHandle(id).fetchHistory();
      const failed = history.events?.filter((e) => e.workflowTaskFailedEventAttributes) ?? [];
      expect(failed).toEqual([]);
      expect(history.events?.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toBe(true);
      // VIGIL_RECORD_HISTORIES=1: kept for replay.test.ts, like the engine tests' histories.
      await recordHistory(id, 'upgraded-engine-1-to-2');
    } finally {
      await w.stop();
    }
  });
});
