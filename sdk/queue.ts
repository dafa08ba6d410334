// Outgoing events, from `send()` until a receipt names them (accepted, duplicate or rejected). The
// transports take frame-sized batches from here; an event that has had no receipt for
// `resendAfterMs`, or whose frame may have been lost with its socket, is handed out again.
import type { WorkbenchError } from './events.ts';
import { MAX_EVENTS_PER_FRAME, type EventFields, type Receipt, type WireEvent } from './protocol.ts';

export interface Pending {
  event: WireEvent;
  bytes: number;
  /** When last handed to the websocket or the fallback POST; undefined = waiting to be sent. */
  sentAt: number | undefined;
}

/** The gateway's frame limit is 64 KiB; keep headroom for the envelope. */
const MAX_FRAME_BYTES = 60_000;

const encoder = new TextEncoder();

let reqSeq = 0;
export function newReqId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  // Insecure browser contexts lack randomUUID; time + counter + randomness is unique enough per agent.
  return `${Date.now().toString(36)}-${(++reqSeq).toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export interface QueueOptions {
  resendAfterMs: number;
  maxUnacked: number;
  now: () => number;
}

/** What the queue needs from the client that owns it. */
export interface QueueHost {
  stopped(): boolean;
  /** Sends what is waiting, over whichever transport is up. */
  flush(): void;
  error(error: WorkbenchError): void;
}

export class EventQueue {
  private readonly unacked = new Map<string, Pending>();
  private resendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: QueueOptions,
    private readonly host: QueueHost,
  ) {}

  /** Events waiting for a receipt (sent or not yet sent). */
  get size(): number {
    return this.unacked.size;
  }

  /** Queues one event; returns its reqId. Throws on an event too large for a frame. */
  add(type: number, fields: EventFields): string {
    if (!Number.isInteger(type)) throw new TypeError(`event type must be an integer, got ${type}`);
    const event: WireEvent = { reqId: newReqId(), type, ts: this.options.now() };
    if (fields.channel !== undefined) event.channel = fields.channel;
    if (fields.ticketId !== undefined) event.ticketId = fields.ticketId;
    if (fields.index !== undefined) event.index = fields.index;
    if (fields.data !== undefined) event.data = fields.data;
    const bytes = encoder.encode(JSON.stringify(event)).length;
    // An oversized event would make the gateway close the socket on every resend, forever.
    if (bytes > MAX_FRAME_BYTES) throw new RangeError(`event of ${bytes} bytes exceeds ${MAX_FRAME_BYTES}`);
    this.unacked.set(event.reqId, { event, bytes, sentAt: undefined });
    if (this.unacked.size > this.options.maxUnacked) {
      const oldest = this.unacked.keys().next().value as string;
      this.unacked.delete(oldest);
      this.host.error({ code: 'QUEUE_FULL', message: 'oldest unacked event dropped', source: 'client', reqId: oldest });
    }
    return event.reqId;
  }

  /** Marks and returns the next unsent events that fit one frame. */
  takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    const t = this.options.now();
    for (const p of this.unacked.values()) {
      if (p.sentAt !== undefined) continue;
      if (batch.length === MAX_EVENTS_PER_FRAME || bytes + p.bytes > MAX_FRAME_BYTES) break;
      p.sentAt = t;
      bytes += p.bytes + 1;
      batch.push(p);
    }
    return batch;
  }

  /** Puts events whose sending failed back to waiting. */
  unsend(batch: Iterable<Pending>): void {
    for (const p of batch) p.sentAt = undefined;
  }

  /** Puts every unacked event back to waiting: frames in flight may be lost with a socket. */
  unsendAll(): void {
    this.unsend(this.unacked.values());
  }

  /** Forgets what the receipt names; a rejected event is reported as an error. */
  settle(receipt: Receipt): void {
    for (const id of receipt.accepted ?? []) this.unacked.delete(id);
    for (const id of receipt.duplicates ?? []) this.unacked.delete(id);
    for (const r of receipt.rejected ?? []) {
      if (this.unacked.delete(r.reqId)) {
        this.host.error({ code: r.code, message: r.message ?? r.code, source: 'rejected', reqId: r.reqId });
      }
    }
  }

  /** Times the resend of the oldest sent event, unless a resend is already timed. */
  armResend(): void {
    if (this.resendTimer !== undefined || this.host.stopped()) return;
    let oldest = Infinity;
    for (const p of this.unacked.values()) if (p.sentAt !== undefined && p.sentAt < oldest) oldest = p.sentAt;
    if (oldest === Infinity) return;
    const wait = Math.max(0, oldest + this.options.resendAfterMs - this.options.now());
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      const t = this.options.now();
      for (const p of this.unacked.values()) {
        if (p.sentAt !== undefined && t - p.sentAt >= this.options.resendAfterMs) p.sentAt = undefined;
      }
      this.host.flush();
      this.armResend();
    }, wait);
  }

  cancelResend(): void {
    clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
  }
}
