// Fleet mode (README "Fleet mode"): the agent workflow of an instance (`agents.kind = 'service'`).
// The same shell as a person's (workflows/agent.ts): inputs queue up, a durable timer carries the
// next deadline (MISSING, or the next step of the recovery ladder), workflows/fleet.ts decides and
// HCM commits. Ladder steps are ordinary activities with the rule's timeout and attempts.
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FleetActivities } from '../activities/fleet.ts';
import { Alarm } from './alarm.ts';
import {
  setStatusUpdate,
  stateQuery,
  type AgentWorkflowInput,
  type LiveState,
  type SetStatusResult,
  type TimelineEntry,
} from './contract.ts';
import {
  decideService,
  deadline,
  initialService,
  isHealthState,
  type Beat,
  type HealthFacts,
  type HealthReply,
  type ServiceInput,
  type ServiceState,
} from './fleet.ts';
import { EventType, type Facts, type Input } from './model.ts';

const fleetLocal = proxyLocalActivities<FleetActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '5 seconds', backoffCoefficient: 2 },
});

const TIMELINE_MAX = 50;

export interface ServiceRun {
  tenant: string;
  agentId: string;
  inbox: Input[];
  timeline: TimelineEntry[];
  answered: Map<string, SetStatusResult>;
  historyLimit: number | undefined;
  /** Carried by continue-as-new; else read from HCM. */
  state?: ServiceState;
}

/** What the `state` query and the update answer carry for an instance: its health in people's fields. */
const asFacts = (f: HealthFacts): Facts =>
  ({
    status: f.health,
    cause: f.cause,
    since: f.since,
    version: f.version,
    priorStatus: null,
    offlineByWindow: false,
    taskCount: 0,
    rule: { ruleId: f.rule.ruleId, version: f.rule.version },
  }) as unknown as Facts;

/** Heartbeats (and any other event: it is alive) of an events batch, at the gateway's receipt time. */
function beatsOf(inp: Extract<Input, { kind: 'events' }>): Beat[] {
  return inp.events.map((e) => {
    const data = e.type === EventType.HEARTBEAT ? e.data : undefined;
    const seq = data?.['seq'];
    const metrics = data?.['metrics'];
    return {
      at: e.receivedAt ?? inp.at,
      ...(typeof seq === 'number' ? { seq } : {}),
      ...(metrics && typeof metrics === 'object' ? { metrics: metrics as Record<string, number> } : {}),
    };
  });
}

export async function serviceAgent(run: ServiceRun): Promise<never> {
  const { tenant, agentId, inbox, timeline, answered } = run;
  const note = (kind: TimelineEntry['kind'], detail: string) => {
    timeline.push({ at: Date.now(), kind, detail });
    if (timeline.length > TIMELINE_MAX) timeline.shift();
  };
  let state: ServiceState =
    run.state ?? initialService(tenant, agentId, await fleetLocal.loadHealth({ tenant, agentId }), Date.now());

  setHandler(stateQuery, () => {
    const next = deadline(state);
    return {
      tenant,
      agentId,
      kind: 'service',
      status: state.health,
      cause: state.cause,
      since: state.since,
      version: state.version,
      lastBeatAt: state.lastBeatAt,
      lastSeq: state.lastSeq,
      metrics: state.metrics,
      over: state.over,
      incident: state.incident,
      next: next && { at: next.at, action: next.action },
      rule: { ruleId: state.rule.ruleId, version: state.rule.version },
      timeline: [...timeline].reverse(),
      engine: 2,
      hcmTrouble: null,
    } as unknown as LiveState;
  });
  // An instance may only deregister itself; staff may deregister it too. Other health is decided here.
  setHandler(
    setStatusUpdate,
    async (req) => {
      if (!answered.has(req.requestId)) {
        inbox.push({ kind: 'manual', status: req.status, actor: req.actor, requestId: req.requestId, at: Date.now() });
        await condition(() => answered.has(req.requestId));
      }
      return answered.get(req.requestId)!;
    },
    {
      validator: (req) => {
        if ((req.status as string) !== 'DEREGISTERED')
          throw new Error(`an instance's health is decided from its heartbeats; only DEREGISTERED may be set`);
        if (!req.requestId) throw new Error('requestId is required');
      },
    },
  );

  const commit = async (c: Parameters<FleetActivities['commitHealth']>[0]): Promise<HealthReply> => {
    note('candidate', `${c.from}→${c.to} ${c.cause}`);
    const reply = await fleetLocal.commitHealth(c);
    if (reply.committed) note('commit', `${c.from}→${c.to} v${reply.facts.version}`);
    else note('reject', `${c.from}→${c.to}: ${reply.reason}`);
    state = decideService(state, { kind: 'facts', facts: reply.facts, at: Date.now() }).state;
    return reply;
  };

  const apply = async (inp: ServiceInput, requestId?: string) => {
    const d = decideService(state, inp);
    state = d.state;
    for (const n of d.notes) note('events', n);
    let last: HealthReply | undefined;
    // FAILED is the end of the ladder: committed once its last step (the alert) ran.
    const failed = d.candidates.filter((c) => c.to === 'FAILED');
    for (const c of d.candidates.filter((x) => x.to !== 'FAILED')) last = await commit(c);
    if (requestId && !answered.has(requestId)) {
      const facts = last?.facts ?? (await fleetLocal.loadHealth({ tenant, agentId }));
      answered.set(
        requestId,
        last?.committed
          ? { committed: true, facts: asFacts(facts) }
          : { committed: false, reason: last && !last.committed ? last.reason : 'NO_CHANGE', facts: asFacts(facts) },
      );
    }
    if (d.abandoned) {
      note('hcm', `recovery ${d.abandoned.incident} abandoned at ${d.abandoned.step}: the instance is back`);
      await fleetLocal.recordRecovery({
        tenant,
        agentId,
        incident: d.abandoned.incident,
        step: d.abandoned.step,
        outcome: 'abandoned',
        detail: null,
      });
    }
    for (const s of d.steps) {
      const f = state.rule.fleet;
      const steps = proxyActivities<FleetActivities>({
        startToCloseTimeout: `${f.stepTimeoutSec} seconds`,
        retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: f.stepAttempts },
      });
      try {
        const outcome = await steps.recoveryStep({ tenant, agentId, incident: s.incident, step: s.step });
        note('hcm', `recovery ${s.incident}: ${s.step} ${outcome}`);
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const detail = err.cause?.message ?? err.message;
        note('hcm', `recovery ${s.incident}: ${s.step} failed after ${f.stepAttempts} attempts: ${detail}`);
        await fleetLocal.recordRecovery({
          tenant,
          agentId,
          incident: s.incident,
          step: s.step,
          outcome: 'failed',
          detail,
        });
      }
    }
    for (const c of failed) await commit(c);
  };

  const take = async (inp: Input) => {
    switch (inp.kind) {
      case 'events':
        note('events', `${inp.events.length} events`);
        return apply({ kind: 'beats', beats: beatsOf(inp), at: inp.at });
      case 'device':
        note('device', `${inp.deviceId} ${inp.connected ? 'connected' : 'disconnected'}`);
        return;
      case 'refresh':
        note('rule', 'a rule changed: facts re-read');
        return apply({ kind: 'facts', facts: await fleetLocal.loadHealth({ tenant, agentId }), at: Date.now() });
      case 'manual':
        if (isHealthState(inp.status))
          return apply(
            {
              kind: 'request',
              to: inp.status,
              actor: inp.actor as never,
              ...(inp.reason ? { reason: inp.reason } : {}),
              requestId: inp.requestId,
              at: inp.at,
            },
            inp.requestId,
          );
        return;
      default:
        return;
    }
  };

  const alarm = new Alarm();
  for (;;) {
    const next = deadline(state);
    alarm.aim(next);
    const shouldRoll = () =>
      workflowInfo().continueAsNewSuggested ||
      (run.historyLimit !== undefined && workflowInfo().historyLength >= run.historyLimit);
    if (inbox.length === 0 && !(next && next.at <= Date.now())) {
      await condition(() => inbox.length > 0 || alarm.fired || shouldRoll());
    }
    alarm.fired = false;
    if (next && next.at <= Date.now()) await apply({ kind: 'timer', at: Date.now() });
    while (inbox.length > 0) await take(inbox.shift()!);
    if (shouldRoll()) {
      while (!allHandlersFinished() || inbox.length > 0) {
        await condition(() => inbox.length > 0 || allHandlersFinished());
        while (inbox.length > 0) await take(inbox.shift()!);
      }
      const carried: AgentWorkflowInput = {
        tenant,
        agentId,
        historyLimit: run.historyLimit,
        service: { state, inbox: [...inbox], timeline, answered: [...answered] },
      };
      return continueAsNew(carried);
    }
  }
}
