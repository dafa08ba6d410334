// The gateway's engine room, shared by the websocket and the HTTP fallback: intake (validation,
// durable group commit, receipts), coalesced signals to agent workflows, device presence with
// leases and the sweeper, pushes from the dispatcher, and the metrics of all of it.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import client from 'prom-client';
import type { PoolClient } from 'pg';
import pino from 'pino';
import { ensureAgent } from '../db/agents.ts';
import { loadConfig, type GatewayTuning } from '../platform/config.ts';
import { idKey } from '../platform/ids.ts';
import type { Receipt } from '../sdk/protocol.ts';
import { agentWorkflowId, eventsSignal, type EventsSignal } from '../workflows/contract.ts';
import { Coalescer, type Batch } from './coalescer.ts';
import { checkEvents } from './frames.ts';
import type { GatewayDeps } from './http.ts';
import { deletePending, IntakeWriter, RefusedInput } from './intake.ts';
import { Presence } from './presence.ts';
import { ConnectionCounter, FairLimiter, type EventRefusal } from './rate-limit.ts';
import { withDeadline } from './temporal-deadline.ts';

/** What a connected device looks like to the push side. */
export interface PushTarget {
  send(frame: object): void;
}

export type GatewayCore = ReturnType<typeof createCore>;

export function createCore(d: GatewayDeps) {
  const tuning: GatewayTuning = { ...loadConfig({}).gateway, ...stripUndefined(d.tuning ?? {}) };
  const log = d.log ?? pino({ level: 'silent' });
  const gatewayId = d.gatewayId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const region = d.region ?? 'local';

  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    connections: new client.Gauge({ name: 'vigil_ws_connections', help: 'Open websocket connections (welcomed)', registers: [registry] }),
    events: new client.Counter({ name: 'vigil_events_total', help: 'Events received, by type and outcome', labelNames: ['type', 'outcome'], registers: [registry] }),
    receipts: new client.Counter({ name: 'vigil_receipts_total', help: 'Receipts sent', labelNames: ['via'], registers: [registry] }),
    signals: new client.Counter({ name: 'vigil_signals_total', help: 'Signals sent to agent workflows', labelNames: ['source'], registers: [registry] }),
    rejects: new client.Counter({ name: 'vigil_rejects_total', help: 'Rejected frames, events and connections, by code', labelNames: ['code'], registers: [registry] }),
    pushes: new client.Counter({ name: 'vigil_pushes_total', help: 'Push frames sent to devices', registers: [registry] }),
    receiptLatency: new client.Histogram({ name: 'vigil_receipt_seconds', help: 'Frame arrival to receipt', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] }),
    signalLatency: new client.Histogram({ name: 'vigil_signal_seconds', help: 'signalWithStart duration', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    // Client clocks never move a deadline (the gateway's receipt time does); their skew is only watched.
    clockSkew: new client.Histogram({ name: 'vigil_client_clock_skew_seconds', help: 'Absolute difference between an event\'s client ts and the gateway\'s receipt time', buckets: [0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600], registers: [registry] }),
  };
  new client.Gauge({
    name: 'vigil_coalescing_ratio', help: 'Signals sent per event accepted (lower is better)', registers: [registry],
    collect() {
      this.set(coalescer.stats.eventsIn === 0 ? 0 : coalescer.stats.signals / coalescer.stats.eventsIn);
    },
  });

  async function signalOne(tenant: string, agentId: string, payload: EventsSignal, source: string): Promise<void> {
    const end = m.signalLatency.startTimer();
    await withDeadline(d.temporal, tuning.temporalTimeoutMs, () => d.temporal.workflow.signalWithStart('agentWorkflow', {
      workflowId: agentWorkflowId(tenant, agentId),
      taskQueue: d.taskQueue,
      args: [{ tenant, agentId }],
      signal: eventsSignal,
      signalArgs: [payload],
    }));
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
    pool: d.pool, gatewayId, leaseSec: tuning.leaseSec,
    httpDeviceTimeoutSec: tuning.httpDeviceTimeoutSec ?? (3 * tuning.heartbeatMs) / 1000,
    send: (b) => signal(b, 'sweeper'),
    signalDeadlineMs: tuning.temporalTimeoutMs,
    reconnected: (tenant, agentId, deviceId) => coalescer.device(tenant, agentId, { deviceId, connected: true, at: Date.now() }),
    onError: (err) => log.warn({ err }, 'presence'),
  });
  const limiter = new FairLimiter({ agentEventsPerSec: tuning.agentEventsPerSec, tenantEventsPerSec: tuning.tenantEventsPerSec });
  const connections = new ConnectionCounter(tuning.agentMaxConnections);
  const local = new Map<string, Set<PushTarget>>();
  const ensured = new Set<string>();

  let listener: PoolClient | undefined;
  let stopped = false;
  const timers: ReturnType<typeof setInterval>[] = [];

  async function listen(): Promise<void> {
    if (stopped) return;
    try {
      const c = await d.pool.connect();
      listener = c;
      c.on('notification', (n) => void onPushNotice(n.payload));
      c.on('error', (err) => {
        log.warn({ err }, 'push listener lost; reconnecting');
        c.release(true);
        if (listener === c) listener = undefined;
        setTimeout(() => void listen(), 1000);
      });
      await c.query('LISTEN vigil_push');
    } catch (err) {
      log.warn({ err }, 'push listener failed; retrying');
      setTimeout(() => void listen(), 1000);
    }
  }

  async function onPushNotice(payload: string | undefined): Promise<void> {
    try {
      const n = JSON.parse(payload ?? '{}') as { tenant?: string; agentId?: string; seq?: number };
      const targets = n.tenant && n.agentId ? local.get(idKey(n.tenant, n.agentId)) : undefined;
      if (!targets || targets.size === 0 || n.seq === undefined) return;
      const { rows } = await d.pool.query('SELECT seq, topic, data FROM push_messages WHERE seq = $1', [n.seq]);
      const r = rows[0];
      if (!r) return;
      for (const t of targets) {
        t.send({ type: 'push', msgId: `m-${r.seq}`, topic: r.topic, data: r.data });
        m.pushes.inc();
      }
    } catch (err) {
      log.warn({ err }, 'push delivery failed');
    }
  }

  return {
    tuning, gatewayId, region, metrics: m, coalescer, writer, presence, log, limiter, connections,

    async start(): Promise<void> {
      await presence.start();
      await listen();
      timers.push(setInterval(() => coalescer.prune(), 60_000));
    },

    /** Graceful stop: buffered activity goes out; devices stay owned until the grace ends. */
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await coalescer.flushAll();
      await presence.stop(tuning.drainGraceSec).catch((err) => log.warn({ err }, 'lease release'));
      listener?.release();
      listener = undefined;
    },

    async ensureAgent(tenant: string, agentId: string): Promise<void> {
      const k = idKey(tenant, agentId);
      if (ensured.has(k)) return;
      await ensureAgent(d.pool, tenant, agentId, region);
      if (ensured.size > 100_000) ensured.clear();
      ensured.add(k);
    },

    /**
     * Whether the agent may send `n` more events now (README "Limits and retention"): undefined, or
     * why not. Its own budget first; when the tenant is short, only agents above their fair share.
     */
    eventsRefused(tenant: string, agentId: string, n: number): { code: EventRefusal; message: string } | undefined {
      const why = limiter.take(tenant, agentId, n);
      if (!why) return undefined;
      m.rejects.inc({ code: why });
      return { code: why, message: why === 'AGENT_RATE' ? 'the agent is over its event rate' : 'the tenant is over its event rate and this agent sends more than its share' };
    },

    /**
     * Validates, persists and forwards one frame's events; the returned receipt is safe to send:
     * every accepted event is durable. A persistence failure accepts nothing, so the client resends.
     */
    async ingest(tenant: string, agentId: string, deviceId: string, raw: unknown[], via: 'ws' | 'http'): Promise<Receipt & { type: 'receipt'; retry?: string[] }> {
      const now = Date.now();
      const { valid, rejected } = checkEvents(raw, deviceId, now);
      // Measured on the client's ts as sent (validation clamps a future one).
      for (const r of raw) {
        const ts = (r as { ts?: unknown } | null)?.ts;
        if (typeof ts === 'number') m.clockSkew.observe(Math.abs(now - ts) / 1000);
      }
      for (const r of rejected) m.rejects.inc({ code: r.code });
      try {
        const p = await writer.submit(tenant, agentId, valid);
        presence.seen(tenant, agentId, deviceId);
        for (const e of p.fresh) m.events.inc({ type: String(e.type), outcome: 'accepted' });
        for (const _ of p.duplicates) m.events.inc({ type: 'any', outcome: 'duplicate' });
        coalescer.accept(tenant, agentId, p.fresh, p.pendingId, p.urgent);
        m.receipts.inc({ via });
        return { type: 'receipt', accepted: p.fresh.map((e) => e.reqId), duplicates: p.duplicates, rejected };
      } catch (err) {
        if (err instanceof RefusedInput) {
          // Postgres refuses this frame's data: resending cannot help, so say so instead of `retry`.
          log.warn({ err, tenant, agentId, sqlState: err.sqlState }, 'intake refused a frame');
          m.rejects.inc({ code: 'INVALID_INPUT' });
          m.receipts.inc({ via });
          const refused = valid.map((e) => ({ reqId: e.reqId, code: 'INVALID_INPUT', message: err.message }));
          return { type: 'receipt', accepted: [], duplicates: [], rejected: [...rejected, ...refused] };
        }
        log.error({ err }, 'intake commit failed');
        m.rejects.inc({ code: 'UNAVAILABLE' });
        m.receipts.inc({ via });
        return { type: 'receipt', accepted: [], duplicates: [], rejected, retry: valid.map((e) => e.reqId) };
      }
    },

    device(tenant: string, agentId: string, deviceId: string, connected: boolean): void {
      coalescer.device(tenant, agentId, { deviceId, connected, at: Date.now() });
    },

    addTarget(tenant: string, agentId: string, t: PushTarget): void {
      const k = idKey(tenant, agentId);
      let s = local.get(k);
      if (!s) local.set(k, (s = new Set()));
      s.add(t);
    },
    removeTarget(tenant: string, agentId: string, t: PushTarget): void {
      const k = idKey(tenant, agentId);
      const s = local.get(k);
      s?.delete(t);
      if (s?.size === 0) local.delete(k);
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
