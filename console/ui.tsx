// What the console's views share: a status badge (its name, never colour alone; an instance's
// health states too), an instance's metrics, a labelled text field that shows the API's refusal on
// itself, and a labelled select over a list of values.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { HealthState } from '../workflows/fleet.ts';
import { get } from './api.ts';
import type { Status } from '../workflows/model.ts';

export function StatusBadge({ status, cause }: { status: Status | HealthState; cause?: string }) {
  return (
    <span class={`status status-${status}`}>
      <span class="dot" aria-hidden="true" />
      {status}
      {cause && <span class="cause"> · {cause}</span>}
    </span>
  );
}

/**
 * An instance's metrics, compactly (`cpu 0.97 · memory 0.4`); the names in `over` (at or above
 * their limit) are marked, by weight and a "over limit" title as well as colour.
 */
export function Metrics({ metrics, over }: { metrics: Record<string, number>; over?: readonly string[] }) {
  const names = Object.keys(metrics).sort();
  if (names.length === 0) return <span class="sub">none reported</span>;
  return (
    <span class="metrics">
      {names.map((k, i) => {
        const hot = over?.includes(k) ?? false;
        return (
          <span key={k}>
            {i > 0 && ' · '}
            <span
              class={hot ? 'metric over' : 'metric'}
              data-metric={k}
              title={hot ? 'at or above its limit' : undefined}
            >
              {k} {Math.round(metrics[k]! * 1000) / 1000}
              {hot && ' ▲'}
            </span>
          </span>
        );
      })}
    </span>
  );
}

export function Field(props: {
  id: string;
  label: string;
  value: string;
  error?: string;
  onInput: (v: string) => void;
}) {
  const errId = `${props.id}-error`;
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        value={props.value}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={props.error ? errId : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {props.error && (
        <span id={errId} class="field-error" role="alert">
          {props.error}
        </span>
      )}
    </div>
  );
}

/** A select of `values` (shown as they are, or through `labels`); `any` adds an empty first choice. */
export function Choice<V extends string>(props: {
  name: string;
  label: string;
  value: V | '';
  values: readonly V[];
  labels?: Partial<Record<V, string>>;
  any?: string;
  onChange: (v: V) => void;
}) {
  return (
    <label>
      {props.label}
      <select name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as V)}>
        {props.any !== undefined && <option value="">{props.any}</option>}
        {props.values.map((v) => (
          <option key={v} value={v}>
            {props.labels?.[v] ?? v}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Reads `path` now and every `everyMs` (one read at a time), with the time of the last good read;
 * `now` moves every second so relative times stay current. `load` reads again at once.
 */
export function usePolled<T>(path: string, everyMs: number) {
  const [data, setData] = useState<T | null>(null);
  const [at, setAt] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const loading = useRef(false);

  const load = useCallback(async () => {
    if (loading.current) return;
    loading.current = true;
    try {
      setData(await get<T>(path));
      setAt(new Date().toISOString());
      setNow(Date.now());
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      loading.current = false;
    }
  }, [path]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), everyMs);
    return () => clearInterval(t);
  }, [load, everyMs]);

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  return { data, at, error, now, load };
}
