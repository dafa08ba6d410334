// A rule simulation (README "Rule simulator"), started by POST /v1/rules/simulate: plans whom the
// proposed rule affects, replays them a chunk at a time (activities/simulate.ts) and answers the
// summary. Its `progress` query says how far it got.
import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { SimulationActivities } from '../activities/simulate.ts';
import type { SimulationRequest, SimulationSummary, Tally } from '../simulator/run.ts';
import { simulationProgress } from './contract.ts';

/** Agents per activity: a chunk's record is read in one go. */
const CHUNK = 200;

const acts = proxyActivities<SimulationActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 3 },
});

export async function simulationWorkflow(req: SimulationRequest): Promise<SimulationSummary> {
  const progress = { done: 0, total: 0 };
  setHandler(simulationProgress, () => progress);
  const { tenantAgents, agentIds } = await acts.planSimulation(req);
  progress.total = agentIds.length;
  let tally: Tally = {
    simulated: 0,
    changed: 0,
    transitions: {},
    agentsInto: {},
    minutes: { ABNORMAL: { current: 0, proposed: 0 }, OFFLINE: { current: 0, proposed: 0 } },
    sample: [],
  };
  for (let i = 0; i < agentIds.length; i += CHUNK) {
    tally = await acts.simulateAgents({ req, agentIds: agentIds.slice(i, i + CHUNK), tally });
    progress.done = Math.min(i + CHUNK, agentIds.length);
  }
  return acts.summarizeSimulation({ req, tenantAgents, affected: agentIds.length, tally });
}
