// Which Temporal task queue an agent's workflow runs on (docs/DESIGN.md "Regions and business
// lines"). Pure and dependency-free: the worker's HCM, the gateway and tests compute the same
// answer from the same configuration and the agent's row (region, business line).

/** How queues are split; the default (regional off, no isolated lines) keeps everything on the base queue. */
export interface Routing {
  /** `VIGIL_REGIONAL_QUEUES=on`: each region's agents on their own queue `<base>@<region>`. */
  regional: boolean;
  /** `VIGIL_ISOLATED_LINES`: business lines with a queue of their own, `<base>[@<region>]/<line>`. */
  isolatedLines: readonly string[];
}

export const NO_ROUTING: Routing = { regional: false, isolatedLines: [] };

/** A worker's share of its region's queues: `'*'` = the shared one (every line not isolated). */
export const SHARED_LANE = '*';

/** The queue of an agent of `region` and `businessLine`. */
export function agentTaskQueue(
  base: string,
  agent: { region: string; businessLine: string },
  routing: Routing = NO_ROUTING,
): string {
  const regional = routing.regional ? `${base}@${agent.region}` : base;
  return routing.isolatedLines.includes(agent.businessLine) ? `${regional}/${agent.businessLine}` : regional;
}

/**
 * The queues a worker of `region` polls, each with the lane it serves. `lanes` (VIGIL_WORKER_LINES)
 * names isolated lines and `'*'` for the shared queue; undefined = all of them. The shared lane
 * also polls the base queue when queues are regional: workflows started before the switch to
 * regional queues wake up there and move, and the housekeeping schedules run there.
 */
export function workerTaskQueues(
  base: string,
  region: string,
  routing: Routing = NO_ROUTING,
  lanes?: readonly string[],
): { queue: string; lane: string }[] {
  const wanted = lanes ?? [SHARED_LANE, ...routing.isolatedLines];
  const out: { queue: string; lane: string }[] = [];
  if (wanted.includes(SHARED_LANE)) {
    if (routing.regional) out.push({ queue: base, lane: SHARED_LANE });
    out.push({
      queue: agentTaskQueue(base, { region, businessLine: '' }, { ...routing, isolatedLines: [] }),
      lane: SHARED_LANE,
    });
  }
  for (const line of routing.isolatedLines) {
    if (wanted.includes(line))
      out.push({ queue: agentTaskQueue(base, { region, businessLine: line }, routing), lane: line });
  }
  return out;
}

/** A bounded metric label for a business line: isolated lines by name, every other line `other`. */
export function lineLabel(businessLine: string | undefined, routing: Routing = NO_ROUTING): string {
  return businessLine !== undefined && routing.isolatedLines.includes(businessLine) ? businessLine : 'other';
}
