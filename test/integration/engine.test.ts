import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { setAgentStatus, signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId, setStatusUpdate } from '../../workflows/contract.ts';
import { recordEvents } from '../../db/intake.ts';
import { createHarness, eventually, recordHistory, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { assertChain, committedStatus, deliver, ev, live, statusLog, waitForStatus } from './agent-helpers.ts';

// Windows of a few seconds instead of minutes: same code paths, configured by rule.
// Histories worth replaying in CI: [file, agent, runId (undefined = the current run)]. A run is
// recorded only after it has run a workflow task: a run right after continue-as-new first waits out
// the server's backoff with nothing but WorkflowExecutionStarted, which the replayer cannot replay.
const recorded: [string, string, string | undefined][] = [
  ['abnormal-offline-path', 'walker', undefined],
  ['manual-set-status', 'manual', undefined],
  ['reset', 'reset', undefined],
];

const FAST = {
  windows: {
    idleAfterNoTaskSec: 1,
    remindAfterNoActionSec: 2,
    abnormalAfterNoActionSec: 3,
    offlineAfterAbnormalSec: 2,
  },
  reminderLockSec: 840,
  reconnectGraceSec: 1,
};

describe('agent workflow on real Temporal and real Postgres', () => {
  let h: Harness;
  let w: RunningWorker;
  beforeAll(async () => {
    h = await createHarness('engine');
    await setRule(h, 'fast', FAST);
    w = await h.startWorker();
  });
  afterAll(async () => {
    // VIGIL_RECORD_HISTORIES=1 npm test: refresh the histories that replay.test.ts replays.
    for (const [file, agent, runId] of recorded) await recordHistory(agentWorkflowId(h.tenant, agent), file, runId);
    await h?.close();
  });

  it('walks ONLINE → IDLE → (reminder) → ABNORMAL → OFFLINE and stays OFFLINE on activity until a type-2 ONLINE', async () => {
    const agent = 'walker';
    await deliver(h, agent, { devices: [{ deviceId: 'tab-1', connected: true, at: Date.now() }], events: [ev(101)] });
    await waitForStatus(h, agent, 'IDLE', 10_000);
    await waitForStatus(h, agent, 'ABNORMAL', 10_000);
    const { rows: reminders } = await h.pool.query(
      `SELECT payload FROM status_change_outbox WHERE tenant = $1 AND agent_id = $2 AND topic = 'reminder'`,
      [h.tenant, agent],
    );
    expect(reminders).toHaveLength(1);
    expect(reminders[0].payload.cause).toBe('NO_ACTION');
    await waitForStatus(h, agent, 'OFFLINE', 10_000);

    await deliver(h, agent, { events: [ev(101)] });
    await eventually(
      async () =>
        (await live(h, agent)).lastActionAt > 0 && (await live(h, agent)).timeline.some((t) => t.kind === 'events'),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await committedStatus(h, agent)).toBe('OFFLINE');

    await deliver(h, agent, { events: [ev(2, { data: { status: 'ONLINE' } })] });
    await waitForStatus(h, agent, 'ONLINE');
    const log = await statusLog(h, agent);
    assertChain(log);
    expect(log.slice(0, 4).map((r) => `${r.to_status}:${r.cause}`)).toEqual([
      'IDLE:NO_TASK',
      'ABNORMAL:NO_ACTION',
      'OFFLINE:ABNORMAL_TIMEOUT',
      'ONLINE:AGENT_REQUEST',
    ]);
  });

  it('returns from ABNORMAL to the prior status on any action, with NOT_ON_APP when no device is connected', async () => {
    const agent = 'resumer';
    await deliver(h, agent, { events: [ev(3, { ticketId: 'T-1' })] });
    await waitForStatus(h, agent, 'ABNORMAL', 10_000);
    const before = await statusLog(h, agent);
    expect(before.at(-1)).toMatchObject({ from_status: 'ONLINE', to_status: 'ABNORMAL', cause: 'NOT_ON_APP' });
    await deliver(h, agent, { events: [ev(104)] });
    await waitForStatus(h, agent, 'ONLINE');
    const log = await statusLog(h, agent);
    assertChain(log);
    expect(log.at(-1)).toMatchObject({ from_status: 'ABNORMAL', to_status: 'ONLINE', cause: 'ACTIVITY_RESUMED' });
  });

  it('rejects a stale IDLE candidate when a task reached HCM just before the deadline', async () => {
    const agent = 'late-task';
    await deliver(h, agent, { events: [ev(101)] });
    await eventually(async () => (await live(h, agent)).runInputs > 0);
    // The task is a fact in Postgres; the workflow has not heard of it when its timer fires.
    await recordEvents(h.pool, h.tenant, agent, [ev(3, { ticketId: 'T-9' })]);
    const state = await eventually(
      async () => {
        const s = await live(h, agent);
        return s.timeline.some((t) => t.kind === 'reject' && t.detail.includes('HAS_OPEN_TASKS')) ? s : undefined;
      },
      10_000,
      'the HCM rejection',
    );
    expect(state.status).toBe('ONLINE');
    expect(state.taskCount).toBe(1);
    expect(await statusLog(h, agent)).toEqual([]);
  });

  it('answers setStatus with the commit or HCM rejection, and validates agent requests', async () => {
    const agent = 'manual';
    const handle = await deliver(h, agent, { events: [ev(3, { ticketId: 'T-2' })] });
    const ok = await handle.executeUpdate(setStatusUpdate, {
      args: [{ status: 'BUSY', actor: { kind: 'supervisor', id: 'sup-1' }, reason: 'coaching', requestId: 'r1' }],
    });
    expect(ok).toMatchObject({ committed: true, facts: { status: 'BUSY', cause: 'SUPERVISOR' } });
    const again = await handle.executeUpdate(setStatusUpdate, {
      args: [{ status: 'BUSY', actor: { kind: 'agent', id: agent }, requestId: 'r2' }],
    });
    expect(again).toMatchObject({ committed: false, reason: 'NO_CHANGE' });
    const refused = await handle
      .executeUpdate(setStatusUpdate, {
        args: [{ status: 'ABNORMAL', actor: { kind: 'agent', id: agent }, requestId: 'r3' }],
      })
      .catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error & { cause?: Error }).cause?.message)).toMatch(/may set only/);
    expect(await committedStatus(h, agent)).toBe('BUSY');
  });

  it('setAgentStatus starts the workflow of an agent not seen before and answers in the same call (update-with-start)', async () => {
    const agent = 'first-request';
    const request = { tenant: h.tenant, agentId: agent };
    const ok = await setAgentStatus(h.client, h.taskQueue, request, {
      status: 'BUSY',
      actor: { kind: 'agent', id: agent },
      requestId: 'u1',
    });
    expect(ok).toMatchObject({ committed: true, facts: { status: 'BUSY' } });
    expect(await committedStatus(h, agent)).toBe('BUSY');
    const firstRun = (await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).describe()).runId;
    // The running workflow answers the next request; its validator's refusal arrives as before.
    const refused = await setAgentStatus(h.client, h.taskQueue, request, {
      status: 'IDLE',
      actor: { kind: 'agent', id: agent },
      requestId: 'u2',
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((refused as WorkflowUpdateFailedError).cause?.message)).toMatch(/may set only/);
    expect((await h.client.workflow.getHandle(agentWorkflowId(h.tenant, agent)).describe()).runId).toBe(firstRun);
  });

  it('fires a window exactly once when the worker restarts in the middle of it', async () => {
    const agent = 'restart';
    await deliver(h, agent, { events: [ev(3, { ticketId: 'T-3' }), ev(5, { ticketId: 'T-3' })] });
    await eventually(async () => (await live(h, agent)).runInputs > 0);
    await w.stop();
    await new Promise((r) => setTimeout(r, 1500)); // the deadline passes while no worker runs
    w = await h.startWorker();
    await waitForStatus(h, agent, 'IDLE');
    await new Promise((r) => setTimeout(r, 500));
    expect((await statusLog(h, agent)).filter((r) => r.to_status === 'IDLE')).toHaveLength(1);
  });

  it('survives a `temporal workflow reset` to the first task with no duplicate or contradictory commit', async () => {
    const agent = 'reset';
    await deliver(h, agent, { events: [ev(101)] });
    await waitForStatus(h, agent, 'ABNORMAL', 10_000);
    const before = await statusLog(h, agent);
    const id = agentWorkflowId(h.tenant, agent);
    execFileSync(
      inject('temporalCli'),
      [
        'workflow',
        'reset',
        '--address',
        inject('temporalAddress'),
        '--workflow-id',
        id,
        '--type',
        'FirstWorkflowTask',
        '--reason',
        'test reset',
        '--yes',
      ],
      { stdio: 'pipe' },
    );
    // The new run replays the old events against HCM's fresh facts: nothing may be committed twice.
    await eventually(async () => (await live(h, agent)).runInputs > 0 && (await live(h, agent)).status === 'ABNORMAL');
    await new Promise((r) => setTimeout(r, 1000));
    const after = await statusLog(h, agent);
    assertChain(after);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.filter((r) => r.to_status === 'IDLE')).toHaveLength(1);
    expect(after.filter((r) => r.to_status === 'ABNORMAL')).toHaveLength(1);
  });

  it('continues as new when the history grows, carrying state, deadlines and recent reqIds', async () => {
    const agent = 'roller';
    const id = agentWorkflowId(h.tenant, agent);
    const open = ev(3, { ticketId: 'T-roll' });
    await recordEvents(h.pool, h.tenant, agent, [open]);
    const first = await signalAgent(
      h.client,
      h.taskQueue,
      { tenant: h.tenant, agentId: agent, historyLimit: 40 },
      { events: [open] },
    );
    const firstRun = first.signaledRunId;
    recorded.push(['continued-as-new', agent, firstRun]);
    const repeated = ev(101);
    for (let i = 0; i < 20; i++) {
      await deliver(h, agent, { events: [i === 0 ? repeated : ev(101)] });
      await new Promise((r) => setTimeout(r, 50));
    }
    const desc = await eventually(
      async () => {
        const d = await h.client.workflow.getHandle(id).describe();
        return d.runId !== firstRun ? d : undefined;
      },
      15_000,
      'a continue-as-new',
    );
    expect(desc.status.name).toBe('RUNNING');
    await deliver(h, agent, { events: [repeated] });
    const s = await eventually(
      async () => {
        const st = await live(h, agent);
        return st.timeline.some((t) => t.detail === '1 events, 1 duplicates') ? st : undefined;
      },
      10_000,
      'the carried reqId to be recognised',
    );
    expect(s.taskCount).toBe(1);
    expect(s.next?.action).toBe('REMIND'); // the carried silence window: reminder first
    // The run the first one continued as: it has carried input and has run workflow tasks by now.
    const firstHistory = await h.client.workflow.getHandle(id, firstRun).fetchHistory();
    const secondRun = firstHistory.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    expect(secondRun).toBeTruthy();
    recorded.push(['after-continue-as-new', agent, secondRun!]);
  });

  it('publishes AgentStatus so operators can list agents by status', async () => {
    const agent = 'searchable';
    await deliver(h, agent, { events: [ev(101)] });
    await waitForStatus(h, agent, 'IDLE');
    const id = agentWorkflowId(h.tenant, agent);
    await eventually(
      async () => {
        for await (const wf of h.client.workflow.list({ query: `AgentStatus='IDLE' AND Tenant='${h.tenant}'` })) {
          if (wf.workflowId === id) return true;
        }
        return false;
      },
      15_000,
      'the visibility record',
    );
  });
});
