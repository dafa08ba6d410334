// Simulated workbenches over real websockets: heartbeats every 30 s, bursts of clicks, keys and URL
// changes, tickets opened, replied and completed, some work-status switches, some agents falling
// silent so windows fire, some disconnecting (most come back within the grace, some never). How
// often each happens is the mix's `Behaviour` (bench/mix.ts).
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Behaviour, Kind, Range } from './mix.ts';

export interface SimOptions {
  wsUrl?: string;
  /** The gateway an agent (by fleet position) connects to; default `wsUrl`. */
  wsUrlOf?: (index: number) => string;
  token(agentId: string): Promise<string>;
  agents: string[];
  durationSec: number;
  behaviour: Behaviour;
  /** Position of the first agent in the whole fleet (kinds and devices go by fleet position). */
  offset?: number;
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
  readonly counts = {
    frames: 0,
    events: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    connects: 0,
    connectFailures: 0,
    closesByServer: 0,
  };
  connected = 0;
  /** Agents welcomed at least once. */
  readonly everConnected = new Set<string>();
  peakConnected = 0;
  private readonly sockets = new Set<WebSocket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private over = false;
  private readonly rnd: () => number;
  /** This process's event-loop delay: high values mean the load generator itself is the bottleneck. */
  readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(private readonly o: SimOptions) {
    this.rnd = o.random ?? Math.random;
  }

  async run(onProgress: (s: Simulation, elapsedSec: number) => void): Promise<void> {
    const t0 = Date.now();
    const { agents } = this.o;
    const offset = this.o.offset ?? 0;
    agents.forEach((a, i) => this.kinds.set(a, this.o.behaviour.kindOf(offset + i)));
    this.loopDelay.enable();
    const progress = setInterval(() => onProgress(this, (Date.now() - t0) / 1000), 5000);
    const stagger = 1000 / this.o.connectPerSec;
    agents.forEach((a, i) => this.later(i * stagger, () => this.agent(a, offset + i)));
    await new Promise((r) => setTimeout(r, this.o.durationSec * 1000));
    this.over = true;
    this.loopDelay.disable();
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

  private between([a, b]: Range): number {
    return this.uniform(a, b) * 1000;
  }

  private agent(agentId: string, index: number): void {
    const b = this.o.behaviour;
    const kind = this.kinds.get(agentId)!;
    let silentAt = Infinity;
    let dropAt = Infinity;
    let firstWelcome = true;
    const openTickets: string[] = [];
    let busy = false;
    const deviceId = `tab-${index}`;
    // One send function for whatever socket is current; nothing is sent while disconnected.
    let send: (
      events: { reqId: string; type: number; ts: number; ticketId?: string; data?: object }[],
    ) => void = () => {};
    let welcomed = false;
    const ev = (type: number, extra: object = {}) => ({ reqId: randomUUID(), type, ts: Date.now(), ...extra });
    const acting = () => Date.now() < silentAt;
    const status = (to: 'BUSY' | 'ONLINE') => {
      busy = to === 'BUSY';
      const e = ev(2, { data: { status: to } });
      this.requests.push({ agentId, ts: e.ts });
      send([e]);
    };

    // Each welcome starts one heartbeat and one burst chain; a chain of an earlier connection ends.
    let generation = 0;
    const current = (g: number) => welcomed && g === generation;
    const heartbeat = (g: number) => {
      if (!current(g)) return;
      send([ev(1)]);
      this.later(b.heartbeatSec * 1000, () => heartbeat(g));
    };
    const burst = (g: number) => {
      if (!current(g)) return;
      if (Date.now() >= dropAt) {
        dropAt = Infinity;
        ws?.close(1000);
        if (this.rnd() < b.returnShare) this.later(this.between(b.returnAfterSec), connect);
        return;
      }
      if (acting()) {
        const n = Math.floor(this.uniform(b.burstSize[0], b.burstSize[1]));
        for (let i = 0; i < n; i++) {
          this.later(i * this.uniform(50, 250), () =>
            send([ev([100, 101, 101, 102, 105][Math.floor(this.rnd() * 5)]!)]),
          );
        }
        const t = b.tickets;
        if (t.kind === 'per-burst') {
          const dice = this.rnd();
          if (dice < t.open) {
            const id = `T-${randomUUID().slice(0, 8)}`;
            openTickets.push(id);
            send([ev(3, { ticketId: id })]);
          } else if (dice < t.open + t.reply && openTickets.length > 0) {
            send([ev(4, { ticketId: openTickets[0] })]);
          } else if (dice < t.open + t.reply + t.complete && openTickets.length > 0) {
            send([ev(5, { ticketId: openTickets.shift() })]);
          } else if (dice < t.open + t.reply + t.complete + t.status) {
            status(busy ? 'ONLINE' : 'BUSY');
          }
        }
      }
      this.later(this.between(b.burstGapSec), () => burst(g));
    };
    // Production mix: tickets and breaks on their own clocks (they run on while disconnected and
    // simply send nothing then, as a workbench without a connection would queue nothing).
    const ticket = () => {
      if (b.tickets.kind !== 'lifecycle') return;
      const t = b.tickets;
      if (acting()) {
        const id = `T-${randomUUID().slice(0, 8)}`;
        send([ev(3, { ticketId: id })]);
        this.later(this.between(t.replyAfterSec), () => {
          if (acting()) send([ev(4, { ticketId: id })]);
          this.later(this.between(t.completeAfterSec), () => acting() && send([ev(5, { ticketId: id })]));
        });
      }
      this.later(this.between(t.everySec), ticket);
    };
    const takeBreak = () => {
      if (b.tickets.kind !== 'lifecycle') return;
      const t = b.tickets;
      if (acting()) {
        status('BUSY');
        this.later(this.between(t.breakSec), () => acting() && status('ONLINE'));
      }
      this.later(this.between(t.breakEverySec), takeBreak);
    };

    let ws: WebSocket | undefined;
    const connect = (): void => {
      if (this.over) return;
      const sock = new WebSocket(this.o.wsUrlOf?.(index) ?? this.o.wsUrl!, {
        localAddress: this.o.localAddresses[index % this.o.localAddresses.length],
      });
      ws = sock;
      this.sockets.add(sock);
      const sentAt = new Map<string, { at: number; actions: number[] }>();
      const frameOrder: string[] = [];
      let open = false;
      send = (events) => {
        if (sock.readyState !== sock.OPEN || !welcomed) return;
        const id = randomUUID();
        sentAt.set(id, { at: Date.now(), actions: events.filter((e) => e.type !== 1).map((e) => e.ts) });
        this.counts.frames++;
        this.counts.events += events.length;
        sock.send(JSON.stringify({ type: 'events', events }));
        frameOrder.push(id);
      };

      sock.on('open', () => {
        open = true;
        void this.o
          .token(agentId)
          .then((token) => sock.send(JSON.stringify({ type: 'hello', token, deviceId, modules: [] })));
      });
      sock.on('message', (data) => {
        const f = JSON.parse(data.toString()) as {
          type: string;
          accepted?: string[];
          duplicates?: string[];
          rejected?: unknown[];
        };
        if (f.type === 'welcome') {
          welcomed = true;
          this.counts.connects++;
          this.everConnected.add(agentId);
          this.connected++;
          if (this.everConnected.size === this.o.agents.length && this.allConnectedAt === undefined)
            this.allConnectedAt = Date.now();
          this.peakConnected = Math.max(this.peakConnected, this.connected);
          const g = ++generation;
          this.later(this.uniform(0, b.heartbeatSec * 1000), () => heartbeat(g));
          this.later(this.uniform(0, 3000), () => burst(g));
          if (firstWelcome) {
            firstWelcome = false;
            if (kind === 'silent') silentAt = Date.now() + this.between(b.silentAfterSec);
            if (kind === 'flaky') dropAt = Date.now() + this.between(b.dropAfterSec);
            if (b.tickets.kind === 'lifecycle') {
              this.later(this.between([0, b.tickets.everySec[1]]), ticket);
              this.later(this.between([0, b.tickets.breakEverySec[1]]), takeBreak);
            }
          }
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
          if (s && (f.accepted?.length ?? 0) > 0 && s.actions.length > 0) {
            const list = this.actions.get(agentId) ?? [];
            for (const ts of s.actions) list.push({ ts, receiptAt: now });
            this.actions.set(agentId, list);
          }
        }
      });
      sock.on('close', (code) => {
        this.sockets.delete(sock);
        if (welcomed) this.connected--;
        welcomed = false;
        if (this.over || code === 1000) return;
        this.counts.closesByServer++;
        this.later(1000, connect);
      });
      sock.on('error', () => {
        if (!open) this.counts.connectFailures++;
      });
    };
    connect();
  }
}
