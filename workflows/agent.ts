// The agent workflow: one per agent, forever. A thin shell around the pure decision module:
// inputs queue up, the main loop feeds them (and durable-timer fires) to `decide`, sends the
// candidates to HCM and adopts its answer. Workflows compute candidates; HCM commits facts.
import {
  CancelledFailure,
  TemporalFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  makeContinueAsNewFunc,
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
/** A workflow moves to the task queue HCM's facts name (region switch, isolated line). */
export const ROUTING_PATCH = 'vigil-queue-routing';
/** Moving back to the queue it just came from waits this long: workers that disagree on routing do not ping-pong. */
const BOUNCE_MS = 60_000;

/** A commit refused with REGION_NOT_OWNER on a queue the facts say is not the agent's: redo the input there. */
class Misrouted extends Error {}

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
  /** The owner region and the queue HCM's latest facts name (undefined until facts say). */
  let region: string | undefined;
  let home: { queue: string; facts: Facts } | undefined;

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
    if (batch.refresh) inbox.push({ kind: 'refresh', at, ...(batch.refresh === 'region' ? { why: 'region' } : {}) });
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
    routeBy(facts);
    const before = state.status;
    state = adoptFacts(state, facts);
    if (state.status !== before || !published) publishAttributes(facts);
    published = true;
  };

  /** Sends a candidate to HCM and adopts the answer; engine 2 follows what the answer implies. */
  const commit = async (c: Candidate, inp: Input, hops: number): Promise<void> => {
    note('candidate', `${c.from}→${c.to} ${c.cause}`);
    const reply = await hcm.commitTransition(c);
    // Not the owner here, and the agent's queue is elsewhere: forget this input's effects and
    // redo it on the owner's queue (no window lost; HCM's dedupe key makes a second commit impossible).
    if (!reply.committed && reply.reason === 'REGION_NOT_OWNER' && inp.kind !== 'manual' && elsewhere(reply.facts)) {
      routeBy(reply.facts);
      note('reject', `${c.from}→${c.to}: REGION_NOT_OWNER, redone on ${reply.facts.taskQueue}`);
      throw new Misrouted();
    }
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
        if (inp.why) note('route', inp.why === 'region' ? 'region switched: facts re-read' : 'moved: facts re-read');
        else note('rule', 'a rule changed: facts re-read');
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

  /** Whether `facts` name another queue than this run's, and the move is on (live, or as recorded). */
  function elsewhere(facts: Facts): boolean {
    return (
      facts.taskQueue !== undefined &&
      facts.servedOn !== undefined &&
      facts.taskQueue !== facts.servedOn &&
      patched(ROUTING_PATCH)
    );
  }
  function routeBy(facts: Facts) {
    if (facts.region !== undefined) {
      if (region !== undefined && facts.region !== region) note('route', `region ${region} → ${facts.region}`);
      region = facts.region;
    }
    if (facts.taskQueue !== undefined) home = { queue: facts.taskQueue, facts };
  }
  const misplaced = () => home !== undefined && elsewhere(home.facts);

  /** Applies one input; a Misrouted one leaves no trace but its timeline notes and waits in the inbox. */
  const step = async (inp: Input) => {
    const before = state;
    try {
      await apply(inp);
    } catch (err) {
      if (!(err instanceof Misrouted)) throw err;
      state = before;
      if (inp.kind !== 'timer') inbox.unshift(inp);
    }
  };

  /**
   * Continues as new on the queue HCM's facts name, carrying the state and the unprocessed inputs
   * like the history roll does; the new run first re-reads the facts. Pending setStatus updates
   * cannot cross: they are answered here (by HCM, which refuses a non-owner: REGION_NOT_OWNER).
   */
  const move = async (): Promise<never> => {
    const to = home!.queue;
    const from = home!.facts.servedOn!;
    const carriedMove = input.carried?.moved;
    if (carriedMove?.from === to && Date.now() - carriedMove.at < BOUNCE_MS) {
      note(
        'route',
        `moved here from ${to} less than a minute ago: waiting before moving back (do the workers agree on routing?)`,
      );
      await sleep(carriedMove.at + BOUNCE_MS - Date.now());
    }
    const manual = () => inbox.findIndex((i) => i.kind === 'manual');
    while (!allHandlersFinished() || manual() >= 0) {
      await condition(() => manual() >= 0 || allHandlersFinished());
      for (let i = manual(); i >= 0; i = manual()) await step(inbox.splice(i, 1)[0]!);
    }
    note('route', `moves from task queue ${from} to ${to}`);
    return makeContinueAsNewFunc<typeof agentWorkflow>({ taskQueue: to })({
      tenant,
      agentId,
      historyLimit: input.historyLimit,
      carried: {
        state,
        inbox: [{ kind: 'refresh', at: Date.now(), why: 'moved' }, ...inbox],
        timeline,
        answered: [...answered],
        moved: { at: Date.now(), from },
      },
    });
  };

  upgrade();
  if (!input.carried) {
    const facts = await hcm.loadFacts({ tenant, agentId });
    // An instance of a service or AI agent (README "Fleet mode"): its health is decided elsewhere.
    if (facts.kind === 'service' && patched(FLEET_PATCH)) {
      return serviceAgent({ tenant, agentId, inbox, timeline, answered, historyLimit: input.historyLimit });
    }
    // Started on a queue that is not the agent's (a gateway's routing cache was stale): move first.
    if (state.engine === 2 && elsewhere(facts)) {
      adopt(facts);
      return move();
    }
    const before = state;
    try {
      if (state.engine === 2) await onFacts(facts, { kind: 'refresh', at: Date.now() });
      else adopt(facts);
    } catch (err) {
      if (!(err instanceof Misrouted)) throw err;
      state = before; // the loop below moves first
    }
  }

  const alarm = new Alarm();

  for (;;) {
    if (misplaced()) return move();
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
    if (inbox.length === 0 && next && next.at <= Date.now()) await step({ kind: 'timer', at: Date.now() });
    while (inbox.length > 0 && !misplaced()) await step(inbox.shift()!);
    if (misplaced()) return move();
    if (shouldRoll()) {
      // Drain: a pending update waits on an input in the inbox, so keep applying until all finish.
      while (!allHandlersFinished() || inbox.length > 0) {
        await condition(() => inbox.length > 0 || allHandlersFinished());
        while (inbox.length > 0 && !misplaced()) await step(inbox.shift()!);
        if (misplaced()) return move();
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
