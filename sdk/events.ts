// What the client tells the page: the event names and payloads `WorkbenchClient.on` accepts, and the
// registry that delivers them.
import type { PushMessage, Receipt, StatusSnapshot, Welcome } from './protocol.ts';

/** `fallback`: the websocket is down, events go over HTTP and messages are short-polled. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'fallback' | 'closed';

export interface WorkbenchError {
  code: string;
  message: string;
  /** Where it came from: an `error` frame, a rejected event, a close code, the HTTP fallback, or the client. */
  source: 'server' | 'rejected' | 'close' | 'http' | 'client';
  reqId?: string;
  closeCode?: number;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  closeCode: number;
}

export interface WorkbenchEventMap {
  welcome: Welcome;
  /** The gateway advised a new heartbeat interval (a `cadence` frame); the client beats at it from now on. */
  cadence: { heartbeatIntervalMs: number };
  /** Fleet mode: the gateway confirmed `deregister()`. */
  deregistered: Record<string, never>;
  receipt: Receipt;
  push: PushMessage;
  /** The agent's status: from `welcome` and from every push with topic `status`. */
  status: StatusSnapshot;
  error: WorkbenchError;
  state: ConnectionState;
  reconnect: ReconnectInfo;
}

export type Handler<K extends keyof WorkbenchEventMap> = (payload: WorkbenchEventMap[K]) => void;

export class Listeners {
  private readonly handlers = new Map<keyof WorkbenchEventMap, Set<(payload: never) => void>>();

  on<K extends keyof WorkbenchEventMap>(name: K, handler: Handler<K>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    const entry = handler as (payload: never) => void;
    set.add(entry);
    return () => void set.delete(entry);
  }

  emit<K extends keyof WorkbenchEventMap>(name: K, payload: WorkbenchEventMap[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as Handler<K>)(payload);
      } catch (e) {
        // A failing handler must not break delivery; surface it the way an uncaught listener error would.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

/** The message of a caught value, for a `WorkbenchError`. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
