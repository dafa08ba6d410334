// Wire shapes of the workbench side of docs/PROTOCOL.md ("Websocket GET /v1/ws" and the HTTP fallback).
// Types and pure constants only, so the SDK stays free of runtime dependencies (the gateway and
// workflows/model.ts import the same constants).

/** Event types a workbench may send (docs/DESIGN.md "States, events, windows"). */
export const EventType = {
  HEARTBEAT: 1,
  WORK_STATUS: 2,
  TICKET_OPENED: 3,
  TICKET_REPLIED: 4,
  TICKET_COMPLETED: 5,
  TICKET_TRANSFERRED: 6,
  TICKET_ESCALATED: 7,
  TICKET_HANDED_OFF: 8,
  TICKET_REOPENED: 9,
  CLICK: 100,
  KEY: 101,
  MOUSE: 102,
  STATUS_SWITCH: 103,
  OUTBOUND_CALL: 104,
  URL_CHANGE: 105,
} as const;

/** Ticket events are types 3–12: the ones named above, and 10–12 for ticket kinds not named yet. */
export type TicketEventType = 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12;
export const LAST_TICKET_EVENT_TYPE = 12 satisfies TicketEventType;

/**
 * The statuses an agent may set itself (a type-2 event's `data.status`, or `PUT /v1/agents/:id/status`
 * on itself); supervisors and admins may set any. The workflow's and the gateway's checks use this list.
 */
export const WORK_STATUSES = ['ONLINE', 'BUSY', 'OFFLINE'] as const;
export type WorkStatus = (typeof WORK_STATUSES)[number];

export function isWorkStatus(s: unknown): s is WorkStatus {
  return (WORK_STATUSES as readonly unknown[]).includes(s);
}

/**
 * The wire protocol's version, "MAJOR.MINOR" (docs/PROTOCOL.md "Versions and compatibility"). A client
 * says which it speaks in `hello.v` (absent: 1.0) and the gateway answers with its own in `welcome.v`.
 * Within one major, either side ignores fields and frame types it does not know; a new minor only
 * adds. 1.1 added `hello.v`, `welcome.v` and the `cadence` frame.
 */
export const PROTOCOL_VERSION = '1.1';
/** The majors this gateway speaks; any other in `hello.v` is closed with 4426. */
export const SUPPORTED_MAJORS: readonly number[] = [1];

export interface ProtocolVersion {
  major: number;
  minor: number;
}

/** "MAJOR.MINOR" (each 0–999) → numbers; undefined when it is not one. */
export function parseVersion(v: unknown): ProtocolVersion | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** Most events a single `events` frame or fallback POST may carry. */
export const MAX_EVENTS_PER_FRAME = 100;

export interface EventFields {
  channel?: string;
  ticketId?: string;
  index?: number;
  data?: Record<string, unknown>;
}

export interface WireEvent extends EventFields {
  reqId: string;
  type: number;
  ts: number;
}

export interface ModuleRef {
  module: string;
  entity: string;
}

export interface StatusSnapshot {
  status: string;
  statusCode: number;
  since: string;
  cause?: string;
}

export interface Welcome {
  type: 'welcome';
  /** The gateway's protocol version (since 1.1; a 1.0 gateway sends none). */
  v?: string;
  sessionId: string;
  agentId: string;
  tenant: string;
  /** How often to send a heartbeat (event type 1) until a `cadence` frame says otherwise. */
  heartbeatIntervalMs: number;
  status?: StatusSnapshot;
}

/** Since 1.1: the gateway's new advice for the heartbeat interval on this connection. */
export interface Cadence {
  type: 'cadence';
  heartbeatIntervalMs: number;
}

export interface Rejection {
  reqId: string;
  code: string;
  message?: string;
}

export interface Receipt {
  type?: 'receipt';
  accepted: string[];
  duplicates: string[];
  rejected: Rejection[];
}

/** A push from the websocket or a message from `GET /v1/messages`; same shape either way. */
export interface PushMessage {
  msgId: string;
  topic: string;
  data: unknown;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message?: string;
}

/** The answer to an instance's `deregister` (README "Fleet mode"); the gateway then closes with 1000. */
export interface DeregisteredFrame {
  type: 'deregistered';
  status: string;
  since: string;
}

export type ServerFrame =
  | Welcome
  | (Receipt & { type: 'receipt' })
  | (PushMessage & { type: 'push' })
  | ErrorFrame
  | Cadence
  | DeregisteredFrame;

export type ClientFrame =
  | { type: 'hello'; v?: string; token: string; deviceId: string; modules: ModuleRef[] }
  | { type: 'events'; events: WireEvent[] }
  | { type: 'ack'; msgIds: string[] }
  | { type: 'register'; module: string; entity: string }
  | { type: 'unregister'; module: string; entity: string }
  /** An instance leaving for good (README "Fleet mode"). */
  | { type: 'deregister'; reason?: string };

/** Close codes from docs/PROTOCOL.md. */
export const CloseCode = {
  BAD_FRAME: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  HELLO_TIMEOUT: 4408,
  /** `hello.v` names a major version the gateway does not speak (the message names the ones it does). */
  UNSUPPORTED_VERSION: 4426,
  RATE_LIMITED: 4429,
  /** WebSocket's own: a frame over the gateway's size limit (1009 Message Too Big). */
  TOO_BIG: 1009,
  /** The gateway failed to handle a frame (1011 Internal Error): reconnect and resend. */
  UNAVAILABLE: 1011,
  /** The gateway is stopping (1012 Service Restart): reconnect, to another instance if there is one. */
  RESTARTING: 1012,
} as const;
