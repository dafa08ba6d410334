// What the console's views share: a status badge (its name, never colour alone), a labelled text
// field that shows the API's refusal on itself, and a labelled select over a list of values.
import type { Status } from '../workflows/model.ts';

export function StatusBadge({ status, cause }: { status: Status; cause?: string }) {
  return (
    <span class={`status status-${status}`}>
      <span class="dot" aria-hidden="true" />
      {status}
      {cause && <span class="cause"> · {cause}</span>}
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
