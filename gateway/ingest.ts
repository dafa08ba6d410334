// Ingest: what a frame of client events goes through, on the websocket and the HTTP fallback alike.
// The agent's and tenant's event budgets, validation, the durable group commit of its facts
// (gateway/intake.ts), then the coalescer that brings them to the agent's workflow. The receipt
// is safe to send: every event it accepts is durable.
import type pino from 'pino';
import { ensureAgent, type AgentKind } from '../db/agents.ts';
import type { Pool } from '../db/pool.ts';
import { idKey } from '../platform/ids.ts';
import type { Receipt } from '../sdk/protocol.ts';
import type { Coalescer } from './coalescer.ts';
import { checkEvents } from './frames.ts';
import { RefusedInput, type IntakeWriter } from './intake.ts';
import type { InputHealth } from './input-health.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Presence } from './presence.ts';
import type { EventRefusal, FairLimiter } from './rate-limit.ts';

/** Agents this gateway already made sure of, remembered up to this many (then forgotten at once). */
const ENSURED_KEYS = 100_000;

export type ReceiptFrame = Receipt & { type: 'receipt'; retry?: string[] };

export interface IngestParts {
  pool: Pool;
  region: string;
  writer: IntakeWriter;
  presence: Presence;
  coalescer: Coalescer;
  limiter: FairLimiter;
  metrics: GatewayMetrics;
  inputHealth: InputHealth;
  log: pino.Logger;
}

export function createIngest(o: IngestParts) {
  const m = o.metrics;
  const ensured = new Set<string>();

  return {
    /** Creates the agent's rows on first sight (in this gateway's region). */
    async ensureAgent(tenant: string, agentId: string, kind: AgentKind = 'person'): Promise<void> {
      const k = idKey(tenant, agentId);
      if (ensured.has(k)) return;
      await ensureAgent(o.pool, tenant, agentId, o.region, kind);
      if (ensured.size > ENSURED_KEYS) ensured.clear();
      ensured.add(k);
    },

    /**
     * Whether the agent may send `n` more events now (README "Limits and retention"): undefined, or
     * why not. Its own budget first; when the tenant is short, only agents above their fair share.
     */
    eventsRefused(tenant: string, agentId: string, n: number): { code: EventRefusal; message: string } | undefined {
      const why = o.limiter.take(tenant, agentId, n);
      if (!why) return undefined;
      m.rejects.inc({ code: why });
      o.inputHealth.rejected(tenant, agentId, n);
      return {
        code: why,
        message:
          why === 'AGENT_RATE'
            ? 'the agent is over its event rate'
            : 'the tenant is over its event rate and this agent sends more than its share',
      };
    },

    /**
     * Validates, persists and forwards one frame's events; the returned receipt is safe to send:
     * every accepted event is durable. A persistence failure accepts nothing, so the client resends.
     */
    async ingest(
      tenant: string,
      agentId: string,
      deviceId: string,
      raw: unknown[],
      via: 'ws' | 'http',
    ): Promise<ReceiptFrame> {
      const now = Date.now();
      const { valid, rejected, ignored } = checkEvents(raw, deviceId, now);
      if (ignored > 0) m.unknownFields.inc({ frame: 'event' }, ignored);
      // Measured on the client's ts as sent (validation clamps a future one).
      for (const r of raw) {
        const ts = (r as { ts?: unknown } | null)?.ts;
        if (typeof ts === 'number') m.clockSkew.observe(Math.abs(now - ts) / 1000);
      }
      for (const r of rejected) m.rejects.inc({ code: r.code });
      o.inputHealth.rejected(tenant, agentId, rejected.length);
      try {
        const p = await o.writer.submit(tenant, agentId, valid);
        o.presence.seen(tenant, agentId, deviceId);
        for (const e of p.fresh) m.events.inc({ type: String(e.type), outcome: 'accepted' });
        o.inputHealth.accepted(tenant, agentId, p.fresh, now);
        for (const _ of p.duplicates) m.events.inc({ type: 'any', outcome: 'duplicate' });
        o.coalescer.accept(tenant, agentId, p.fresh, p.pendingId, p.urgent);
        m.receipts.inc({ via });
        return { type: 'receipt', accepted: p.fresh.map((e) => e.reqId), duplicates: p.duplicates, rejected };
      } catch (err) {
        m.receipts.inc({ via });
        if (err instanceof RefusedInput) {
          // Postgres refuses this frame's data: resending cannot help, so say so instead of `retry`.
          o.log.warn({ err, tenant, agentId, sqlState: err.sqlState }, 'intake refused a frame');
          m.rejects.inc({ code: 'INVALID_INPUT' });
          o.inputHealth.rejected(tenant, agentId, valid.length);
          const refused = valid.map((e) => ({ reqId: e.reqId, code: 'INVALID_INPUT', message: err.message }));
          return { type: 'receipt', accepted: [], duplicates: [], rejected: [...rejected, ...refused] };
        }
        o.log.error({ err }, 'intake commit failed');
        m.rejects.inc({ code: 'UNAVAILABLE' });
        o.inputHealth.storeFailed(tenant, agentId);
        return { type: 'receipt', accepted: [], duplicates: [], rejected, retry: valid.map((e) => e.reqId) };
      }
    },
  };
}
