import type { AgentState, Candidate, Facts, Input } from '../../workflows/model.ts';

/** HCM stand-in that commits every candidate as proposed. */
export function commitReply(state: AgentState, c: Candidate): Input {
  return {
    kind: 'hcm',
    at: c.proposedAt,
    reply: {
      committed: true,
      candidate: c,
      facts: {
        status: c.to,
        cause: c.cause,
        since: c.proposedAt,
        version: state.version + 1,
        priorStatus: c.to === 'ABNORMAL' ? c.from : null,
        offlineByWindow: c.to === 'OFFLINE' && c.cause === 'ABNORMAL_TIMEOUT',
        taskCount: state.taskCount,
        rule: state.rule,
      },
    },
  };
}

/** HCM's facts as the workflow's state has them, with `f` on top (what a reply re-reads). */
export const factsOf = (s: AgentState, f: Partial<Facts> = {}): Facts => ({
  status: s.status,
  cause: s.cause,
  since: s.since,
  version: s.version,
  priorStatus: s.priorStatus,
  offlineByWindow: s.offlineByWindow,
  taskCount: s.taskCount,
  rule: s.rule,
  ...f,
});
