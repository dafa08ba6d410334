// Client-side calls to agent workflows, typed against the workflow itself: every caller (gateway,
// tests, benchmarks) starts an agent's workflow the same way, with the same id, type and input.
// Imports @temporalio/client, so workflow code must never import this module (contract.ts is
// bundled into the workflow sandbox and stays free of it).
import { WithStartWorkflowOperation, type Client, type WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import type { agentWorkflow } from './agent.ts';
import type * as workflows from './index.ts';
import {
  agentWorkflowId,
  eventsSignal,
  setStatusUpdate,
  type AgentWorkflowInput,
  type EventsSignal,
  type SetStatusRequest,
  type SetStatusResult,
} from './contract.ts';

/** The workflow type: its export name in workflows/index.ts, which is what the worker registers. */
export const AGENT_WORKFLOW_TYPE = 'agentWorkflow' satisfies keyof typeof workflows;

/** Who the workflow is for; a new run gets exactly this as its input. */
export type AgentRef = Pick<AgentWorkflowInput, 'tenant' | 'agentId' | 'historyLimit'>;

const startOptions = (
  taskQueue: string,
  agent: AgentRef,
): { workflowId: string; taskQueue: string; args: Parameters<typeof agentWorkflow> } => ({
  workflowId: agentWorkflowId(agent.tenant, agent.agentId),
  taskQueue,
  // An undefined historyLimit is left out of the JSON: the input is what callers always sent.
  args: [{ tenant: agent.tenant, agentId: agent.agentId, historyLimit: agent.historyLimit }],
});

/**
 * Sends one `events` signal to the agent's workflow, starting the workflow if it is not running
 * (one workflow per agent, forever: the first signal for an agent creates it).
 */
export function signalAgent(
  client: Client,
  taskQueue: string,
  agent: AgentRef,
  payload: EventsSignal,
): Promise<WorkflowHandleWithSignaledRunId<typeof agentWorkflow>> {
  return client.workflow.signalWithStart<typeof agentWorkflow, [EventsSignal]>(AGENT_WORKFLOW_TYPE, {
    ...startOptions(taskQueue, agent),
    signal: eventsSignal,
    signalArgs: [payload],
  });
}

/**
 * Asks the agent's workflow to set a status and waits for its answer (HCM's commit or rejection),
 * starting the workflow first if it is not running, in one call (update-with-start). A request
 * the workflow's validator refuses throws WorkflowUpdateFailedError, its reason in `cause`.
 */
export function setAgentStatus(
  client: Client,
  taskQueue: string,
  agent: AgentRef,
  request: SetStatusRequest,
): Promise<SetStatusResult> {
  return client.workflow.executeUpdateWithStart(setStatusUpdate, {
    args: [request],
    startWorkflowOperation: new WithStartWorkflowOperation<typeof agentWorkflow>(AGENT_WORKFLOW_TYPE, {
      ...startOptions(taskQueue, agent),
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}
