// The fleet (README "Fleet mode"): instances per health state, those not HEALTHY with their last
// heartbeat, seq and metrics, and the latest recovery steps, refreshed every few seconds. An
// instance opens in the agent drawer. Admins also set the hook each recovery step POSTs to.
import { useEffect, useState } from 'preact/hooks';
import { HEALTH_STATES, RECOVERY_STEPS, type HealthState, type RecoveryStep } from '../workflows/fleet.ts';
import { api, ApiError, get } from './api.ts';
import { AgentDrawer } from './drawer.tsx';
import { clock, relative } from './format.ts';
import type { ConsoleConfig, FleetHealth, FleetHook, FleetInstance } from './types.ts';
import { Choice, Field, Metrics, StatusBadge, usePolled } from './ui.tsx';

const REFRESH_MS = 3000;

/** States that want someone to look: their tiles stand out. */
const ALARMING: readonly HealthState[] = ['MISSING', 'FAILED'];

const CAUSES: Record<string, string> = {
  METRICS: 'a metric is at or above its limit',
  NO_HEARTBEAT: 'no heartbeat for too long',
  RECOVERY: 'the recovery ladder is running',
  RECOVERY_EXHAUSTED: 'every recovery step ran; still missing',
  DEREGISTERED: 'it left',
};

const STEP_LABELS: Record<RecoveryStep, string> = {
  restart: 'restart (first step)',
  replace: 'replace',
  alert: 'alert (last step: FAILED)',
};

function HealthTiles({ counts }: { counts: FleetHealth['counts'] }) {
  return (
    <ul class="tiles" aria-label="Instances per health state">
      {HEALTH_STATES.map((s) => (
        <li
          key={s}
          class={`tile status-${s}${ALARMING.includes(s) ? ' alarming' : ''}${ALARMING.includes(s) && counts[s] > 0 ? ' alarm' : ''}`}
          data-health={s}
        >
          <span class="label">{s}</span>
          <span class="count">{counts[s]}</span>
        </li>
      ))}
    </ul>
  );
}

function InstanceTable({
  rows,
  now,
  onOpen,
}: {
  rows: FleetInstance[];
  now: number;
  onOpen: (agentId: string) => void;
}) {
  return (
    <div class="table-wrap">
      <table class="instances">
        <caption>Instances not HEALTHY (longest first)</caption>
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">State</th>
            <th scope="col">Cause</th>
            <th scope="col">Since</th>
            <th scope="col">Last heartbeat</th>
            <th scope="col">Seq</th>
            <th scope="col">Metrics</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((x) => (
            <tr key={x.agentId} data-instance={x.agentId} class={`health-${x.status}`}>
              <th scope="row">
                <button type="button" class="link" onClick={() => onOpen(x.agentId)} aria-label={`Open ${x.agentId}`}>
                  {x.agentId}
                </button>
                {(x.displayName || x.businessLine) && (
                  <span class="name">{[x.displayName, x.businessLine].filter(Boolean).join(' · ')}</span>
                )}
              </th>
              <td data-col="state">
                <StatusBadge status={x.status} />
              </td>
              <td data-col="cause">
                {x.cause}
                {CAUSES[x.cause] && <span class="sub name">{CAUSES[x.cause]}</span>}
              </td>
              <td>{relative(x.since, now)}</td>
              <td data-col="beat">{relative(x.lastBeatAt, now)}</td>
              <td>{x.lastSeq ?? '–'}</td>
              {/* Limits are the rule's: a DEGRADED instance has one of these at or above its limit. */}
              <td data-col="metrics" class={x.status === 'DEGRADED' ? 'over' : undefined}>
                <Metrics metrics={x.metrics} />
                {x.status === 'DEGRADED' && <span class="sub name">one of these is at or above its limit</span>}
              </td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={7}>Every instance is HEALTHY.</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function RecoveryTable({
  rows,
  now,
  onOpen,
}: {
  rows: FleetHealth['recoveries'];
  now: number;
  onOpen: (agentId: string) => void;
}) {
  return (
    <div class="table-wrap">
      <table class="recoveries">
        <caption>Latest recovery steps (newest first)</caption>
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Incident</th>
            <th scope="col">Step</th>
            <th scope="col">Outcome</th>
            <th scope="col">Detail</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((x) => (
            <tr key={`${x.agentId}\u0000${x.incident}\u0000${x.step}`} data-agent={x.agentId} data-step={x.step}>
              <td>
                <button type="button" class="link" onClick={() => onOpen(x.agentId)}>
                  {x.agentId}
                </button>
              </td>
              <td>{x.incident}</td>
              <td>{x.step}</td>
              <td class={`outcome outcome-${x.outcome.replace(' ', '-')}`}>{x.outcome}</td>
              <td>{x.detail ?? '–'}</td>
              <td>
                {clock(x.at)}
                <span class="sub name">{relative(x.at, now)}</span>
              </td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={6}>No recovery step has run.</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Fields of the hook form that a 400 can name (`body/<field>` in the API's message). */
const HOOK_FIELDS = new Set(['url', 'secret']);

function Hooks() {
  const [hooks, setHooks] = useState<FleetHook[]>([]);
  const [step, setStep] = useState<RecoveryStep>('restart');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const load = () =>
    get<{ hooks: FleetHook[] }>('/v1/fleet/hooks').then(
      (r) => {
        setHooks(r.hooks);
        return r.hooks;
      },
      (err: Error) => {
        setProblem(err.message);
        return [];
      },
    );
  /** Choosing a step fills in what its hook has (the secret stays empty: it is kept unless typed). */
  const choose = (s: RecoveryStep, list = hooks) => {
    const h = list.find((x) => x.step === s);
    setStep(s);
    setUrl(h?.url ?? '');
    setEnabled(h?.enabled ?? true);
    setSecret('');
    setErrors({});
    setProblem(undefined);
  };
  useEffect(() => void load().then((list) => choose('restart', list)), []);
  const known = hooks.some((h) => h.step === step);
  const save = async () => {
    setErrors({});
    setProblem(undefined);
    setNotice(undefined);
    setBusy(true);
    try {
      const h = await api<FleetHook>('PUT', `/v1/fleet/hooks/${step}`, {
        url: url.trim(),
        ...(secret ? { secret } : {}),
        enabled,
      });
      setSecret('');
      setNotice(`The ${h.step} hook is saved (${h.enabled ? 'enabled' : 'disabled'}).`);
      await load();
    } catch (err) {
      // A 400 names its field: shown on that input when the form has it, above the button otherwise.
      if (err instanceof ApiError && err.field && HOOK_FIELDS.has(err.field)) setErrors({ [err.field]: err.message });
      else setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="hooks-h" class="hooks">
      <h3 id="hooks-h">Recovery hooks</h3>
      <p class="note">
        Each step of the ladder POSTs to its hook, signed like a webhook; a step without one is recorded as “no hook”.
      </p>
      <div class="table-wrap">
        <table class="hooks">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">URL</th>
              <th scope="col">State</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {hooks.map((h) => (
              <tr key={h.step} data-step={h.step}>
                <th scope="row">
                  <button type="button" class="link" onClick={() => choose(h.step)}>
                    {h.step}
                  </button>
                </th>
                <td>{h.url}</td>
                <td>{h.enabled ? 'enabled' : 'disabled'}</td>
                <td>{clock(h.updatedAt)}</td>
              </tr>
            ))}
            {hooks.length === 0 && (
              <tr>
                <td colSpan={4}>No hook set: every step is recorded as “no hook”.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <form
        class="hook-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <fieldset>
          <legend>Set a step's hook</legend>
          <Choice
            name="step"
            label="Step"
            value={step}
            values={RECOVERY_STEPS}
            labels={STEP_LABELS}
            onChange={(s) => choose(s)}
          />
          <Field id="hook-url" label="URL" value={url} error={errors['url']} onInput={setUrl} />
          <Field
            id="hook-secret"
            label={
              known
                ? 'Signing secret (16–256 characters; empty keeps the current one)'
                : 'Signing secret (16–256 characters; required for a new hook)'
            }
            value={secret}
            error={errors['secret']}
            onInput={setSecret}
          />
          <label>
            <input
              type="checkbox"
              name="enabled"
              checked={enabled}
              onChange={(e) => setEnabled(e.currentTarget.checked)}
            />{' '}
            Enabled
          </label>
          {problem && (
            <p class="error" role="alert">
              {problem}
            </p>
          )}
          <button type="submit" disabled={busy}>
            Save {step} hook
          </button>
        </fieldset>
      </form>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
    </section>
  );
}

export function FleetView({ config }: { config: ConsoleConfig }) {
  const admin = config.role === 'admin';
  const { data, at, error, now, load } = usePolled<FleetHealth>('/v1/fleet/health', REFRESH_MS);
  const [open, setOpen] = useState<string | null>(null);

  const total = data ? HEALTH_STATES.reduce((n, s) => n + data.counts[s], 0) : 0;
  return (
    <main class="fleet">
      <h2 id="fleet-h">
        Fleet{' '}
        {data && (
          <span class="sub note">
            {total} instance{total === 1 ? '' : 's'}
            {at && ` · updated ${clock(at)}`}
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
      {data && (
        <>
          <HealthTiles counts={data.counts} />
          <InstanceTable rows={data.unhealthy} now={now} onOpen={setOpen} />
          <RecoveryTable rows={data.recoveries} now={now} onOpen={setOpen} />
        </>
      )}
      {admin && <Hooks />}
      {open && (
        <AgentDrawer agentId={open} config={config} onClose={() => setOpen(null)} onChanged={() => void load()} />
      )}
    </main>
  );
}
