// Input health (README "Input health and degrade"): each scope's verdict with what it was judged
// on, the events of the sample window by region and channel, the windows HCM held, and the log of
// verdict changes and overrides. Refreshed every few seconds. Admins force degrade on or off for a
// business line or the whole tenant, or give it back to the evaluator, always with a reason.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from './api.ts';
import { clock, millis, relative } from './format.ts';
import type { ConsoleConfig, InputHealth, InputScope } from './types.ts';
import { Choice, Field, usePolled } from './ui.tsx';

const REFRESH_MS = 5000;

const MODES = ['on', 'off', 'auto'] as const;
type Mode = (typeof MODES)[number];
const MODE_LABELS: Record<Mode, string> = {
  on: 'Degrade on: hold automatic ABNORMAL/OFFLINE',
  off: 'Degrade off: never hold',
  auto: 'Auto: the evaluator decides',
};

const REASONS: Record<string, string> = {
  RATE_DROP: 'actions fell below the baseline while agents stay connected',
  STORE_ERRORS: 'a gateway could not store events',
  RECOVERING: 'grace after a recovery: late input lands first',
  FORCED: 'an operator forced it',
};

const lineName = (line: string) => (line === '*' ? 'whole tenant' : line || '(none)');

/** An element id for a business line (any text): letters, digits and '-' kept, the rest escaped. */
const idFor = (line: string) =>
  `ovr-${Array.from(line)
    .map((c) => (/[A-Za-z0-9-]/.test(c) ? c : `_${c.codePointAt(0)!.toString(16)}_`))
    .join('')}`;

/** The state by name, never by colour alone; degraded and forced on stand out. */
function StateBadge({ scope }: { scope: InputScope }) {
  return (
    <span
      class={`istate istate-${scope.state.replace(' ', '-')}`}
      title={scope.holding ? 'HCM holds windows of absence for this scope now' : 'HCM commits windows as usual'}
    >
      <span class="dot" aria-hidden="true" />
      {scope.state}
    </span>
  );
}

function OverrideForm({
  line,
  forced,
  onDone,
}: {
  line: string;
  forced: InputScope['forced'];
  onDone: (s: InputScope, mode: Mode, reason: string) => void;
}) {
  const id = idFor(line);
  const [mode, setMode] = useState<Mode>(forced ? 'auto' : 'on');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setError(undefined);
    setProblem(undefined);
    if (!reason.trim()) return setError('A reason is required: it goes into the log with your name.');
    setBusy(true);
    try {
      const s = await api<InputScope>('PUT', '/v1/health/input/degrade', {
        ...(line === '*' ? {} : { businessLine: line }),
        mode,
        reason: reason.trim(),
      });
      setReason('');
      onDone(s, mode, reason.trim());
    } catch (err) {
      // A 400 that names the reason is shown on its field, anything else on the form.
      if (err instanceof ApiError && err.field === 'reason') setError(err.message);
      else setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="override-form"
      data-line={line}
      aria-label={`Override for ${lineName(line)}`}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <Choice name="mode" label="Degrade" value={mode} values={MODES} labels={MODE_LABELS} onChange={setMode} />
      <Field id={`${id}-reason`} label="Reason" value={reason} error={error} onInput={setReason} />
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Apply to {lineName(line)}
      </button>
    </form>
  );
}

function ReasonCell({ s }: { s: InputScope }) {
  if (s.forced) {
    return (
      <td>
        “{s.forcedReason ?? ''}”
        <span class="sub name">
          forced {s.forced} by {s.forcedBy ?? '?'}
        </span>
      </td>
    );
  }
  if (s.state === 'forced on' || s.state === 'forced off') {
    return (
      <td>
        {s.state}
        <span class="sub name">by the whole tenant's override</span>
      </td>
    );
  }
  if (!s.reason) return <td>–</td>;
  return (
    <td>
      {s.reason}
      {REASONS[s.reason] && <span class="sub name">{REASONS[s.reason]}</span>}
    </td>
  );
}

function SinceCell({ s, now }: { s: InputScope; now: number }) {
  const lines = [
    s.forcedAt && s.forced && `forced ${relative(s.forcedAt, now)}`,
    s.degradedSince && s.state === 'degraded' && `degraded ${relative(s.degradedSince, now)}`,
    s.recoveredAt && `recovered ${relative(s.recoveredAt, now)}`,
  ].filter(Boolean);
  return (
    <td>
      {lines.length ? lines.join(' · ') : '–'}
      <span class="sub name">{s.evaluatedAt ? `judged ${relative(s.evaluatedAt, now)}` : 'not judged yet'}</span>
    </td>
  );
}

function ScopeTable({
  scopes,
  now,
  admin,
  onDone,
}: {
  scopes: InputScope[];
  now: number;
  admin: boolean;
  onDone: (s: InputScope, mode: Mode, reason: string) => void;
}) {
  const [open, setOpen] = useState<string | null>(null);
  const cols = admin ? 10 : 9;
  return (
    <div class="table-wrap">
      <table class="scopes">
        <caption>Per business line</caption>
        <thead>
          <tr>
            <th scope="col">Business line</th>
            <th scope="col">State</th>
            <th scope="col">Reason</th>
            <th scope="col">Actions / baseline</th>
            <th scope="col">Connected · heard · acted</th>
            <th scope="col">Lag</th>
            <th scope="col">Rejects</th>
            <th scope="col">Held now</th>
            <th scope="col">Since</th>
            {admin && (
              <th scope="col">
                <span class="visually-hidden">Override</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {scopes.map((s) => (
            <Fragment key={s.businessLine}>
              <tr data-line={s.businessLine} class={s.holding ? 'holding' : undefined}>
                <th scope="row">{lineName(s.businessLine)}</th>
                <td data-col="state">
                  <StateBadge scope={s} />
                </td>
                <ReasonCell s={s} />
                <td>
                  {s.actions} / {s.baselineActions === null ? '–' : Math.round(s.baselineActions * 10) / 10}
                </td>
                <td>
                  {s.connected} · {s.heard} · {s.acted}
                </td>
                <td>{millis(s.lagMs)}</td>
                <td>
                  {s.rejects}
                  {s.storeErrors > 0 && <span class="sub name error">{s.storeErrors} not stored</span>}
                </td>
                <td>{s.heldNow}</td>
                <SinceCell s={s} now={now} />
                {admin && (
                  <td>
                    {s.businessLine !== '*' && (
                      <button
                        type="button"
                        class="override"
                        aria-expanded={open === s.businessLine}
                        aria-controls={`${idFor(s.businessLine)}-form`}
                        onClick={() => setOpen(open === s.businessLine ? null : s.businessLine)}
                      >
                        Override…
                      </button>
                    )}
                  </td>
                )}
              </tr>
              {admin && open === s.businessLine && (
                <tr class="override-row" id={`${idFor(s.businessLine)}-form`}>
                  <td colSpan={cols}>
                    <OverrideForm
                      line={s.businessLine}
                      forced={s.forced}
                      onDone={(r, mode, reason) => {
                        setOpen(null);
                        onDone(r, mode, reason);
                      }}
                    />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
          {scopes.length === 0 && (
            <tr>
              <td colSpan={cols}>
                No scope judged yet: a business line gets its verdict once the evaluator has seen its intake.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export function InputView({ config }: { config: ConsoleConfig }) {
  const admin = config.role === 'admin';
  const { data, error, now, load } = usePolled<InputHealth>('/v1/health/input', REFRESH_MS);
  const [notice, setNotice] = useState<string | undefined>();

  const onDone = (s: InputScope, mode: Mode, reason: string) => {
    setNotice(
      `${lineName(s.businessLine)}: ${mode === 'auto' ? 'back to the evaluator' : `forced ${mode}`} (${reason}).`,
    );
    void load();
  };
  const tenantRow = data?.scopes.find((s) => s.businessLine === '*');

  return (
    <main class="input">
      <h2 id="input-h">
        Input health{' '}
        {data && (
          <span class="sub note">
            sample window {data.windowSec} s · updated {clock(data.at)}
          </span>
        )}{' '}
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <p class="note">
        While a scope is degraded, recovering or forced on, HCM holds the ABNORMAL and OFFLINE its windows would set,
        and decides them from the facts when the hold ends.
      </p>
      {data && <ScopeTable scopes={data.scopes} now={now} admin={admin} onDone={onDone} />}
      {admin && (
        <section aria-labelledby="tenant-override-h" class="tenant-override">
          <h3 id="tenant-override-h">Whole tenant</h3>
          <p class="note">
            {tenantRow?.forced
              ? `Forced ${tenantRow.forced} by ${tenantRow.forcedBy ?? '?'} ${relative(tenantRow.forcedAt, now)}: ${tenantRow.forcedReason ?? ''}. A line's own override beats it.`
              : 'No tenant-wide override: each line follows its own verdict (or its own override).'}
          </p>
          <OverrideForm line="*" forced={tenantRow?.forced ?? null} onDone={onDone} />
        </section>
      )}

      {data && (
        <div class="group-tables">
          <div class="table-wrap">
            <table class="sources">
              <caption>Events in the last {data.windowSec} s by region and channel</caption>
              <thead>
                <tr>
                  <th scope="col">Business line</th>
                  <th scope="col">Region</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Events</th>
                  <th scope="col">Actions</th>
                  <th scope="col">Lag</th>
                </tr>
              </thead>
              <tbody>
                {data.sources.map((x) => (
                  <tr key={`${x.businessLine}\u0000${x.region}\u0000${x.channel}`}>
                    <td>{lineName(x.businessLine)}</td>
                    <td>{x.region}</td>
                    <td>{x.channel || '–'}</td>
                    <td>{x.events}</td>
                    <td>{x.actions}</td>
                    <td>{millis(x.lagMs)}</td>
                  </tr>
                ))}
                {data.sources.length === 0 && (
                  <tr>
                    <td colSpan={6}>No events in the window.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>

          <div class="table-wrap">
            <table class="held">
              <caption>Held windows (open first)</caption>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">To</th>
                  <th scope="col">Due</th>
                  <th scope="col">Holds</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {data.held.map((x, i) => (
                  <tr key={`${x.agentId}\u0000${x.firstHeldAt}\u0000${i}`} class={x.resolvedAt ? undefined : 'open'}>
                    <td>
                      {x.agentId}
                      <span class="sub name">{lineName(x.businessLine)}</span>
                    </td>
                    <td>
                      {x.to}
                      <span class="sub name">{x.cause}</span>
                    </td>
                    <td>{x.dueAt ? `${clock(x.dueAt)} (${relative(x.dueAt, now)})` : '–'}</td>
                    <td>
                      {x.holds}
                      <span class="sub name">last {relative(x.lastHeldAt, now)}</span>
                    </td>
                    <td>{x.resolvedAt ? `${x.outcome ?? 'resolved'} ${relative(x.resolvedAt, now)}` : 'held now'}</td>
                  </tr>
                ))}
                {data.held.length === 0 && (
                  <tr>
                    <td colSpan={5}>No window was held.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </div>
      )}

      {data && (
        <div class="table-wrap">
          <table class="input-log">
            <caption>Verdict changes and overrides (newest first)</caption>
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Business line</th>
                <th scope="col">Change</th>
                <th scope="col">Who</th>
                <th scope="col">Why</th>
                <th scope="col">Measured</th>
              </tr>
            </thead>
            <tbody>
              {data.log.map((x, i) => (
                <tr key={`${x.at}\u0000${i}`}>
                  <td>
                    {clock(x.at)}
                    <span class="sub name">{relative(x.at, now)}</span>
                  </td>
                  <td>{lineName(x.businessLine)}</td>
                  <td>{x.change}</td>
                  <td>{x.actor}</td>
                  <td>{x.reason ?? '–'}</td>
                  <td>
                    {Object.entries(x.detail ?? {})
                      .map(([k, v]) => `${k} ${v === null ? '–' : String(v)}`)
                      .join(', ') || '–'}
                  </td>
                </tr>
              ))}
              {data.log.length === 0 && (
                <tr>
                  <td colSpan={6}>Nothing logged yet.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
