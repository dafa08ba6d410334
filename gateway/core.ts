// The gateway's core, shared by the websocket and the HTTP routes: it assembles ingest
// (gateway/ingest.ts), the coalesced signals to agent workflows, device presence with leases and
// the sweeper (gateway/presence.ts), push fan-out (gateway/push.ts) and the metrics of all of it.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { deletePending } from '../db/intake.ts';
import { cadenceBounds, loadConfig, type GatewayTuning } from '../platform/config.ts';
import { agentKind } from '../db/fleet.ts';
import { prepareRecordPartitions, recordDevice } from '../db/record.ts';
import type { Principal } from '../platform/auth.ts';
import { setAgentStatus, signalAgent } from '../workflows/client.ts';
import type { Status } from '../workflows/model.ts';
import type { EventsSignal } from '../workflows/contract.ts';
import { CadenceAdvisor } from './cadence.ts';
import { Coalescer, type Batch } from './coalescer.ts';
import type { GatewayDeps } from './http.ts';
import { createIngest } from './ingest.ts';
import { createInputHealth } from './input-health.ts';
import { createQueueResolver } from './routing.ts';
import { IntakeWriter } from './intake.ts';
import { createGatewayMetrics } from './metrics.ts';
import { Presence } from './presence.ts';
import { PushFanOut, type PushTarget } from './push.ts';
import { ConnectionCounter, FairLimiter } from './rate-limit.ts';
import { withDeadline } from './temporal-deadline.ts';

export type { PushTarget };
export type GatewayCore = ReturnType<typeof createCore>;

/** Stale per-agent coalescer state is pruned this often. */
const PRUNE_MS = 60_000;

export function createCore(d: GatewayDeps) {
  const tuning: GatewayTuning = { ...loadConfig({}).gateway, ...stripUndefined(d.tuning ?? {}) };
  const log = d.log ?? pino({ level: 'silent' });
  const gatewayId = d.gatewayId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const region = d.region ?? 'local';
  const queues = createQueueResolver({ pool: d.pool, taskQueue: d.taskQueue, routing: d.routing, region });
  const m = createGatewayMetrics(() =>
    coalescer.stats.eventsIn === 0 ? 0 : coalescer.stats.signals / coalescer.stats.eventsIn,
  );

  async function signalOne(tenant: string, agentId: string, payload: EventsSignal, source: string): Promise<void> {
    const taskQueue = await queues.queueFor(tenant, agentId);
    const end = m.signalLatency.startTimer();
    await withDeadline(d.temporal, tuning.temporalTimeoutMs, () =>
      signalAgent(d.temporal, taskQueue, { tenant, agentId }, payload),
    );
    end();
    m.signals.inc({ source });
  }

  /**
   * The workflow applies a signal's devices before its events, and an event from a device counts
   * as that device being there; so disconnects go in a second signal, after the events.
   */
  async function signal(b: Batch, source: string): Promise<void> {
    const gone = b.devices.filter((x) => !x.connected);
    if (gone.length === 0 || b.events.length === 0) {
      return signalOne(b.tenant, b.agentId, { events: b.events, devices: b.devices }, source);
    }
    await signalOne(b.tenant, b.agentId, { events: b.events, devices: b.devices.filter((x) => x.connected) }, source);
    await signalOne(b.tenant, b.agentId, { devices: gone }, source);
  }

  const coalescer = new Coalescer({
    digestMs: () => tuning.digestMs,
    naive: !tuning.coalesce,
    async send(b) {
      await signal(b, 'coalescer');
      await deletePending(d.pool, b.pendingIds);
    },
    onError: (err, b) => log.warn({ err, agentId: b.agentId }, 'signal failed; will retry'),
  });
  const writer = new IntakeWriter(d.pool, gatewayId);
  const presence = new Presence({
    pool: d.pool,
    gatewayId,
    leaseSec: tuning.leaseSec,
    httpDeviceTimeoutSec: tuning.httpDeviceTimeoutSec ?? (3 * tuning.heartbeatMs) / 1000,
    send: (b) => signal(b, 'sweeper'),
    signalDeadlineMs: tuning.temporalTimeoutMs,
    reconnected: (tenant, agentId, deviceId) =>
      coalescer.device(tenant, agentId, { deviceId, connected: true, at: Date.now() }),
    onError: (err) => log.warn({ err }, 'presence'),
  });
  const limiter = new FairLimiter({
    agentEventsPerSec: tuning.agentEventsPerSec,
    tenantEventsPerSec: tuning.tenantEventsPerSec,
  });
  const connections = new ConnectionCounter(tuning.agentMaxConnections);
  const push = new PushFanOut(d.pool, m, log);
  const inputHealth = createInputHealth({
    pool: d.pool,
    gatewayId,
    metrics: m,
    log,
    flushMs: tuning.inputFlushMs,
    evalMs: tuning.inputEvalMs,
    windowSec: tuning.inputWindowSec,
  });
  const ingest = createIngest({
    pool: d.pool,
    region,
    writer,
    presence,
    coalescer,
    limiter,
    metrics: m,
    inputHealth,
    log,
  });
  const cadence = new CadenceAdvisor({
    bounds: cadenceBounds(tuning),
    budgetPerSec: tuning.heartbeatBudgetPerSec,
    holdMs: tuning.cadenceHoldSec * 1000,
    ...(d.loadLagMs ? { lagMs: d.loadLagMs } : {}),
  });
  const timers: ReturnType<typeof setInterval>[] = [];

  return {
    tuning,
    gatewayId,
    region,
    /** The task queue an agent's workflow starts on (gateway/routing.ts). */
    queues,
    metrics: m,
    coalescer,
    writer,
    presence,
    log,
    limiter,
    connections,
    inputHealth,
    cadence,
    ...ingest,

    async start(): Promise<void> {
      await presence.start();
      await push.start();
      inputHealth.start();
      // The activity record's days: yesterday to two days ahead, checked again every hour.
      const prepare = () =>
        prepareRecordPartitions(d.pool).catch((err: unknown) => log.warn({ err }, 'record partitions'));
      await prepare();
      timers.push(setInterval(() => void prepare(), 3_600_000));
      cadence.start();
      timers.push(setInterval(() => coalescer.prune(), PRUNE_MS));
    },

    /** Graceful stop: buffered activity goes out; devices stay owned until the grace ends. */
    async stop(): Promise<void> {
      for (const t of timers) clearInterval(t);
      cadence.stop();
      await coalescer.flushAll();
      await inputHealth.stop();
      await presence.stop(tuning.drainGraceSec).catch((err) => log.warn({ err }, 'lease release'));
      push.stop();
    },

    /** A device connected or went away: its workflow hears of it with the agent's next signal. */
    device(tenant: string, agentId: string, deviceId: string, connected: boolean): void {
      coalescer.device(tenant, agentId, { deviceId, connected, at: Date.now() });
      // The activity record (README "Rule simulator"); a lost row only costs the simulator a device change.
      recordDevice(d.pool, { tenant, agentId, deviceId, connected }).catch((err: unknown) =>
        log.warn({ err }, 'device not recorded'),
      );
    },

    /**
     * An instance leaves for good (README "Fleet mode"): DEREGISTERED at once through its workflow
     * and HCM; 'not an instance' for a person.
     */
    async deregister(p: Principal, agentId: string, reason?: string) {
      if ((await agentKind(d.pool, p.tenant, agentId)) !== 'service') return 'not an instance' as const;
      const taskQueue = await queues.queueFor(p.tenant, agentId);
      return withDeadline(d.temporal, tuning.temporalTimeoutMs, () =>
        setAgentStatus(
          d.temporal,
          taskQueue,
          { tenant: p.tenant, agentId },
          {
            // Only an instance's workflow accepts it (workflows/service.ts).
            status: 'DEREGISTERED' as Status,
            ...(reason ? { reason } : {}),
            requestId: randomUUID(),
            actor: { kind: p.role === 'instance' ? 'agent' : (p.role as 'supervisor' | 'admin'), id: p.sub },
          },
        ),
      );
    },

    addTarget: (tenant: string, agentId: string, t: PushTarget) => push.add(tenant, agentId, t),
    removeTarget: (tenant: string, agentId: string, t: PushTarget) => push.remove(tenant, agentId, t),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
