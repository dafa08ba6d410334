import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { recordEvents } from '../../db/intake.ts';
import { signalAgent } from '../../workflows/client.ts';
import { agentWorkflowId, stateQuery, type EventsSignal, type LiveState } from '../../workflows/contract.ts';
import type { AgentEvent } from '../../workflows/model.ts';
import { eventually, type Harness } from '../harness.ts';

export function ev(type: number, extra: Partial<AgentEvent> = {}): AgentEvent {
  return { reqId: randomUUID(), type, ts: Date.now(), ...extra };
}

/** What the gateway does with accepted events: record the facts, then signal them stamped with receipt time. */
export async function deliver(h: Harness, agentId: string, batch: EventsSignal): Promise<WorkflowHandle> {
  if (batch.events?.length) {
    const fresh = new Map((await recordEvents(h.pool, h.tenant, agentId, batch.events)).map((e) => [e.reqId, e]));
    // Repeats go through unchanged, so tests can see the workflow's own duplicate check.
    batch = { ...batch, events: batch.events.map((e) => fresh.get(e.reqId) ?? e) };
  }
  return signalAgent(h.client, h.taskQueue, { tenant: h.tenant, agentId }, batch);
}

export interface LogRow {
  version: number;
  from_status: string;
  to_status: string;
  cause: string;
  dedupe_key: string;
}

export async function statusLog(h: Harness, agentId: string): Promise<LogRow[]> {
  const { rows } = await h.pool.query<LogRow>(
    `SELECT version, from_status, to_status, cause, dedupe_key FROM unified_work_status_log
      WHERE tenant = $1 AND agent_id = $2 ORDER BY version`,
    [h.tenant, agentId],
  );
  return rows;
}

export async function committedStatus(h: Harness, agentId: string): Promise<string | undefined> {
  const { rows } = await h.pool.query(`SELECT status FROM status_table WHERE tenant = $1 AND agent_id = $2`, [
    h.tenant,
    agentId,
  ]);
  return rows[0]?.status;
}

export function waitForStatus(h: Harness, agentId: string, status: string, timeoutMs = 20_000) {
  return eventually(
    async () => (await committedStatus(h, agentId)) === status,
    timeoutMs,
    `${agentId} to be ${status}`,
  );
}

export function live(h: Harness, agentId: string): Promise<LiveState> {
  return h.client.workflow.getHandle(agentWorkflowId(h.tenant, agentId)).query(stateQuery);
}

/** The log is one chain: versions 1..n, each change starting where the previous one ended. */
export function assertChain(rows: LogRow[]): void {
  rows.forEach((r, i) => {
    if (r.version !== i + 1) throw new Error(`version gap at ${i}: ${JSON.stringify(rows)}`);
    if (i > 0 && rows[i - 1]!.to_status !== r.from_status)
      throw new Error(`broken chain at v${r.version}: ${JSON.stringify(rows)}`);
    if (r.from_status === r.to_status) throw new Error(`no-op change at v${r.version}`);
  });
}
