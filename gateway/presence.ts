// Gateway liveness (docs/DESIGN.md "Staying fast", last paragraph): each instance renews a lease in
// Postgres; the sweeper (any live instance) acts for instances whose lease ran out: their devices
// are declared disconnected and the events they still held are forwarded. A graceful stop only
// shortens the lease to a grace period, so devices that reconnect elsewhere are never marked gone.
// Device liveness: every device's last_seen_at is refreshed in batches; HTTP-only devices, which
// have no socket to close, are expired by it. A gateway that finds its own lease lapsed puts its
// live sockets' rows back, so they count again and their closes still disconnect.
// The sweeper holds no lock across a Temporal call: claim (short transaction), signal, delete.
import type { Pool } from '../db/pool.ts';
import {
  addHttpDevice,
  claimDeadGateway,
  connectSession,
  deadGateways,
  dropEmptyLease,
  endSession,
  releaseClaimed,
  removeStaleHttpDevices,
  renewLease,
  restoreSessions,
  shortenLease,
  staleHttpDevices,
  touchDevices,
  type DeviceRef,
  type Session,
} from '../db/presence.ts';
import { idKey } from '../platform/ids.ts';
import { splitBatch, type Batch } from './coalescer.ts';

/**
 * A sweeper's claim on a dead gateway's rows lasts this many signal deadlines: it starts signals
 * only during the first CLAIM_DEADLINES − 1 of them, so every one has ended (landed or failed) when
 * the claim lapses. A reconnect that took a claimed row over re-asserts its connect then.
 */
const CLAIM_DEADLINES = 3;
/** Last-seen times collected in memory are written this often, in one statement. */
const SEEN_FLUSH_MS = 1_000;
/** HTTP devices expired per sweep pass; the rest wait for the next one. */
const HTTP_EXPIRY_BATCH = 1_000;

export interface PresenceOptions {
  pool: Pool;
  gatewayId: string;
  leaseSec: number;
  /** An HTTP-only device (POST /v1/events) not heard from for this long is declared disconnected. */
  httpDeviceTimeoutSec: number;
  /** Signals one agent's leftovers of a dead gateway; must throw when the workflow did not get them. */
  send(batch: Batch): Promise<void>;
  /** Deadline of one `send` (the Temporal call's); sizes the sweeper's claims. */
  signalDeadlineMs: number;
  /** A live socket's device was counted again after this gateway's lease had lapsed: signal a connect. */
  reconnected(tenant: string, agentId: string, deviceId: string): void;
  onError?: (err: unknown) => void;
}

export class Presence {
  readonly stats = { sweptGateways: 0, sweptDevices: 0, sweptEvents: 0, expiredHttpDevices: 0, reregistered: 0 };
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private seenTimer: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<void> | undefined;
  private renewing: Promise<void> | undefined;
  private reregistering: Promise<void> | undefined;
  private flushingSeen: Promise<void> | undefined;
  /** Set when a renewal found the lease lapsed; cleared once the rows are back (kept on failure). */
  private owesReregister = false;
  /** This gateway's welcomed websocket sessions, latest per device: what to put back after a lapse. */
  private readonly sessions = new Map<string, Session>();
  /** Devices heard from since the last flush. */
  private heard = new Map<string, DeviceRef>();
  /** Connects to re-assert once a sweeper's disconnect of the same device has surely landed. */
  private readonly reasserts = new Set<ReturnType<typeof setTimeout>>();
  private readonly claimMs: number;

  constructor(private readonly o: PresenceOptions) {
    this.claimMs = CLAIM_DEADLINES * o.signalDeadlineMs;
  }

  async start(): Promise<void> {
    await this.renew();
    this.renewTimer = setInterval(
      () => void this.renew().catch((e) => this.o.onError?.(e)),
      (this.o.leaseSec * 1000) / 3,
    );
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(250, (this.o.leaseSec * 1000) / 2));
    this.seenTimer = setInterval(() => void this.flushSeen().catch((e) => this.o.onError?.(e)), SEEN_FLUSH_MS);
  }

  /** Stops renewing; the lease ends `graceSec` from now (0: at once) and the sweeper takes over. */
  async stop(graceSec: number): Promise<void> {
    clearInterval(this.renewTimer);
    clearInterval(this.sweepTimer);
    clearInterval(this.seenTimer);
    for (const t of this.reasserts) clearTimeout(t);
    this.reasserts.clear();
    await Promise.allSettled([this.sweeping, this.renewing, this.reregistering]);
    await this.flushSeen().catch((e) => this.o.onError?.(e));
    await shortenLease(this.o.pool, this.o.gatewayId, graceSec);
  }

  /** Renews the lease; also callable from tests. */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const lapsed = await renewLease(this.o.pool, this.o.gatewayId, this.o.leaseSec);
    if (lapsed && this.sessions.size > 0) this.owesReregister = true;
    // Not awaited: waiting for a sweep under way must not hold up the next renewals.
    if (this.owesReregister && !this.reregistering) {
      this.reregistering = this.reregister()
        .catch((e) => {
          this.owesReregister = true;
          this.o.onError?.(e);
        })
        .finally(() => (this.reregistering = undefined));
    }
  }

  /**
   * After a lapse another gateway may have declared this one's devices gone and deleted their rows:
   * put back those nobody took over since, and tell their workflows. A row a sweeper is still
   * reporting gone (swept_at) is taken back too, and its connect re-asserted once that report landed.
   */
  private async reregister(): Promise<void> {
    this.owesReregister = false;
    // Sorted, so concurrent writers lock rows in one order.
    const back = await restoreSessions(this.o.pool, this.o.gatewayId, byKey(this.sessions));
    for (const r of back) {
      if (this.sessions.get(idKey(r.tenant, r.agentId, r.deviceId))?.sessionId === r.sessionId) {
        this.stats.reregistered++;
        this.o.reconnected(r.tenant, r.agentId, r.deviceId);
        if (r.swept) this.reassertLater(r.tenant, r.agentId, r.deviceId, r.sessionId);
      } else {
        // The socket closed while we were putting it back; its close found no row to delete.
        await endSession(this.o.pool, r);
      }
    }
  }

  /** A device of an agent is here now; a reconnect elsewhere took the row over from its old gateway. */
  async connect(tenant: string, agentId: string, deviceId: string, sessionId: string): Promise<void> {
    const swept = await connectSession(this.o.pool, this.o.gatewayId, { tenant, agentId, deviceId, sessionId });
    this.sessions.set(idKey(tenant, agentId, deviceId), { tenant, agentId, deviceId, sessionId });
    // A sweeper's "disconnected" for the row we took over may land after our "connected".
    if (swept) this.reassertLater(tenant, agentId, deviceId, sessionId);
  }

  /**
   * Signals the device's connect again once any sweeper's claim on its old row has lapsed (so its
   * disconnect has landed or failed), if this session still holds it; a close before then cancels
   * it, and the coalescer keeps it ahead of any later disconnect.
   */
  private reassertLater(tenant: string, agentId: string, deviceId: string, sessionId: string): void {
    const t = setTimeout(() => {
      this.reasserts.delete(t);
      if (this.sessions.get(idKey(tenant, agentId, deviceId))?.sessionId === sessionId)
        this.o.reconnected(tenant, agentId, deviceId);
    }, this.claimMs + 1000);
    t.unref();
    this.reasserts.add(t);
  }

  /**
   * A device speaking over HTTP (POST /v1/events); true when it was not counted before, so the
   * caller signals a connect. A websocket session's row is left alone: its close disconnects.
   */
  async httpDevice(tenant: string, agentId: string, deviceId: string): Promise<boolean> {
    return addHttpDevice(this.o.pool, this.o.gatewayId, { tenant, agentId, deviceId });
  }

  /** The device was heard from; written with all others at the next flush, not one write per frame. */
  seen(tenant: string, agentId: string, deviceId: string): void {
    this.heard.set(idKey(tenant, agentId, deviceId), { tenant, agentId, deviceId });
  }

  private flushSeen(): Promise<void> {
    this.flushingSeen ??= this.flushSeenOnce().finally(() => (this.flushingSeen = undefined));
    return this.flushingSeen;
  }

  private async flushSeenOnce(): Promise<void> {
    if (this.heard.size === 0) return;
    const batch = this.heard;
    this.heard = new Map();
    // Sorted, so two gateways touching the same rows take their locks in the same order.
    const ds = byKey(batch);
    try {
      await touchDevices(this.o.pool, ds);
    } catch (err) {
      for (const [k, d] of batch) if (!this.heard.has(k)) this.heard.set(k, d);
      throw err;
    }
  }

  /** True when this session still owned the device (so it really went away). */
  async disconnect(tenant: string, agentId: string, deviceId: string, sessionId: string): Promise<boolean> {
    const k = idKey(tenant, agentId, deviceId);
    if (this.sessions.get(k)?.sessionId === sessionId) this.sessions.delete(k);
    return endSession(this.o.pool, { tenant, agentId, deviceId, sessionId });
  }

  /** One pass; also callable from tests. Instances may sweep at once: claims keep them off each other's rows. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((e) => this.o.onError?.(e))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    // Never this gateway itself: if its own lease lapsed, it is alive and its sockets are open
    // (its next renewal notices and puts its rows back).
    for (const gatewayId of await deadGateways(this.o.pool, this.o.gatewayId, this.o.leaseSec))
      await this.takeOver(gatewayId);
    await this.expireHttpDevices();
  }

  /**
   * HTTP devices have no socket whose close says they left: one silent for the timeout is declared
   * disconnected, then its row is deleted if it is still that stale. Two sweepers racing here only
   * send the same disconnect twice; a failed signal leaves the row for the next pass.
   */
  private async expireHttpDevices(): Promise<void> {
    const stale = await staleHttpDevices(this.o.pool, this.o.httpDeviceTimeoutSec, HTTP_EXPIRY_BATCH);
    const batches = new Map<string, Batch>();
    const now = Date.now();
    for (const d of stale)
      batchOf(batches, d.tenant, d.agentId).devices.push({ deviceId: d.deviceId, connected: false, at: now });
    for (const b of batches.values()) {
      try {
        await this.o.send(b);
      } catch (e) {
        this.o.onError?.(e);
        continue;
      }
      this.stats.expiredHttpDevices += await removeStaleHttpDevices(
        this.o.pool,
        b.tenant,
        b.agentId,
        b.devices.map((d) => d.deviceId),
        this.o.httpDeviceTimeoutSec,
      );
    }
  }

  /**
   * Forwards a dead gateway's leftovers, agent by agent, holding no lock while it signals: claim
   * (short transaction), signal, then delete what was delivered, each device row only if it still
   * is the dead gateway's session. A reconnect that took a row over meanwhile keeps it and is never
   * reported gone after its connect: it saw the claim (swept_at) and re-asserts its connect once
   * the claim lapsed, by when our disconnect has landed or failed. A failed signal leaves the rows
   * claimed; the next pass after the claim lapses sends them again.
   */
  private async takeOver(gatewayId: string): Promise<void> {
    const claimedAt = Date.now();
    const { devices, pending } = await claimDeadGateway(this.o.pool, gatewayId, this.claimMs / 1000);
    const batches = new Map<string, Batch>();
    const sessions = new Map<string, string>();
    for (const p of pending) {
      const b = batchOf(batches, p.tenant, p.agent_id);
      b.events.push(...p.events);
      b.pendingIds.push(p.id);
    }
    const now = Date.now();
    for (const d of devices) {
      batchOf(batches, d.tenant, d.agent_id).devices.push({ deviceId: d.device_id, connected: false, at: now });
      sessions.set(idKey(d.tenant, d.agent_id, d.device_id), d.session_id);
    }
    // Signals may start only while they surely end before the claim lapses.
    const startBy = claimedAt + this.claimMs - this.o.signalDeadlineMs;
    for (const b of batches.values()) {
      try {
        for (const part of splitBatch(b)) {
          if (Date.now() > startBy)
            throw new Error(`sweep of ${gatewayId}: claim nearly lapsed; the rest waits for the next pass`);
          await this.o.send(part);
        }
      } catch (e) {
        this.o.onError?.(e);
        continue;
      }
      await this.release(
        gatewayId,
        b,
        b.devices.map((d) => sessions.get(idKey(b.tenant, b.agentId, d.deviceId))!),
      );
    }
    if (await dropEmptyLease(this.o.pool, gatewayId)) this.stats.sweptGateways++;
  }

  /** After every part of an agent's batch was signalled: forget its intake rows and the device rows still the dead gateway's. */
  private async release(gatewayId: string, b: Batch, sessionIds: string[]): Promise<void> {
    const sessions = b.devices.map((d, i) => ({ deviceId: d.deviceId, sessionId: sessionIds[i]! }));
    this.stats.sweptDevices += await releaseClaimed(
      this.o.pool,
      gatewayId,
      b.tenant,
      b.agentId,
      b.pendingIds,
      sessions,
    );
    this.stats.sweptEvents += b.events.length;
  }
}

/** A map's values in key order: writers that lock rows in one order cannot deadlock each other. */
function byKey<V>(m: Map<string, V>): V[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** One signal's worth per agent: the sweeper's unit of work. */
function batchOf(batches: Map<string, Batch>, tenant: string, agentId: string): Batch {
  const k = idKey(tenant, agentId);
  let b = batches.get(k);
  if (!b) batches.set(k, (b = { tenant, agentId, events: [], devices: [], pendingIds: [] }));
  return b;
}
