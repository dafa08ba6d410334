// Turns browser activity into workbench events. Works on any EventTarget, so it also runs against a
// plain EventTarget in tests. Key events never carry the key: the server needs "the agent acted",
// not what was typed.
import { EventType, type EventFields } from './protocol.ts';

export interface CaptureOptions {
  /** Where `popstate` and `hashchange` fire; defaults to `window` when present, else the target. */
  urlTarget?: EventTarget;
  /** At most one mouse event per this many ms (default 5000). */
  mouseThrottleMs?: number;
  /** At most one key event per this many ms (default 0: every keydown). */
  keyThrottleMs?: number;
}

export type EventSink = (type: number, fields?: EventFields) => void;

export function captureDom(
  target: EventTarget,
  sink: EventSink,
  now: () => number,
  options: CaptureOptions = {},
): () => void {
  const urlTarget = options.urlTarget ?? (globalThis as { window?: EventTarget }).window ?? target;
  const throttled = (ms: number, type: number): (() => void) => {
    let last = -Infinity;
    return () => {
      const t = now();
      if (t - last < ms) return;
      last = t;
      sink(type);
    };
  };
  const onClick = throttled(0, EventType.CLICK);
  const onKey = throttled(options.keyThrottleMs ?? 0, EventType.KEY);
  const onMouse = throttled(options.mouseThrottleMs ?? 5000, EventType.MOUSE);
  const onUrl = (): void => {
    const href = (globalThis as { location?: { href?: string } }).location?.href;
    sink(EventType.URL_CHANGE, href === undefined ? undefined : { data: { url: href } });
  };
  // Visibility is not an action, but it says the app is still open: report it as a heartbeat.
  const onVisibility = (): void => {
    const state = (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState;
    sink(EventType.HEARTBEAT, { data: { visibility: state ?? 'unknown' } });
  };

  const bindings: [EventTarget, string, () => void][] = [
    [target, 'click', onClick],
    [target, 'keydown', onKey],
    [target, 'mousemove', onMouse],
    [target, 'visibilitychange', onVisibility],
    [urlTarget, 'popstate', onUrl],
    [urlTarget, 'hashchange', onUrl],
  ];
  for (const [t, name, fn] of bindings) t.addEventListener(name, fn, { passive: true });
  return () => {
    for (const [t, name, fn] of bindings) t.removeEventListener(name, fn);
  };
}
