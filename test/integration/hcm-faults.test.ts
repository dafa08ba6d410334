// HCM's failures end visibly: a data error Postgres refuses is a recorded rejection (never an
// endless retry that wedges the agent), and an unreachable Postgres is shown by the workflow's
// `state` query until it is back, when the workflow resumes by itself.
import fs from 'node:fs/promises';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { createAgentWorker } from '../../workers/agent-worker.ts';
import { createWorkerMetrics } from '../../workers/worker-metrics.ts';
import { agentWorkflowId, setStatusUpdate } from '../../workflows/contract.ts';
import { createHarness, eventually, setRule, type Harness } from '../harness.ts';
import { startRelay } from '../relay.ts';
import { deliver, ev, live, statusLog, waitForStatus } from './agent-helpers.ts';

const FAST = {
  windows: {
    idleAfterNoTaskSec: 1,
    remindAfterNoActionSec: 20,
    abnormalAfterNoActionSec: 30,
    offlineAfterAbnormalSec: 30,
  },
};

describe('HCM failures end visibly', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('hcmfaults');
    await setRule(h, 'fast', FAST);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a data error inside HCM ends as an INVALID_INPUT rejection, and the agent keeps being decided', async () => {
    const w = await h.startWorker();
    try {
      const agent = 'poisoned';
      const handle = await deliver(h, agent, { events: [ev(3, { ticketId: 'T-1' })] });
      // Past the gateway's edge checks (a direct Temporal client): Postgres refuses NUL in text.
      const reply = await handle.executeUpdate(setStatusUpdate, {
        args: [
          { status: 'BUSY', actor: { kind: 'supervisor', id: 'sup' }, reason: 'bad\u0000reason', requestId: 'r-nul' },
        ],
      });
      expect(reply).toMatchObject({ committed: false, reason: 'INVALID_INPUT', facts: { status: 'ONLINE' } });
      expect(
        (await live(h, agent)).timeline.some((t) => t.kind === 'reject' && t.detail.includes('INVALID_INPUT')),
      ).toBe(true);
      // Not wedged: the task completes and the IDLE window commits as usual.
      await deliver(h, agent, { events: [ev(5, { ticketId: 'T-1' })] });
      await waitForStatus(h, agent, 'IDLE', 10_000);
      expect((await statusLog(h, agent)).map((r) => r.to_status)).toEqual(['IDLE']);
    } finally {
      await w.stop();
    }
  });

  it('while Postgres is out of reach the state query says so, and the workflow resumes by itself', async () => {
    const url = new URL(inject('databaseUrl'));
    const relay = await startRelay(`${url.hostname}:${url.port}`);
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    const pool = createPool(url.toString(), 5);
    const nc = await NativeConnection.connect({ address: inject('temporalAddress') });
    const code = await fs.readFile(inject('workflowBundlePath'), 'utf8');
    // The worker's metrics as workers/main.ts wires them (vigil_hcm_calls_total).
    const metrics = createWorkerMetrics();
    const worker = await createAgentWorker({
      connection: nc,
      namespace: 'default',
      taskQueue: h.taskQueue,
      workflowBundle: { code },
      pool,
      region: 'local',
      onCall: metrics.onCall,
    });
    const running = worker.run();
    try {
      const agent = 'stranded';
      await deliver(h, agent, { events: [ev(3, { ticketId: 'T-2' })] });
      await eventually(async () => (await live(h, agent)).taskCount === 1, 10_000, 'the first task');
      await relay.cut();
      // The task completes while HCM is out of reach of the worker: the IDLE commit cannot happen.
      await deliver(h, agent, { events: [ev(5, { ticketId: 'T-2' })] });
      const stuck = await eventually(
        async () => {
          const s = await live(h, agent);
          return s.hcmTrouble ? s : undefined;
        },
        60_000,
        'the state query to report failing HCM calls',
      );
      expect(stuck.hcmTrouble!.failures).toBeGreaterThanOrEqual(1);
      expect(stuck.hcmTrouble!.lastError).toBeTruthy();
      expect(stuck.timeline.some((t) => t.kind === 'hcm')).toBe(true);
      const failed = await metrics.registry.getSingleMetric('vigil_hcm_calls_total')!.get();
      expect(
        failed.values.filter((v) => v.labels.outcome === 'error').reduce((n, v) => n + v.value, 0),
      ).toBeGreaterThan(0);
      await relay.restore();
      await waitForStatus(h, agent, 'IDLE', 60_000);
      await eventually(async () => (await live(h, agent)).hcmTrouble === null, 10_000, 'the trouble to clear');
      const history = await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).fetchHistory();
      expect(history.events?.filter((e) => e.workflowTaskFailedEventAttributes) ?? []).toEqual([]);
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      await pool.end();
      await relay.close();
    }
  });
});
