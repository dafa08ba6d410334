// Validation of what workbenches send (docs/PROTOCOL.md "Websocket GET /v1/ws"): a bad frame closes the
// connection with 4400; a bad event inside a good frame is only rejected in the receipt.
// Versions (docs/PROTOCOL.md "Versions and compatibility"): within a supported major, fields this
// gateway does not know are dropped (never stored) and counted, a frame of a type it does not know is
// reported back to the caller, an event of a type it does not know is rejected in the receipt
// (UNKNOWN_TYPE); a known field of the wrong type, sizes, NUL and the id grammar stay errors.
import { z } from 'zod';
import {
  MAX_EVENTS_PER_FRAME,
  PROTOCOL_VERSION,
  SUPPORTED_MAJORS,
  parseVersion,
  type Rejection,
} from '../sdk/protocol.ts';
import { Id } from '../platform/ids.ts';
import { badText } from '../platform/text.ts';
import {
  EventType,
  INTERNAL_EVENT_TYPES,
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
    /** "MAJOR.MINOR"; absent = 1.0. An unsupported major never reaches this schema (parseFrame). */
    v: z
      .string()
      .regex(/^\d{1,3}\.\d{1,3}$/, 'must be "MAJOR.MINOR"')
      .optional(),
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
  type: z.number().int(),
  ts: z.number().int().nonnegative(),
  channel: z.string().min(1).max(64).optional(),
  ticketId: z.string().min(1).max(128).optional(),
  index: z.number().int().nonnegative().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** A frame `type` of a later version: short and plain, so it can be named back to the client. */
const FRAME_TYPE = /^[a-z][A-Za-z0-9_.-]{0,31}$/;

export type ParsedFrame =
  /** `ignored`: how many fields this gateway does not know were dropped from it (counted, never stored). */
  | { frame: ClientFrame; ignored: number }
  /** Bad: close with 4400. */
  | { error: string }
  /** A well-formed frame of a type this version does not know (a later minor's): answer, do not close. */
  | { unknownType: string }
  /** A hello in a major version this gateway does not speak: close with 4426. */
  | { unsupported: string };

export function parseFrame(text: string): ParsedFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'frame is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'frame: must be an object' };
  const o = json as Record<string, unknown>;
  // The version comes first: a hello of another major may have a different shape altogether.
  if (o.type === 'hello') {
    const v = parseVersion(o.v);
    if (v && !SUPPORTED_MAJORS.includes(v.major)) {
      return {
        unsupported: `protocol ${String(o.v)} is not supported: this gateway speaks ${SUPPORTED_MAJORS.map((m) => `${m}.x`).join(', ')} (up to ${PROTOCOL_VERSION})`,
      };
    }
  }
  if (typeof o.type === 'string' && !KNOWN_FRAME_TYPES.has(o.type) && FRAME_TYPE.test(o.type))
    return { unknownType: o.type };
  const r = parseLenient(ClientFrame, o);
  if ('error' in r) return r;
  // Events are checked one by one (checkEvents); every other string Postgres must be able to store.
  const bad = r.value.type === 'events' ? undefined : badText(r.value, '');
  if (bad) return { error: bad };
  return { frame: r.value, ignored: r.ignored };
}

const KNOWN_FRAME_TYPES: ReadonlySet<string> = new Set(ClientFrame.options.map((o) => o.shape.type.value));

/**
 * Parses `value` (a fresh object, changed in place) with a strict schema, but drops the fields the
 * schema does not know, at any depth, instead of failing on them; any other problem is an error.
 */
function parseLenient<T>(
  schema: z.ZodType<T>,
  value: Record<string, unknown>,
): { value: T; ignored: number } | { error: string } {
  const first = schema.safeParse(value);
  if (first.success) return { value: first.data, ignored: 0 };
  const real = first.error.issues.filter((i) => i.code !== 'unrecognized_keys');
  if (real.length > 0) return { error: describeIssue(real[0]!) };
  let ignored = 0;
  for (const i of first.error.issues) {
    if (i.code !== 'unrecognized_keys') continue;
    let at: unknown = value;
    for (const k of i.path) at = (at as Record<PropertyKey, unknown>)[k];
    for (const k of i.keys) delete (at as Record<string, unknown>)[k];
    ignored += i.keys.length;
  }
  const second = schema.safeParse(value);
  return second.success ? { value: second.data, ignored } : { error: describe(second.error) };
}

/**
 * Splits a frame's events into valid ones (stamped with the device, future timestamps clamped to
 * the gateway's clock) and rejections. A reqId repeated inside one frame counts once. Fields of an
 * event this gateway does not know are dropped (`ignored` counts them); a type it does not know is
 * rejected as UNKNOWN_TYPE, one it knows but a client may not send (internal types) as BAD_EVENT.
 */
export function checkEvents(
  raw: unknown[],
  deviceId: string,
  now: number,
): { valid: AgentEvent[]; rejected: Rejection[]; ignored: number } {
  const valid: AgentEvent[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  let ignored = 0;
  for (const item of raw) {
    const reqId =
      typeof (item as { reqId?: unknown })?.reqId === 'string' ? (item as { reqId: string }).reqId.slice(0, 64) : '';
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      rejected.push({ reqId, code: 'BAD_EVENT', message: 'event: must be an object' });
      continue;
    }
    const r = parseLenient(Event, { ...(item as Record<string, unknown>) });
    if ('error' in r) {
      rejected.push({ reqId, code: 'BAD_EVENT', message: r.error });
      continue;
    }
    const e = r.value;
    if (!isClientEventType(e.type)) {
      rejected.push(
        INTERNAL_EVENT_TYPES.includes(e.type)
          ? { reqId, code: 'BAD_EVENT', message: `type: ${e.type} is not an event type a client may send` }
          : {
              reqId,
              code: 'UNKNOWN_TYPE',
              message: `type: ${e.type} is not an event type of protocol ${PROTOCOL_VERSION}`,
            },
      );
      continue;
    }
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
    ignored += r.ignored;
    if (seen.has(e.reqId)) continue;
    seen.add(e.reqId);
    valid.push({ ...e, ts: Math.min(e.ts, now), deviceId });
  }
  return { valid, rejected, ignored };
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
  return describeIssue(err.issues[0]!);
}

function describeIssue(i: z.core.$ZodIssue): string {
  return `${i.path.join('.') || 'frame'}: ${i.message}`;
}
