// Everything the worker registers as workflow code.
export { agentWorkflow } from './agent.ts';
export { reconcileWorkflow } from './reconcile.ts';
export { retentionWorkflow } from './retention.ts';
export { simulationWorkflow } from './simulate.ts';
