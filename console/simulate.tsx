// The rule editor's "Simulate…" (README "Rule simulator"): the rule being edited, as a proposal,
// replayed over a range of the floor's recorded activity next to the rules in force. The page
// starts the simulation (`POST /v1/rules/simulate`), polls it every second with a progress bar,
// and then sums it up: agents affected and changed, transitions per status under the current and
// the proposed rule, minutes ABNORMAL and OFFLINE with their difference, and the sample agents
// (each opens the agent drawer).
import { useEffect, useState } from 'preact/hooks';
import { STATUSES } from '../workflows/model.ts';
import { api, ApiError, get } from './api.ts';
import { clock } from './format.ts';
import type { SimulationState, SimulationSummary } from './types.ts';
import { StatusBadge } from './ui.tsx';

const HOUR = 3_600_000;
const POLL_MS = 1000;
/** Transitions shown per side of a sample agent; the rest are counted. */
const SHOWN = 6;

/** A `datetime-local` value (to the second, local time) for an instant. */
const localInput = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};
/** A `datetime-local` value as an ISO instant (it reads as local time), or undefined when it is none. */
const toIso = (v: string): string | undefined => {
  const ms = new Date(v).getTime();
  return v && Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
};
const signed = (x: number) => (x > 0 ? `+${x}` : String(x));

type Transition = SimulationSummary['sample'][number]['current'][number];

function Transitions({ list }: { list: Transition[] }) {
  if (list.length === 0) return <span class="sub">none</span>;
  return (
    <ul class="sim-transitions-list">
      {list.slice(0, SHOWN).map((t, i) => (
        <li key={i} title={new Date(t.at).toISOString()}>
          {clock(new Date(t.at).toISOString())} {t.from}→{t.to} <span class="cause">{t.cause}</span>
        </li>
      ))}
      {list.length > SHOWN && <li class="sub">… {list.length - SHOWN} more</li>}
    </ul>
  );
}

function Summary({ r, onAgent }: { r: SimulationSummary; onAgent: (agentId: string) => void }) {
  return (
    <>
      <dl class="facts sim-agents">
        <dt>Agents in the tenant</dt>
        <dd data-k="tenant">{r.agents.tenant}</dd>
        <dt>Affected (their rule changes)</dt>
        <dd data-k="affected">{r.agents.affected}</dd>
        <dt>Simulated</dt>
        <dd data-k="simulated">{r.agents.simulated}</dd>
        <dt>With other transitions</dt>
        <dd data-k="changed">{r.agents.changed}</dd>
      </dl>
      <div class="table-wrap">
        <table class="sim-transitions">
          <caption>Transitions into each status (agents with one)</caption>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Current rule</th>
              <th scope="col">Proposed</th>
              <th scope="col">Agents, current</th>
              <th scope="col">Agents, proposed</th>
            </tr>
          </thead>
          <tbody>
            {STATUSES.map((s) => {
              const t = r.transitions[s];
              const a = r.agentsInto[s];
              return (
                <tr key={s} data-status={s} class={t.current !== t.proposed ? 'differs' : undefined}>
                  <th scope="row">
                    <StatusBadge status={s} />
                  </th>
                  <td data-col="current">{t.current}</td>
                  <td data-col="proposed">{t.proposed}</td>
                  <td data-col="agents-current">{a.current}</td>
                  <td data-col="agents-proposed">{a.proposed}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <div class="table-wrap">
        <table class="sim-minutes">
          <caption>Minutes in status, all affected agents</caption>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Current rule</th>
              <th scope="col">Proposed</th>
              <th scope="col">Difference</th>
            </tr>
          </thead>
          <tbody>
            {(['ABNORMAL', 'OFFLINE'] as const).map((s) => {
              const m = r.minutes[s];
              return (
                <tr key={s} data-status={s}>
                  <th scope="row">
                    <StatusBadge status={s} />
                  </th>
                  <td data-col="current">{m.current}</td>
                  <td data-col="proposed">{m.proposed}</td>
                  <td data-col="delta" class={m.delta > 0 ? 'more' : m.delta < 0 ? 'less' : undefined}>
                    {signed(m.delta)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {r.sample.length > 0 ? (
        <div class="table-wrap">
          <table class="sim-sample">
            <caption>
              Agents whose transitions differ
              {r.agents.changed > r.sample.length ? ` (${r.sample.length} of ${r.agents.changed})` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Current rule</th>
                <th scope="col">Proposed</th>
              </tr>
            </thead>
            <tbody>
              {r.sample.map((a) => (
                <tr key={a.agentId} data-agent={a.agentId}>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => onAgent(a.agentId)}>
                      {a.agentId}
                    </button>
                  </th>
                  <td>
                    <Transitions list={a.current} />
                  </td>
                  <td>
                    <Transitions list={a.proposed} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="sub">No agent's transitions differ.</p>
      )}
    </>
  );
}

/**
 * The range, the run and its summary. `proposal` is the rule as the editor would save it; a 400
 * that names one of the editor's fields goes back to it through `onFieldError` (true when shown).
 */
export function SimulatePanel({
  proposal,
  onFieldError,
  onAgent,
}: {
  proposal: () => Record<string, unknown>;
  onFieldError: (field: string, message: string) => boolean;
  onAgent: (agentId: string) => void;
}) {
  const [range, setRange] = useState(() => {
    const now = Date.now();
    return { from: localInput(now - 8 * HOUR), to: localInput(now) };
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | undefined>();
  const [sim, setSim] = useState<{ id: string; at: SimulationState } | null>(null);
  const [starting, setStarting] = useState(false);

  // Polls the running simulation every second until it is done or failed (or the panel goes).
  const id = sim?.id;
  const running = sim?.at.state === 'running';
  useEffect(() => {
    if (!id || !running) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const at = await get<SimulationState>(`/v1/rules/simulations/${encodeURIComponent(id)}`);
        if (stopped) return;
        setSim({ id, at });
        if (at.state === 'failed') setProblem(`The simulation failed: ${at.error ?? 'no reason given'}`);
        if (at.state !== 'running') return;
      } catch (err) {
        if (stopped) return;
        setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
        return;
      }
      timer = setTimeout(() => void poll(), POLL_MS);
    };
    timer = setTimeout(() => void poll(), POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id, running]);

  const start = async () => {
    setErrors({});
    setProblem(undefined);
    const from = toIso(range.from);
    const to = toIso(range.to);
    if (!from || !to) {
      setErrors({
        ...(from ? {} : { from: 'from: not a date and time' }),
        ...(to ? {} : { to: 'to: not a date and time' }),
      });
      return;
    }
    setStarting(true);
    try {
      const r = await api<{ simulationId: string }>('POST', '/v1/rules/simulate', { rule: proposal(), from, to });
      setSim({ id: r.simulationId, at: { state: 'running', progress: { done: 0, total: 0 } } });
    } catch (err) {
      // A 400 names its field: the range's own here, the rule's on the editor's field, else above.
      const field = err instanceof ApiError ? err.field : undefined;
      const msg = err instanceof ApiError ? err.message : (err as Error).message;
      if (field === 'from' || field === 'to') setErrors({ [field]: msg });
      else if (!(field?.startsWith('rule.') && onFieldError(field.slice('rule.'.length), msg)))
        setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : msg);
    } finally {
      setStarting(false);
    }
  };

  const progress = sim?.at.progress ?? { done: 0, total: 0 };
  const result = sim?.at.state === 'done' ? sim.at.result : undefined;
  return (
    <section class="simulate" aria-labelledby="simulate-h">
      <h4 id="simulate-h">Simulate this rule over recorded activity</h4>
      <div class="sim-range">
        {(
          [
            ['from', 'From'],
            ['to', 'To'],
          ] as const
        ).map(([k, label]) => (
          <div key={k} class={`field${errors[k] ? ' invalid' : ''}`}>
            <label for={`sim-${k}`}>{label}</label>
            <input
              id={`sim-${k}`}
              name={`sim-${k}`}
              type="datetime-local"
              step={1}
              value={range[k]}
              aria-invalid={errors[k] ? 'true' : undefined}
              aria-describedby={errors[k] ? `sim-${k}-error` : undefined}
              onInput={(e) => setRange({ ...range, [k]: e.currentTarget.value })}
            />
            {errors[k] && (
              <span id={`sim-${k}-error`} class="field-error" role="alert">
                {errors[k]}
              </span>
            )}
          </div>
        ))}
        <button type="button" class="sim-start" disabled={starting || running} onClick={() => void start()}>
          {running ? 'Simulating…' : 'Start simulation'}
        </button>
      </div>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {sim && (
        <div class="simulation" data-simulation={sim.id} data-state={sim.at.state} aria-live="polite">
          {sim.at.state === 'running' && (
            <p class="sim-progress">
              <label for="sim-progress">Agents simulated </label>
              <progress
                id="sim-progress"
                value={progress.total ? progress.done : undefined}
                max={Math.max(progress.total, 1)}
              />{' '}
              {progress.done} / {progress.total || '…'}
            </p>
          )}
          {result && (
            <>
              <p class="sub">
                Rule {result.ruleId} as proposed, {new Date(result.from).toLocaleString()} to{' '}
                {new Date(result.to).toLocaleString()}.
              </p>
              <Summary r={result} onAgent={onAgent} />
            </>
          )}
        </div>
      )}
    </section>
  );
}
