// Simulated workbenches over real websockets: heartbeats every 30 s, bursts of clicks, keys and URL
// changes, tickets opened, replied and completed, some work-status switches, some agents falling
// silent so windows fire, some disconnecting (most come back within the grace, some never).
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export type Kind = 'active' | 'silent' | 'flaky';

export interface SimOptions {
  wsUrl: string;
  token(agentId: string): Promise<string>;
  agents: string[];
  durationSec: number;
  heartbeatSec: number;
  /** Active agents act again within this many seconds (kept under the remind window). */
  maxGapSec: number;
  /** Loopback source addresses to spread connections over (127.0.0.x). */
  localAddresses: string[];
  connectPerSec: number;
  random?: () => number;
}

export interface ActionRecord {
  ts: number;
  receiptAt: number;
}

export class Simulation {
  readonly receiptMs: number[] = [];
  /** When each receipt arrived (parallel to receiptMs), to tell the connect storm from steady state. */
  readonly receiptAt: number[] = [];
  /** When the last agent was first welcomed. */
  allConnectedAt: number | undefined;
  readonly actions = new Map<string, ActionRecord[]>();
  /** Work-status requests: agent, ts (= window start of the commit), when sent. */
  readonly requests: { agentId: string; ts: number }[] = [];
  readonly kinds = new Map<string, Kind>();
  readonly acceptedBy = new Map<string, number>();
  readonly counts = { frames: 0, events: 0, accepted: 0, duplicates: 0, rejected: 0, connects: 0, connectFailures: 0, closesByServer: 0 };
  connected = 0;
  /** Agents welcomed at least once. */
  readonly everConnected = new Set<string>();
  peakConnected = 0;
  private readonly sockets = new Set<WebSocket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private over = false;
  private readonly rnd: () => number;

  constructor(private readonly o: SimOptions) {
    this.rnd = o.random ?? Math.random;
  }

  async run(onProgress: (s: Simulation, elapsedSec: number) => void): Promise<void> {
    const t0 = Date.now();
    const { agents } = this.o;
    agents.forEach((a, i) => {
      const r = i % 10;
      this.kinds.set(a, r < 7 ? 'active' : r < 9 ? 'silent' : 'flaky');
    });
    const progress = setInterval(() => onProgress(this, (Date.now() - t0) / 1000), 5000);
    const stagger = 1000 / this.o.connectPerSec;
    agents.forEach((a, i) => this.later(i * stagger, () => this.agent(a, i)));
    await new Promise((r) => setTimeout(r, this.o.durationSec * 1000));
    this.over = true;
    clearInterval(progress);
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.close(1000);
    await new Promise((r) => setTimeout(r, 500));
  }

  /** Receipt latencies from `from` on. */
  receiptsSince(from: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.receiptAt.length; i++) if (this.receiptAt[i]! >= from) out.push(this.receiptMs[i]!);
    return out;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.over) fn();
    }, ms);
    this.timers.add(t);
  }

  private uniform(a: number, b: number): number {
    return a + this.rnd() * (b - a);
  }

  private agent(agentId: string, index: number): void {
    const kind = this.kinds.get(agentId)!;
    const silentAfter = kind === 'silent' ? Date.now() + this.uniform(0, 5000) : Infinity;
    let dropAt = kind === 'flaky' ? Date.now() + this.uniform(10_000, 40_000) : Infinity;
    const openTickets: string[] = [];
    let busy = false;
    const deviceId = `tab-${index}`;
    const connect = (): void => {
      if (this.over) return;
      const ws = new WebSocket(this.o.wsUrl, { localAddress: this.o.localAddresses[index % this.o.localAddresses.length] });
      this.sockets.add(ws);
      const sentAt = new Map<string, { at: number; actions: number[] }>();
      let open = false;
      let welcomed = false;
      const send = (events: { reqId: string; type: number; ts: number; ticketId?: string; data?: object }[]) => {
        if (ws.readyState !== ws.OPEN || !welcomed) return;
        const id = randomUUID();
        sentAt.set(id, { at: Date.now(), actions: events.filter((e) => e.type !== 1).map((e) => e.ts) });
        this.counts.frames++;
        this.counts.events += events.length;
        ws.send(JSON.stringify({ type: 'events', events }));
        frameOrder.push(id);
      };
      const frameOrder: string[] = [];
      const ev = (type: number, extra: object = {}) => ({ reqId: randomUUID(), type, ts: Date.now(), ...extra });

      const heartbeat = () => {
        send([ev(1)]);
        this.later(this.o.heartbeatSec * 1000, () => welcomed && heartbeat());
      };
      const burst = () => {
        if (!welcomed) return;
        if (Date.now() >= dropAt) {
          dropAt = Infinity;
          ws.close(1000);
          if (this.rnd() < 0.5) this.later(this.uniform(2000, 10_000), connect);
          return;
        }
        if (Date.now() < silentAfter) {
          const n = Math.floor(this.uniform(2, 9));
          for (let i = 0; i < n; i++) {
            this.later(i * this.uniform(50, 250), () => send([ev([100, 101, 101, 102, 105][Math.floor(this.rnd() * 5)]!)]));
          }
          const dice = this.rnd();
          if (dice < 0.15) {
            const t = `T-${randomUUID().slice(0, 8)}`;
            openTickets.push(t);
            send([ev(3, { ticketId: t })]);
          } else if (dice < 0.3 && openTickets.length > 0) {
            send([ev(4, { ticketId: openTickets[0] })]);
          } else if (dice < 0.42 && openTickets.length > 0) {
            send([ev(5, { ticketId: openTickets.shift() })]);
          } else if (dice < 0.47) {
            busy = !busy;
            const e = ev(2, { data: { status: busy ? 'BUSY' : 'ONLINE' } });
            this.requests.push({ agentId, ts: e.ts });
            send([e]);
          }
        }
        this.later(this.uniform(5000, this.o.maxGapSec * 1000), burst);
      };

      ws.on('open', async () => {
        open = true;
        ws.send(JSON.stringify({ type: 'hello', token: await this.o.token(agentId), deviceId, modules: [] }));
      });
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as { type: string; accepted?: string[]; duplicates?: string[]; rejected?: unknown[] };
        if (f.type === 'welcome') {
          welcomed = true;
          this.counts.connects++;
          this.everConnected.add(agentId);
          this.connected++;
          if (this.everConnected.size === this.o.agents.length && this.allConnectedAt === undefined) this.allConnectedAt = Date.now();
          this.peakConnected = Math.max(this.peakConnected, this.connected);
          this.later(this.uniform(0, this.o.heartbeatSec * 1000), heartbeat);
          this.later(this.uniform(0, 3000), burst);
        } else if (f.type === 'receipt') {
          const id = frameOrder.shift();
          const s = id ? sentAt.get(id) : undefined;
          if (id) sentAt.delete(id);
          const now = Date.now();
          if (s) {
            this.receiptMs.push(now - s.at);
            this.receiptAt.push(now);
          }
          this.counts.accepted += f.accepted?.length ?? 0;
          this.acceptedBy.set(agentId, (this.acceptedBy.get(agentId) ?? 0) + (f.accepted?.length ?? 0));
          this.counts.duplicates += f.duplicates?.length ?? 0;
          this.counts.rejected += f.rejected?.length ?? 0;
          if (s && (f.accepted?.length ?? 0) > 0) {
            const list = this.actions.get(agentId) ?? [];
            for (const ts of s.actions) list.push({ ts, receiptAt: now });
            this.actions.set(agentId, list);
          }
        }
      });
      ws.on('close', (code) => {
        this.sockets.delete(ws);
        if (welcomed) this.connected--;
        welcomed = false;
        if (this.over || code === 1000) return;
        this.counts.closesByServer++;
        this.later(1000, connect);
      });
      ws.on('error', () => {
        if (!open) this.counts.connectFailures++;
      });
    };
    connect();
  }
}
