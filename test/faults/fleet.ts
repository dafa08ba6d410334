// Simulated workbenches for the fault suite: real SDK clients (sdk/index.ts: resends until a
// receipt, reconnects with backoff, falls back to HTTP) behind the load balancer. Each agent clicks
// and alternates BUSY/ONLINE work-status requests; every reqId and what its receipts said is kept,
// so the end of a scenario can count what was accepted, what reached HCM and the workflows, and
// what was lost.
import WebSocket from 'ws';
import { WorkbenchClient } from '../../sdk/index.ts';
import type { FaultStack } from './stack.ts';

export interface Sent {
  agentId: string;
  reqId: string;
  type: number;
  /** For work-status requests: the status asked for. */
  status?: 'BUSY' | 'ONLINE';
  sentAt: number;
  acceptedAt?: number;
  /** Receipts that listed it under `accepted`. */
  accepts: number;
}

export class Fleet {
  readonly sent = new Map<string, Sent>();
  readonly clients = new Map<string, WorkbenchClient>();
  /** A reqId reported accepted by more than one receipt (a durable event accepted twice). */
  doubleAccepted = 0;
  /** How often each agent was welcomed (a reconnect is a new welcome). */
  readonly welcomes = new Map<string, number>();
  /** Send-to-accept latency of every accepted event, and when its receipt came. */
  readonly receiptMs: { at: number; ms: number }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly nextStatus = new Map<string, 'BUSY' | 'ONLINE'>();
  private tick = 0;

  constructor(
    private readonly stack: FaultStack,
    readonly tenant: string,
    readonly agents: string[],
  ) {}

  async connect(): Promise<void> {
    for (const agentId of this.agents) {
      const c = new WorkbenchClient({
        url: this.stack.lb.ws,
        token: () => this.stack.token(this.tenant, agentId),
        deviceId: `${agentId}-tab`,
        WebSocket: WebSocket,
        resendAfterMs: 2000,
        backoff: { initialMs: 200, maxMs: 2000 },
        pollIntervalMs: 1000,
      });
      c.on('receipt', (r) => {
        const now = Date.now();
        // Accepted in one receipt and reported as a duplicate in another is one acceptance (two
        // frames carried it, e.g. the HTTP fallback and the websocket's resend, in either order);
        // accepted in two receipts means the gateway took it twice.
        for (const id of r.accepted) {
          const s = this.sent.get(id);
          if (!s) continue;
          if (s.accepts++ > 0) this.doubleAccepted++;
        }
        for (const id of [...r.accepted, ...r.duplicates]) {
          const s = this.sent.get(id);
          if (!s || s.acceptedAt !== undefined) continue;
          s.acceptedAt = now;
          this.receiptMs.push({ at: now, ms: now - s.sentAt });
        }
      });
      c.on('welcome', () => this.welcomes.set(agentId, (this.welcomes.get(agentId) ?? 0) + 1));
      this.clients.set(agentId, c);
      this.nextStatus.set(agentId, 'BUSY');
      c.start();
    }
    const deadline = Date.now() + 30_000;
    while ([...this.clients.values()].some((c) => c.state !== 'open')) {
      if (Date.now() > deadline) throw new Error('the fleet did not connect within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every 250 ms each agent clicks; every 8th tick it also asks for the other work status. */
  startTraffic(): void {
    this.timer = setInterval(() => {
      this.tick++;
      for (const [agentId, c] of this.clients) {
        this.record(agentId, c.click(), 100);
        if (this.tick % 8 === 0) {
          const status = this.nextStatus.get(agentId)!;
          this.nextStatus.set(agentId, status === 'BUSY' ? 'ONLINE' : 'BUSY');
          this.record(agentId, c.setWorkStatus(status), 2, status);
        }
      }
    }, 250);
  }

  stopTraffic(): void {
    clearInterval(this.timer);
  }

  /** Waits until the SDKs hold nothing unacknowledged (they resend until a receipt accepts it). */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.clients.values()].some((c) => c.unackedCount > 0)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopTraffic();
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
  }

  private record(agentId: string, reqId: string, type: number, status?: 'BUSY' | 'ONLINE'): void {
    this.sent.set(reqId, { agentId, reqId, type, status, sentAt: Date.now(), accepts: 0 });
  }
}
