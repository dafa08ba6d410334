// The rule simulator's activities (README "Rule simulator"): the simulation workflow plans,
// replays agents a chunk at a time and sums up; the work itself is simulator/run.ts.
import type { Pool } from '../db/pool.ts';
import {
  addChunk,
  plan,
  ruleChooser,
  simulateChunk,
  summarize,
  type SimulationRequest,
  type SimulationSummary,
  type Tally,
} from '../simulator/run.ts';

export interface SimulationActivities {
  planSimulation(req: SimulationRequest): Promise<{ tenantAgents: number; agentIds: string[] }>;
  /** Replays these agents under both rules and adds them to the tally. */
  simulateAgents(a: { req: SimulationRequest; agentIds: string[]; tally: Tally }): Promise<Tally>;
  summarizeSimulation(a: {
    req: SimulationRequest;
    tenantAgents: number;
    affected: number;
    tally: Tally;
  }): Promise<SimulationSummary>;
}

export function createSimulationActivities(deps: { pool: Pool }): SimulationActivities {
  return {
    async planSimulation(req) {
      const p = await plan(deps.pool, req);
      return { tenantAgents: p.tenantAgents, agentIds: p.agentIds };
    },
    async simulateAgents({ req, agentIds, tally }) {
      const chunk = await simulateChunk(deps.pool, req, agentIds, await ruleChooser(deps.pool, req));
      return addChunk(tally, chunk, req);
    },
    async summarizeSimulation({ req, tenantAgents, affected, tally }) {
      return summarize(req, tenantAgents, affected, tally);
    },
  };
}
