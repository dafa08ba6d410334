// Validation of what workbenches send (docs/PROTOCOL.md "Websocket GET /v1/ws"): a bad frame closes the
// connection with 4400; a bad event inside a good frame is only rejected in the receipt.
import { z } from 'zod';
import { MAX_EVENTS_PER_FRAME, type Rejection } from '../sdk/protocol.ts';
import { Id } from '../platform/ids.ts';
import { badText } from '../platform/text.ts';
import {
  EventType,
  closesTask,
  isClientEventType,
  isWorkStatus,
  opensTask,
  type AgentEvent,
} from '../workflows/model.ts';

/** An event's `data`: at most this deep below `data` and this big as JSON (UTF-8 bytes). */
export const MAX_DATA_DEPTH = 8;
export const MAX_DATA_BYTES = 8 * 1024;

const Module = z.strictObject({ module: z.string().min(1).max(64), entity: z.string().min(1).max(64) });

// Events are checked one by one below, so the frame schema only bounds their number.
const ClientFrame = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    token: z.string().min(1).max(4096),
    deviceId: Id,
    modules: z.array(Module).max(50).default([]),
  }),
  z.strictObject({ type: z.literal('events'), events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_FRAME) }),
  z.strictObject({ type: z.literal('ack'), msgIds: z.array(z.string().min(1).max(64)).max(1000) }),
  z.strictObject({ type: z.literal('register'), module: z.string().min(1).max(64), entity: z.string().min(1).max(64) }),
  z.strictObject({
    type: z.literal('unregister'),
    module: z.string().min(1).max(64),
    entity: z.string().min(1).max(64),
  }),
  // An instance leaving for good (README "Fleet mode"): DEREGISTERED at once, no grace, no MISSING.
  z.strictObject({ type: z.literal('deregister'), reason: z.string().min(1).max(500).optional() }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

const Event = z.strictObject({
  reqId: z.string().min(1).max(64),
  type: z.number().int().refine(isClientEventType, 'not an event type a client may send'),
  ts: z.number().int().nonnegative(),
  channel: z.string().min(1).max(64).optional(),
  ticketId: z.string().min(1).max(128).optional(),
  index: z.number().int().nonnegative().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export function parseFrame(text: string): { frame: ClientFrame } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'frame is not JSON' };
  }
  const r = ClientFrame.safeParse(json);
  if (!r.success) return { error: describe(r.error) };
  // Events are checked one by one (checkEvents); every other string Postgres must be able to store.
  const bad = r.data.type === 'events' ? undefined : badText(r.data, '');
  if (bad) return { error: bad };
  return { frame: r.data };
}

/**
 * Splits a frame's events into valid ones (stamped with the device, future timestamps clamped to
 * the gateway's clock) and rejections. A reqId repeated inside one frame counts once.
 */
export function checkEvents(
  raw: unknown[],
  deviceId: string,
  now: number,
): { valid: AgentEvent[]; rejected: Rejection[] } {
  const valid: AgentEvent[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  for (const item of raw) {
    const r = Event.safeParse(item);
    const reqId =
      typeof (item as { reqId?: unknown })?.reqId === 'string' ? (item as { reqId: string }).reqId.slice(0, 64) : '';
    if (!r.success) {
      rejected.push({ reqId, code: 'BAD_EVENT', message: describe(r.error) });
      continue;
    }
    const e = r.data;
    const unstorable =
      badText({ ...e, data: undefined }, '') ??
      badText(e.data, 'data', { maxDepth: MAX_DATA_DEPTH }) ??
      dataTooBig(e.data);
    if (unstorable) {
      rejected.push({ reqId, code: 'BAD_EVENT', message: unstorable });
      continue;
    }
    // The events that open or close a task name it: intake keeps open tasks by ticketId.
    if ((opensTask(e.type) || closesTask(e.type)) && !e.ticketId) {
      rejected.push({ reqId: e.reqId, code: 'BAD_EVENT', message: `ticketId: required for event type ${e.type}` });
      continue;
    }
    const beat = e.type === EventType.HEARTBEAT ? badBeat(e.data) : undefined;
    if (beat) {
      rejected.push({ reqId: e.reqId, code: 'BAD_EVENT', message: beat });
      continue;
    }
    if (e.type === EventType.WORK_STATUS && !isWorkStatus(String(e.data?.status))) {
      rejected.push({ reqId: e.reqId, code: 'BAD_EVENT', message: 'data.status: must be ONLINE, BUSY or OFFLINE' });
      continue;
    }
    if (seen.has(e.reqId)) continue;
    seen.add(e.reqId);
    valid.push({ ...e, ts: Math.min(e.ts, now), deviceId });
  }
  return { valid, rejected };
}

/** At most this many metrics on a heartbeat (README "Fleet mode"). */
export const MAX_METRICS = 32;

/**
 * A heartbeat's `data.seq` (a non-negative integer counting the instance's beats since it started)
 * and `data.metrics` (names to finite numbers): what fleet mode reads. Both optional.
 */
function badBeat(data: Record<string, unknown> | undefined): string | undefined {
  const seq = data?.['seq'];
  if (seq !== undefined && !(Number.isSafeInteger(seq) && (seq as number) >= 0))
    return 'data.seq: must be a non-negative integer';
  const metrics = data?.['metrics'];
  if (metrics === undefined) return undefined;
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics))
    return 'data.metrics: must be an object of numbers';
  const entries = Object.entries(metrics);
  if (entries.length > MAX_METRICS) return `data.metrics: more than ${MAX_METRICS} metrics`;
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 64) return 'data.metrics: names are 1–64 characters';
    if (typeof v !== 'number' || !Number.isFinite(v)) return `data.metrics.${k}: must be a finite number`;
  }
  return undefined;
}

function dataTooBig(data: unknown): string | undefined {
  if (data === undefined) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(data));
  return bytes > MAX_DATA_BYTES ? `data: ${bytes} bytes as JSON, more than ${MAX_DATA_BYTES}` : undefined;
}

function describe(err: z.ZodError): string {
  const i = err.issues[0]!;
  return `${i.path.join('.') || 'frame'}: ${i.message}`;
}
