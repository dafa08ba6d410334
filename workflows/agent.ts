// The agent workflow: one per agent, forever. A thin shell around the pure decision module:
// inputs queue up, the main loop feeds them (and durable-timer fires) to `decide`, sends the
// candidates to HCM and adopts its answer. Workflows compute candidates; HCM commits facts.
import {
  CancelledFailure,
  TemporalFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { HcmActivities } from '../activities/hcm.ts';
import { Alarm } from './alarm.ts';
import { serviceAgent } from './service.ts';
import {
  eventsSignal,
  setStatusUpdate,
  stateQuery,
  type AgentWorkflowInput,
  type LiveState,
  type SetStatusResult,
  type TimelineEntry,
} from './contract.ts';
import { adoptFacts, decide, initialState, isOnApp, nextDeadline } from './decide.ts';
import { AGENT_SEARCH_ATTRIBUTES as SA } from './search-attributes.ts';
import {
  STATUSES,
  closesTask,
  isWorkStatus,
  opensTask,
  type AgentState,
  type Candidate,
  type Facts,
  type Input,
} from './model.ts';

// HCM calls are short Postgres transactions: as local activities they run inside the workflow task
// (a marker in history) instead of a round trip through an activity task queue and a second
// workflow task, which halves the Temporal work of every transition. A few quick attempts inside
// the task; after that the workflow backs off on a durable timer and says so (`hcmTrouble`).
const hcmActivities = proxyLocalActivities<HcmActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});
/** Durable backoff between rounds of failed HCM attempts: 2 s doubling to a minute. */
const hcmBackoffMs = (rounds: number) => Math.min(60_000, 1000 * 2 ** Math.min(rounds, 6));

const TIMELINE_MAX = 50;
const ANSWERED_MAX = 64;
/** Engine 2 (README "Upgrading"): a workflow started by older code takes it at its next live task. */
export const FACTS_FIRST_PATCH = 'vigil-facts-first';
/** Fleet mode: a workflow whose agent is an instance runs workflows/service.ts from its start. */
export const FLEET_PATCH = 'vigil-fleet';
/** Engine 2 follows HCM's answers with new candidates; a bound keeps a bug from looping forever. */
const MAX_HOPS = 3;

export async function agentWorkflow(input: AgentWorkflowInput): Promise<never> {
  const { tenant, agentId } = input;
  if (input.service) {
    const { state, inbox, timeline, answered } = input.service;
    return serviceAgent({
      tenant,
      agentId,
      state,
      inbox: [...inbox],
      timeline: [...timeline],
      answered: new Map(answered),
      historyLimit: input.historyLimit,
    });
  }
  const inbox: Input[] = [...(input.carried?.inbox ?? [])];
  const timeline: TimelineEntry[] = [...(input.carried?.timeline ?? [])];
  const answered = new Map<string, SetStatusResult>(input.carried?.answered ?? []);
  let state: AgentState = input.carried?.state ?? initialState(tenant, agentId, Date.now());
  let runInputs = 0;
  /** Set while HCM calls keep failing (Postgres out of reach): shown by the `state` query. */
  let hcmTrouble: LiveState['hcmTrouble'] = null;

  const note = (kind: TimelineEntry['kind'], detail: string) => {
    timeline.push({ at: Date.now(), kind, detail });
    if (timeline.length > TIMELINE_MAX) timeline.shift();
  };

  /**
   * An HCM call that keeps failing is retried after a durable backoff, for as long as it takes:
   * the workflow resumes by itself when Postgres is back. Data errors never get here (HCM answers
   * them as INVALID_INPUT rejections), so what is retried is always worth retrying.
   */
  const viaHcm = async <T>(what: keyof HcmActivities, call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        const r = await call();
        if (hcmTrouble) note('hcm', `${what} works again after ${hcmTrouble.failures} failed rounds`);
        hcmTrouble = null;
        return r;
      } catch (err) {
        // A local activity's failure arrives as its own (application or timeout) failure: any
        // Temporal failure but a cancellation is an HCM call that did not get through.
        if (!(err instanceof TemporalFailure) || err instanceof CancelledFailure) throw err;
        const lastError = err.cause?.message ?? err.message;
        hcmTrouble = { since: hcmTrouble?.since ?? Date.now(), failures: (hcmTrouble?.failures ?? 0) + 1, lastError };
        note('hcm', `${what} failed (round ${hcmTrouble.failures}): ${lastError}`);
        await sleep(hcmBackoffMs(hcmTrouble.failures));
      }
    }
  };
  const hcm: HcmActivities = {
    loadFacts: (a) => viaHcm('loadFacts', () => hcmActivities.loadFacts(a)),
    commitTransition: (c) => viaHcm('commitTransition', () => hcmActivities.commitTransition(c)),
    sendReminder: (r) => viaHcm('sendReminder', () => hcmActivities.sendReminder(r)),
    remind: (r) => viaHcm('remind', () => hcmActivities.remind(r)),
  };

  setHandler(eventsSignal, (batch) => {
    const at = Date.now();
    for (const d of batch.devices ?? [])
      inbox.push({ kind: 'device', deviceId: d.deviceId, connected: d.connected, at });
    if (batch.events?.length) inbox.push({ kind: 'events', events: batch.events, at });
    if (batch.refresh) inbox.push({ kind: 'refresh', at });
  });

  setHandler(
    setStatusUpdate,
    async (req) => {
      if (!answered.has(req.requestId)) {
        inbox.push({
          kind: 'manual',
          status: req.status,
          actor: req.actor,
          reason: req.reason,
          requestId: req.requestId,
          at: Date.now(),
        });
        await condition(() => answered.has(req.requestId));
      }
      return answered.get(req.requestId)!;
    },
    {
      validator: (req) => {
        if (!STATUSES.includes(req.status)) throw new Error(`unknown status ${String(req.status)}`);
        if (!req.requestId) throw new Error('requestId is required');
        if (req.actor?.kind === 'agent' && !isWorkStatus(req.status)) {
          throw new Error(`an agent may set only ONLINE, BUSY or OFFLINE, not ${req.status}`);
        }
      },
    },
  );

  setHandler(stateQuery, (): LiveState => {
    const now = Date.now();
    return {
      tenant,
      agentId,
      status: state.status,
      cause: state.cause,
      since: state.since,
      version: state.version,
      taskCount: state.taskCount,
      onApp: isOnApp(state, now),
      devices: state.devices,
      lastActionAt: state.lastActionAt,
      next: nextDeadline(state),
      rule: { ruleId: state.rule.ruleId, version: state.rule.version },
      timeline: [...timeline].reverse(),
      runInputs,
      engine: state.engine ?? 1,
      hcmTrouble,
    };
  });

  // During replay, patched() is false until the point where the original run first took the
  // patch, so histories of engine 1 replay as they ran; live, it is true from the first task on.
  const upgrade = () => {
    if (state.engine !== 2 && patched(FACTS_FIRST_PATCH)) state = { ...state, engine: 2 };
  };

  let published = input.carried !== undefined;
  const adopt = (facts: Facts) => {
    const before = state.status;
    state = adoptFacts(state, facts);
    if (state.status !== before || !published) publishAttributes(facts);
    published = true;
  };

  /** Sends a candidate to HCM and adopts the answer; engine 2 follows what the answer implies. */
  const commit = async (c: Candidate, inp: Input, hops: number): Promise<void> => {
    note('candidate', `${c.from}→${c.to} ${c.cause}`);
    const reply = await hcm.commitTransition(c);
    if (reply.committed) note('commit', `${c.from}→${c.to} v${reply.facts.version}`);
    else if (state.engine === 2 && reply.reason === 'ACTIVITY_SINCE') {
      note(
        'wake',
        `${c.to} not due: HCM has an action at ${new Date(reply.facts.lastActionAt ?? 0).toISOString()}; the window moves`,
      );
    } else if (!reply.committed && reply.reason === 'INPUT_DEGRADED' && reply.facts.held) {
      const { scope, reason, until } = reply.facts.held;
      note('held', `${c.from}→${c.to} held: input of ${scope} ${reason}; asked again ${new Date(until).toISOString()}`);
    } else note('reject', `${c.from}→${c.to}: ${reply.reason}`);
    adopt(reply.facts);
    const d = decide(state, { kind: 'hcm', reply, at: Date.now() });
    state = d.state;
    if (inp.kind === 'manual' && !answered.has(inp.requestId)) {
      answered.set(
        inp.requestId,
        reply.committed
          ? { committed: true, facts: reply.facts }
          : { committed: false, reason: reply.reason, facts: reply.facts },
      );
    }
    if (state.engine === 2 && hops < MAX_HOPS) for (const next of d.candidates) await commit(next, inp, hops + 1);
  };

  /** Engine 2: adopts facts read from HCM and proposes what they imply. */
  const onFacts = async (facts: Facts, inp: Input) => {
    adopt(facts);
    const d = decide(state, { kind: 'facts', facts, at: Date.now() });
    state = d.state;
    for (const c of d.candidates) await commit(c, inp, 1);
  };

  const apply = async (inp: Input) => {
    upgrade();
    runInputs++;
    if (inp.kind === 'refresh') {
      if (state.engine === 2) {
        note('rule', 'a rule changed: facts re-read');
        await onFacts(await hcm.loadFacts({ tenant, agentId }), inp);
      }
      return;
    }
    const d = decide(state, inp);
    state = d.state;
    if (inp.kind === 'events') note('events', `${inp.events.length} events, ${d.duplicates.length} duplicates`);
    if (inp.kind === 'device') note('device', `${inp.deviceId} ${inp.connected ? 'connected' : 'disconnected'}`);
    for (const r of d.reminders) {
      if (state.engine === 2) {
        const reply = await hcm.remind(r);
        note(
          reply.reason === 'ACTIVITY_SINCE' ? 'wake' : 'reminder',
          `${r.cause}: ${reply.sent ? 'sent' : `not sent (${reply.reason})`}`,
        );
        await onFacts(reply.facts, inp);
      } else {
        const sent = await hcm.sendReminder(r);
        note('reminder', `${r.cause}: ${sent ? 'sent' : 'suppressed by lock'}`);
      }
    }
    for (const c of d.candidates) await commit(c, inp, 0);
    // Open tasks are HCM facts (the gateway records them before signalling): after ticket events
    // re-read them, so the local count never drifts from the truth (e.g. a double count at start).
    if (inp.kind === 'events' && inp.events.some((e) => opensTask(e.type) || closesTask(e.type))) {
      adopt(await hcm.loadFacts({ tenant, agentId }));
    }
    if (inp.kind === 'manual' && !answered.has(inp.requestId)) {
      answered.set(inp.requestId, {
        committed: false,
        reason: 'NO_CHANGE',
        facts: await hcm.loadFacts({ tenant, agentId }),
      });
    }
    while (answered.size > ANSWERED_MAX) answered.delete(answered.keys().next().value!);
  };

  upgrade();
  if (!input.carried) {
    const facts = await hcm.loadFacts({ tenant, agentId });
    // An instance of a service or AI agent (README "Fleet mode"): its health is decided elsewhere.
    if (facts.kind === 'service' && patched(FLEET_PATCH)) {
      return serviceAgent({ tenant, agentId, inbox, timeline, answered, historyLimit: input.historyLimit });
    }
    if (state.engine === 2) await onFacts(facts, { kind: 'refresh', at: Date.now() });
    else adopt(facts);
  }

  const alarm = new Alarm();

  for (;;) {
    upgrade();
    const next = nextDeadline(state);
    const shouldRoll = () =>
      workflowInfo().continueAsNewSuggested ||
      (input.historyLimit !== undefined && workflowInfo().historyLength >= input.historyLimit);
    alarm.aim(next);
    if (inbox.length === 0 && !(next && next.at <= Date.now())) {
      await condition(() => inbox.length > 0 || alarm.fired || shouldRoll());
    }
    alarm.fired = false;
    if (inbox.length === 0 && next && next.at <= Date.now()) await apply({ kind: 'timer', at: Date.now() });
    while (inbox.length > 0) await apply(inbox.shift()!);
    if (shouldRoll()) {
      // Drain: a pending update waits on an input in the inbox, so keep applying until all finish.
      while (!allHandlersFinished() || inbox.length > 0) {
        await condition(() => inbox.length > 0 || allHandlersFinished());
        while (inbox.length > 0) await apply(inbox.shift()!);
      }
      return continueAsNew<typeof agentWorkflow>({
        tenant,
        agentId,
        historyLimit: input.historyLimit,
        carried: { state, inbox: [...inbox], timeline, answered: [...answered] },
      });
    }
  }

  function publishAttributes(facts: Facts) {
    upsertSearchAttributes([
      { key: SA.AgentStatus, value: facts.status },
      { key: SA.Tenant, value: tenant },
      ...(facts.businessLine !== undefined ? [{ key: SA.BusinessLine, value: facts.businessLine }] : []),
      ...(facts.skillGroups !== undefined ? [{ key: SA.SkillGroups, value: facts.skillGroups }] : []),
    ]);
  }
}
