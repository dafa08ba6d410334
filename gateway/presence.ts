// Gateway liveness (DESIGN.md "Staying fast", last paragraph): each instance renews a lease in
// Postgres; the sweeper (any live instance) acts for instances whose lease ran out: their devices
// are declared disconnected and the events they still held are forwarded. A graceful stop only
// shortens the lease to a grace period, so devices that reconnect elsewhere are never marked gone.
import { transaction, type Pool } from '../db/pool.ts';
import type { AgentEvent } from '../workflows/model.ts';
import type { Batch } from './coalescer.ts';

const SWEEP_LOCK = 7_420_101;

export interface PresenceOptions {
  pool: Pool;
  gatewayId: string;
  leaseSec: number;
  /** Signals one agent's leftovers of a dead gateway; must throw when the workflow did not get them. */
  send(batch: Batch): Promise<void>;
  onError?: (err: unknown) => void;
}

export class Presence {
  readonly stats = { sweptGateways: 0, sweptDevices: 0, sweptEvents: 0 };
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly o: PresenceOptions) {}

  async start(): Promise<void> {
    await this.renew();
    this.renewTimer = setInterval(() => void this.renew().catch((e) => this.o.onError?.(e)), (this.o.leaseSec * 1000) / 3);
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(250, (this.o.leaseSec * 1000) / 2));
  }

  /** Stops renewing; the lease ends `graceSec` from now (0: at once) and the sweeper takes over. */
  async stop(graceSec: number): Promise<void> {
    clearInterval(this.renewTimer);
    clearInterval(this.sweepTimer);
    await this.sweeping;
    await this.o.pool.query(
      `UPDATE gateway_leases SET expires_at = now() + make_interval(secs => $2) WHERE gateway_id = $1`,
      [this.o.gatewayId, graceSec],
    );
  }

  private async renew(): Promise<void> {
    await this.o.pool.query(
      `INSERT INTO gateway_leases (gateway_id, expires_at) VALUES ($1, now() + make_interval(secs => $2))
       ON CONFLICT (gateway_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [this.o.gatewayId, this.o.leaseSec],
    );
  }

  /** A device of an agent is here now; a reconnect elsewhere took the row over from its old gateway. */
  async connect(tenant: string, agentId: string, deviceId: string, sessionId: string): Promise<void> {
    await this.o.pool.query(
      `INSERT INTO device_sessions (tenant, agent_id, device_id, session_id, gateway_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, agent_id, device_id) DO UPDATE SET session_id = EXCLUDED.session_id,
         gateway_id = EXCLUDED.gateway_id, connected_at = now()`,
      [tenant, agentId, deviceId, sessionId, this.o.gatewayId],
    );
  }

  /** True when this session still owned the device (so it really went away). */
  async disconnect(tenant: string, agentId: string, deviceId: string, sessionId: string): Promise<boolean> {
    const r = await this.o.pool.query(
      `DELETE FROM device_sessions WHERE tenant = $1 AND agent_id = $2 AND device_id = $3 AND session_id = $4`,
      [tenant, agentId, deviceId, sessionId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** One pass; also callable from tests. Serialised across instances by an advisory lock. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((e) => this.o.onError?.(e))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const c = await this.o.pool.connect();
    try {
      const { rows: lock } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SWEEP_LOCK]);
      if (!lock[0]!.ok) return;
      try {
        const { rows: dead } = await c.query<{ gateway_id: string }>(
          `SELECT gateway_id FROM gateway_leases WHERE expires_at < now()
           UNION SELECT DISTINCT gateway_id FROM intake_pending p
            WHERE created_at < now() - make_interval(secs => $1)
              AND NOT EXISTS (SELECT 1 FROM gateway_leases l WHERE l.gateway_id = p.gateway_id)`,
          [this.o.leaseSec],
        );
        for (const { gateway_id } of dead) await this.takeOver(c, gateway_id);
        // Retention: pushes are kept 15 minutes (PROTOCOL.md promises 10), reqIds a day.
        await c.query(`DELETE FROM push_messages WHERE created_at < now() - interval '15 minutes'`);
        await c.query(`DELETE FROM event_dedupe WHERE received_at < now() - interval '1 day'`);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK]);
      }
    } finally {
      c.release();
    }
  }

  /** Forwards a dead gateway's leftovers, agent by agent; a failed signal leaves them for next time. */
  private async takeOver(c: import('pg').PoolClient, gatewayId: string): Promise<void> {
    // Row locks make a concurrent reconnect (which takes a device row over) wait for this pass, so
    // its "connected" reaches the workflow after our "disconnected", never before.
    await transaction(c, (t) => this.forwardLeftovers(t, gatewayId));
  }

  private async forwardLeftovers(c: import('pg').PoolClient, gatewayId: string): Promise<void> {
    const { rows: devices } = await c.query<{ tenant: string; agent_id: string; device_id: string }>(
      'SELECT tenant, agent_id, device_id FROM device_sessions WHERE gateway_id = $1 FOR UPDATE',
      [gatewayId],
    );
    const { rows: pending } = await c.query<{ id: number; tenant: string; agent_id: string; events: AgentEvent[] }>(
      'SELECT id, tenant, agent_id, events FROM intake_pending WHERE gateway_id = $1 ORDER BY id FOR UPDATE',
      [gatewayId],
    );
    const batches = new Map<string, Batch>();
    const batch = (tenant: string, agentId: string) => {
      const k = `${tenant}\u0000${agentId}`;
      let b = batches.get(k);
      if (!b) batches.set(k, (b = { tenant, agentId, events: [], devices: [], pendingIds: [] }));
      return b;
    };
    for (const p of pending) {
      const b = batch(p.tenant, p.agent_id);
      b.events.push(...p.events);
      b.pendingIds.push(p.id);
    }
    const now = Date.now();
    for (const d of devices) batch(d.tenant, d.agent_id).devices.push({ deviceId: d.device_id, connected: false, at: now });
    let failed = false;
    for (const b of batches.values()) {
      try {
        await this.o.send(b);
      } catch (e) {
        failed = true;
        this.o.onError?.(e);
        continue;
      }
      await c.query('DELETE FROM intake_pending WHERE id = ANY($1::bigint[])', [b.pendingIds]);
      for (const d of b.devices) {
        await c.query('DELETE FROM device_sessions WHERE tenant = $1 AND agent_id = $2 AND device_id = $3 AND gateway_id = $4', [b.tenant, b.agentId, d.deviceId, gatewayId]);
      }
      this.stats.sweptDevices += b.devices.length;
      this.stats.sweptEvents += b.events.length;
    }
    if (!failed) {
      await c.query('DELETE FROM gateway_leases WHERE gateway_id = $1 AND expires_at < now()', [gatewayId]);
      this.stats.sweptGateways++;
    }
  }
}
