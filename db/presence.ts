// gateway_leases and device_sessions: which gateway is alive, and which device of which agent is
// connected through it. gateway/presence.ts decides when (leases, sweeps, reconnects); these
// statements only read and write. The claim and release of a dead gateway's leftovers also cover
// its intake_pending rows, in the same short transactions.
import { inTransaction, type Pool, type Queryable } from './pool.ts';
import { idKey } from '../platform/ids.ts';
import type { AgentEvent } from '../workflows/model.ts';

export interface DeviceRef {
  tenant: string;
  agentId: string;
  deviceId: string;
}

export interface Session extends DeviceRef {
  sessionId: string;
}

/** Renews (or creates) the gateway's lease for `leaseSec`; true when it had lapsed or was swept. */
export async function renewLease(db: Queryable, gatewayId: string, leaseSec: number): Promise<boolean> {
  // `old` is the row as it was before this statement: missing (swept) or expired means lapsed.
  const { rows } = await db.query<{ lapsed: boolean }>(
    `WITH old AS (SELECT expires_at FROM gateway_leases WHERE gateway_id = $1)
     INSERT INTO gateway_leases (gateway_id, expires_at) VALUES ($1, now() + make_interval(secs => $2))
     ON CONFLICT (gateway_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
     RETURNING coalesce((SELECT expires_at FROM old) < now(), true) AS lapsed`,
    [gatewayId, leaseSec],
  );
  return rows[0]!.lapsed;
}

/** Ends the lease `graceSec` from now (0: at once); the sweeper takes over then. */
export async function shortenLease(db: Queryable, gatewayId: string, graceSec: number): Promise<void> {
  await db.query(`UPDATE gateway_leases SET expires_at = now() + make_interval(secs => $2) WHERE gateway_id = $1`, [
    gatewayId,
    graceSec,
  ]);
}

/**
 * Puts a lapsed gateway's live sessions back (one transaction): rows nobody took over since, and
 * rows a sweeper is still reporting gone. Answers the rows put back; `swept` when a sweeper had
 * claimed the row, so its disconnect may still land after our connect.
 */
export async function restoreSessions(
  pool: Pool,
  gatewayId: string,
  live: Session[],
): Promise<(Session & { swept: boolean })[]> {
  return inTransaction(pool, async (c) => {
    const cols = [
      live.map((x) => x.tenant),
      live.map((x) => x.agentId),
      live.map((x) => x.deviceId),
      live.map((x) => x.sessionId),
    ];
    const { rows: before } = await c.query<{ tenant: string; agent_id: string; device_id: string; swept: boolean }>(
      `SELECT d.tenant, d.agent_id, d.device_id, d.swept_at IS NOT NULL AS swept FROM device_sessions d
         JOIN unnest($1::text[], $2::text[], $3::text[]) AS v(t, a, dv) ON d.tenant = v.t AND d.agent_id = v.a AND d.device_id = v.dv
        ORDER BY d.tenant, d.agent_id, d.device_id FOR UPDATE OF d`,
      cols.slice(0, 3),
    );
    const swept = new Set(before.filter((r) => r.swept).map((r) => idKey(r.tenant, r.agent_id, r.device_id)));
    // Own sessions only: a row some reconnect took over stays with it.
    const { rows } = await c.query<{ tenant: string; agent_id: string; device_id: string; session_id: string }>(
      `INSERT INTO device_sessions (tenant, agent_id, device_id, session_id, gateway_id, via)
       SELECT t, a, d, s, $5, 'ws' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(t, a, d, s)
       ON CONFLICT (tenant, agent_id, device_id) DO UPDATE SET gateway_id = EXCLUDED.gateway_id, swept_at = NULL
         WHERE device_sessions.session_id = EXCLUDED.session_id AND device_sessions.swept_at IS NOT NULL
       RETURNING tenant, agent_id, device_id, session_id`,
      [...cols, gatewayId],
    );
    return rows.map((r) => ({
      tenant: r.tenant,
      agentId: r.agent_id,
      deviceId: r.device_id,
      sessionId: r.session_id,
      swept: swept.has(idKey(r.tenant, r.agent_id, r.device_id)),
    }));
  });
}

/**
 * A websocket session now holds the device (one transaction; a reconnect takes the row over from
 * its old gateway). True when a sweeper had claimed the row it took over.
 */
export async function connectSession(pool: Pool, gatewayId: string, s: Session): Promise<boolean> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ swept: boolean }>(
      'SELECT swept_at IS NOT NULL AS swept FROM device_sessions WHERE tenant = $1 AND agent_id = $2 AND device_id = $3 FOR UPDATE',
      [s.tenant, s.agentId, s.deviceId],
    );
    await c.query(
      `INSERT INTO device_sessions (tenant, agent_id, device_id, session_id, gateway_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, agent_id, device_id) DO UPDATE SET session_id = EXCLUDED.session_id,
         gateway_id = EXCLUDED.gateway_id, connected_at = now(), last_seen_at = now(), via = 'ws', swept_at = NULL`,
      [s.tenant, s.agentId, s.deviceId, s.sessionId, gatewayId],
    );
    return rows[0]?.swept === true;
  });
}

/** Deletes the device's row if this session still holds it; true when it did. */
export async function endSession(db: Queryable, s: Session): Promise<boolean> {
  const r = await db.query(
    'DELETE FROM device_sessions WHERE tenant = $1 AND agent_id = $2 AND device_id = $3 AND session_id = $4',
    [s.tenant, s.agentId, s.deviceId, s.sessionId],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Counts an HTTP-only device as connected; true when it was not counted before (a websocket row is left alone). */
export async function addHttpDevice(db: Queryable, gatewayId: string, d: DeviceRef): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO device_sessions (tenant, agent_id, device_id, session_id, gateway_id, via) VALUES ($1, $2, $3, $4, $5, 'http')
     ON CONFLICT (tenant, agent_id, device_id) DO NOTHING`,
    [d.tenant, d.agentId, d.deviceId, `http:${d.deviceId}`, gatewayId],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Stamps `last_seen_at = now()` on these devices, in one statement (pass them sorted: rows lock in that order). */
export async function touchDevices(db: Queryable, devices: DeviceRef[]): Promise<void> {
  await db.query(
    `UPDATE device_sessions d SET last_seen_at = now()
       FROM unnest($1::text[], $2::text[], $3::text[]) AS v(tenant, agent_id, device_id)
      WHERE d.tenant = v.tenant AND d.agent_id = v.agent_id AND d.device_id = v.device_id`,
    [devices.map((d) => d.tenant), devices.map((d) => d.agentId), devices.map((d) => d.deviceId)],
  );
}

/**
 * Gateways to sweep, never `selfId`: those whose lease ran out, and those without a lease that
 * still hold intake rows older than a lease.
 */
export async function deadGateways(db: Queryable, selfId: string, leaseSec: number): Promise<string[]> {
  const { rows } = await db.query<{ gateway_id: string }>(
    `SELECT gateway_id FROM gateway_leases WHERE expires_at < now() AND gateway_id <> $2
     UNION SELECT DISTINCT gateway_id FROM intake_pending p
      WHERE created_at < now() - make_interval(secs => $1) AND gateway_id <> $2
        AND NOT EXISTS (SELECT 1 FROM gateway_leases l WHERE l.gateway_id = p.gateway_id)`,
    [leaseSec, selfId],
  );
  return rows.map((r) => r.gateway_id);
}

/** HTTP-only devices silent for `timeoutSec`, at most `limit` (a scan: last_seen_at stays out of every index so its updates stay HOT). */
export async function staleHttpDevices(db: Queryable, timeoutSec: number, limit: number): Promise<DeviceRef[]> {
  const { rows } = await db.query<{ tenant: string; agent_id: string; device_id: string }>(
    `SELECT tenant, agent_id, device_id FROM device_sessions
      WHERE via = 'http' AND last_seen_at < now() - make_interval(secs => $1) LIMIT $2`,
    [timeoutSec, limit],
  );
  return rows.map((r) => ({ tenant: r.tenant, agentId: r.agent_id, deviceId: r.device_id }));
}

/** Deletes one agent's HTTP devices that are still silent for `timeoutSec`; answers how many. */
export async function removeStaleHttpDevices(
  db: Queryable,
  tenant: string,
  agentId: string,
  deviceIds: string[],
  timeoutSec: number,
): Promise<number> {
  const r = await db.query(
    `DELETE FROM device_sessions WHERE tenant = $1 AND agent_id = $2 AND device_id = ANY($3::text[])
        AND via = 'http' AND last_seen_at < now() - make_interval(secs => $4)`,
    [tenant, agentId, deviceIds, timeoutSec],
  );
  return r.rowCount ?? 0;
}

/**
 * Claims a dead gateway's websocket device rows and intake rows for `claimSec` (one short
 * transaction): those nobody claimed, or whose claim lapsed. Intake rows come in id order.
 */
export async function claimDeadGateway(pool: Pool, gatewayId: string, claimSec: number) {
  return inTransaction(pool, async (c) => {
    // HTTP devices belong to no gateway (a load balancer spreads their posts): they expire by last_seen_at.
    const { rows: devices } = await c.query<{
      tenant: string;
      agent_id: string;
      device_id: string;
      session_id: string;
    }>(
      `UPDATE device_sessions SET swept_at = now()
        WHERE gateway_id = $1 AND via = 'ws' AND (swept_at IS NULL OR swept_at < now() - make_interval(secs => $2))
        RETURNING tenant, agent_id, device_id, session_id`,
      [gatewayId, claimSec],
    );
    const { rows: pending } = await c.query<{ id: number; tenant: string; agent_id: string; events: AgentEvent[] }>(
      `UPDATE intake_pending SET claimed_until = now() + make_interval(secs => $2)
        WHERE gateway_id = $1 AND (claimed_until IS NULL OR claimed_until < now())
        RETURNING id, tenant, agent_id, events`,
      [gatewayId, claimSec],
    );
    return { devices, pending: pending.sort((a, b) => a.id - b.id) };
  });
}

/**
 * After one agent's leftovers were signalled: deletes its intake rows and the device rows that
 * are still the dead gateway's claimed sessions (one transaction). Answers the device rows deleted.
 */
export async function releaseClaimed(
  pool: Pool,
  gatewayId: string,
  tenant: string,
  agentId: string,
  pendingIds: number[],
  sessions: { deviceId: string; sessionId: string }[],
): Promise<number> {
  return inTransaction(pool, async (c) => {
    await c.query('DELETE FROM intake_pending WHERE id = ANY($1::bigint[])', [pendingIds]);
    const { rowCount } = await c.query(
      `DELETE FROM device_sessions d USING unnest($3::text[], $4::text[]) AS v(device_id, session_id)
        WHERE d.tenant = $1 AND d.agent_id = $2 AND d.device_id = v.device_id AND d.session_id = v.session_id
          AND d.gateway_id = $5 AND d.swept_at IS NOT NULL`,
      [tenant, agentId, sessions.map((s) => s.deviceId), sessions.map((s) => s.sessionId), gatewayId],
    );
    return rowCount ?? 0;
  });
}

/** Forgets a dead gateway's lease once nothing of it is left; true when it did. */
export async function dropEmptyLease(db: Queryable, gatewayId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `DELETE FROM gateway_leases l WHERE gateway_id = $1 AND expires_at < now()
        AND NOT EXISTS (SELECT 1 FROM device_sessions d WHERE d.gateway_id = l.gateway_id AND d.via = 'ws')
        AND NOT EXISTS (SELECT 1 FROM intake_pending p WHERE p.gateway_id = l.gateway_id)`,
    [gatewayId],
  );
  return (rowCount ?? 0) > 0;
}
