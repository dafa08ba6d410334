// Rules and webhooks. Supervisors read the rules; admins edit them (a refused value is shown on
// its field, from the API's 400 that names it), see each rule's versions, and manage webhooks:
// create, disable or enable, and look at and redrive what a lane dead-lettered. Admins also
// simulate the rule being edited over recorded activity before they save it (simulate.tsx).
import { useEffect, useState } from 'preact/hooks';
import { DEFAULT_RULE, STATUSES } from '../workflows/model.ts';
import { api, ApiError, get, query } from './api.ts';
import { AgentDrawer } from './drawer.tsx';
import { clock } from './format.ts';
import { SimulatePanel } from './simulate.tsx';
import type { ConsoleConfig, DeadLetter, Rule, Webhook } from './types.ts';
import { Choice, Field } from './ui.tsx';

const WINDOWS = [
  ['idleAfterNoTaskSec', 'IDLE after no task (s)'],
  ['remindAfterNoActionSec', 'Reminder after no action (s)'],
  ['abnormalAfterNoActionSec', 'ABNORMAL after no action (s)'],
  ['offlineAfterAbnormalSec', 'OFFLINE after ABNORMAL (s)'],
] as const;

/** Fields of the rule form that a 400 can name (`body/<field>` in the API's message). */
const FIELDS = new Set([
  ...WINDOWS.map(([k]) => `windows.${k}`),
  'reminderLockSec',
  'reconnectGraceSec',
  'scope.businessLine',
  'scope.skillGroups',
  'scope.channels',
]);

/** The windows' columns of a rules table: the headers, and one rule's values. */
const WindowHeads = () => (
  <>
    {WINDOWS.map(([k, label]) => (
      <th key={k} scope="col">
        {label}
      </th>
    ))}
  </>
);
const WindowCells = ({ rule }: { rule: Rule }) => (
  <>
    {WINDOWS.map(([k]) => (
      <td key={k}>{rule.windows[k]}</td>
    ))}
  </>
);

interface Draft {
  ruleId: string;
  windows: Record<string, string>;
  reminderLockSec: string;
  reconnectGraceSec: string;
  offlineRecovery: Rule['offlineRecovery'];
  enabled: boolean;
  businessLine: string;
  skillGroups: string;
  channels: string;
  /** The parts this form does not edit (input-health thresholds, fleet), sent back as they were. */
  kept: Pick<Rule, 'inputHealth' | 'fleet'>;
}

const toDraft = (r: Rule): Draft => ({
  ruleId: r.ruleId,
  windows: Object.fromEntries(WINDOWS.map(([k]) => [k, String(r.windows[k])])),
  reminderLockSec: String(r.reminderLockSec),
  reconnectGraceSec: String(r.reconnectGraceSec),
  offlineRecovery: r.offlineRecovery,
  enabled: r.enabled,
  businessLine: r.scope.businessLine ?? '',
  skillGroups: (r.scope.skillGroups ?? []).join(', '),
  channels: (r.scope.channels ?? []).join(', '),
  kept: { inputHealth: r.inputHealth, fleet: r.fleet },
});

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
/** A number field as typed: a number when it is one, else the text itself, so the server names the field. */
const num = (s: string): number | string => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);

function body(d: Draft) {
  const scope = {
    ...(d.businessLine ? { businessLine: d.businessLine } : {}),
    ...(list(d.skillGroups).length ? { skillGroups: list(d.skillGroups) } : {}),
    ...(list(d.channels).length ? { channels: list(d.channels) } : {}),
  };
  return {
    scope,
    windows: Object.fromEntries(WINDOWS.map(([k]) => [k, num(d.windows[k] ?? '')])),
    reminderLockSec: num(d.reminderLockSec),
    reconnectGraceSec: num(d.reconnectGraceSec),
    offlineRecovery: d.offlineRecovery,
    enabled: d.enabled,
    // A save replaces the whole rule: without these its thresholds and fleet part would reset.
    ...(d.kept.inputHealth ? { inputHealth: d.kept.inputHealth } : {}),
    ...(d.kept.fleet ? { fleet: d.kept.fleet } : {}),
  };
}

function RuleEditor({
  draft,
  isNew,
  canEdit,
  onSaved,
  onAgent,
}: {
  draft: Draft;
  isNew: boolean;
  canEdit: boolean;
  onSaved: (r: Rule) => void;
  onAgent: (agentId: string) => void;
}) {
  const [d, setD] = useState(draft);
  const [simulating, setSimulating] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | undefined>();
  const [versions, setVersions] = useState<Rule[]>([]);
  useEffect(() => {
    setD(draft);
    setSimulating(false);
  }, [draft]);
  useEffect(() => {
    if (isNew) return setVersions([]);
    get<{ versions: Rule[] }>(`/v1/rules/${encodeURIComponent(draft.ruleId)}/versions`).then(
      (r) => setVersions(r.versions),
      () => setVersions([]),
    );
  }, [draft.ruleId, isNew]);
  const error = (f: string) => errors[f];
  const save = async () => {
    setErrors({});
    setProblem(undefined);
    try {
      const r = await api<Rule>('PUT', `/v1/rules/${encodeURIComponent(d.ruleId)}`, body(d));
      onSaved(r);
    } catch (err) {
      // A 400 names its field: shown on that input when the form has it, above the button otherwise.
      if (err instanceof ApiError && err.field && FIELDS.has(err.field)) setErrors({ [err.field]: err.message });
      else setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
    }
  };

  return (
    <form
      class="rule-editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h3>{isNew ? 'New rule' : `Rule ${d.ruleId}`}</h3>
      {isNew && <Field id="ruleId" label="Rule id" value={d.ruleId} onInput={(v) => setD({ ...d, ruleId: v })} />}
      <fieldset disabled={!canEdit}>
        <legend>Windows</legend>
        {WINDOWS.map(([k, label]) => (
          <Field
            key={k}
            id={k}
            label={label}
            value={d.windows[k] ?? ''}
            error={error(`windows.${k}`)}
            onInput={(v) => setD({ ...d, windows: { ...d.windows, [k]: v } })}
          />
        ))}
        {(
          [
            ['reminderLockSec', 'Reminder lock (s)'],
            ['reconnectGraceSec', 'Reconnect grace (s)'],
          ] as const
        ).map(([k, label]) => (
          <Field key={k} id={k} label={label} value={d[k]} error={error(k)} onInput={(v) => setD({ ...d, [k]: v })} />
        ))}
        <div class="field">
          <Choice
            name="offlineRecovery"
            label="Leaving OFFLINE"
            value={d.offlineRecovery}
            values={['manual', 'onActivity'] as const}
            labels={{ manual: 'manual (a work-status ONLINE)', onActivity: 'on any activity' }}
            onChange={(v) => setD({ ...d, offlineRecovery: v })}
          />
        </div>
        <div class="field">
          <label>
            <input
              type="checkbox"
              checked={d.enabled}
              onChange={(e) => setD({ ...d, enabled: e.currentTarget.checked })}
            />{' '}
            Enabled
          </label>
        </div>
      </fieldset>
      <fieldset disabled={!canEdit}>
        <legend>Scope (empty: every agent of the tenant)</legend>
        {(
          [
            ['businessLine', 'Business line'],
            ['skillGroups', 'Skill groups (comma separated)'],
            ['channels', 'Channels (comma separated)'],
          ] as const
        ).map(([k, label]) => (
          <Field
            key={k}
            id={k}
            label={label}
            value={d[k]}
            error={error(`scope.${k}`)}
            onInput={(v) => setD({ ...d, [k]: v })}
          />
        ))}
      </fieldset>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {canEdit && (
        <div class="rule-actions">
          <button type="submit">Save</button>
          <button
            type="button"
            class="simulate-open"
            aria-expanded={simulating}
            onClick={() => setSimulating(!simulating)}
          >
            Simulate…
          </button>
        </div>
      )}
      {canEdit && simulating && (
        <SimulatePanel
          proposal={() => ({ ruleId: d.ruleId, ...body(d) })}
          onFieldError={(field, message) => {
            if (!FIELDS.has(field)) return false;
            setErrors({ [field]: message });
            return true;
          }}
          onAgent={onAgent}
        />
      )}
      {versions.length > 0 && (
        <table class="versions">
          <caption>Versions</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Saved</th>
              <WindowHeads />
              <th scope="col">Enabled</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <td>v{v.version}</td>
                <td>{new Date(v.updatedAt).toLocaleString()}</td>
                <WindowCells rule={v} />
                <td>{v.enabled ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </form>
  );
}

function RulesView({ config, canEdit }: { config: ConsoleConfig; canEdit: boolean }) {
  const [rules, setRules] = useState<Rule[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [selected, setSelected] = useState<{ draft: Draft; isNew: boolean } | null>(null);
  const [notice, setNotice] = useState<string | undefined>();
  const load = () => get<{ rules: Rule[] }>('/v1/rules').then((r) => setRules(r.rules));
  useEffect(() => void load(), []);
  return (
    <main class="admin">
      <h2>Rules</h2>
      {notice && <p role="status">{notice}</p>}
      <table class="rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Version</th>
            <th scope="col">Scope</th>
            <WindowHeads />
            <th scope="col">Enabled</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <tr key={r.ruleId}>
              <th scope="row">
                <button type="button" class="link" onClick={() => setSelected({ draft: toDraft(r), isNew: false })}>
                  {r.ruleId}
                </button>
              </th>
              <td>v{r.version}</td>
              <td>
                {[r.scope.businessLine, ...(r.scope.skillGroups ?? []), ...(r.scope.channels ?? [])]
                  .filter(Boolean)
                  .join(', ') || 'tenant'}
              </td>
              <WindowCells rule={r} />
              <td>{r.enabled ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {canEdit && (
        <button
          type="button"
          onClick={() =>
            setSelected({
              isNew: true,
              draft: toDraft({
                ...DEFAULT_RULE,
                ruleId: '',
                scope: {},
                enabled: true,
                updatedAt: new Date().toISOString(),
              }),
            })
          }
        >
          New rule
        </button>
      )}
      {selected && (
        <RuleEditor
          draft={selected.draft}
          isNew={selected.isNew}
          canEdit={canEdit}
          onSaved={(r) => {
            setNotice(`Saved ${r.ruleId} as version ${r.version}.`);
            setSelected({ draft: toDraft(r), isNew: false });
            void load();
          }}
          onAgent={setOpen}
        />
      )}
      {open && <AgentDrawer agentId={open} config={config} onClose={() => setOpen(null)} onChanged={() => {}} />}
    </main>
  );
}

function WebhooksView() {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [lane, setLane] = useState('feed');
  const [dead, setDead] = useState<DeadLetter[]>([]);
  const [form, setForm] = useState({ id: '', url: '', secret: '', statuses: '' });
  const [message, setMessage] = useState<string | undefined>();
  const load = () => get<{ webhooks: Webhook[] }>('/v1/webhooks').then((r) => setHooks(r.webhooks));
  const loadDead = () =>
    get<{ deadLetters: DeadLetter[] }>(`/v1/dead-letters${query({ lane })}`).then((r) => setDead(r.deadLetters));
  useEffect(() => void load(), []);
  useEffect(() => void loadDead(), [lane]);
  /** Runs an admin action and says how it went; true when it succeeded. */
  const act = async (f: () => Promise<unknown>, done: string): Promise<boolean> => {
    try {
      await f();
      setMessage(done);
      await load();
      await loadDead();
      return true;
    } catch (err) {
      setMessage(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
      return false;
    }
  };
  return (
    <main class="admin">
      <h2>Webhooks</h2>
      {message && <p role="status">{message}</p>}
      <table class="webhooks">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">URL</th>
            <th scope="col">Filter</th>
            <th scope="col">State</th>
            <th scope="col">Updated</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {hooks.map((w) => (
            <tr key={w.id}>
              <th scope="row">{w.id}</th>
              <td>{w.url}</td>
              <td>
                {[...(w.filter.statuses ?? []), ...(w.filter.businessLines ?? []), ...(w.filter.topics ?? [])].join(
                  ', ',
                ) || 'all'}
              </td>
              <td>{w.enabled ? 'enabled' : 'disabled'}</td>
              <td>{clock(w.updatedAt)}</td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    void act(
                      () =>
                        api('PUT', `/v1/webhooks/${encodeURIComponent(w.id)}`, {
                          url: w.url,
                          filter: w.filter,
                          enabled: !w.enabled,
                        }),
                      `${w.id} ${w.enabled ? 'disabled' : 'enabled'}.`,
                    )
                  }
                >
                  {w.enabled ? 'Disable' : 'Enable'}
                </button>
                <button type="button" onClick={() => setLane(w.lane)}>
                  Dead letters
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="webhook-form"
        onSubmit={(e) => {
          e.preventDefault();
          void act(
            () =>
              api('PUT', `/v1/webhooks/${encodeURIComponent(form.id)}`, {
                url: form.url,
                secret: form.secret,
                ...(list(form.statuses).length ? { filter: { statuses: list(form.statuses) } } : {}),
              }),
            `Webhook ${form.id} saved.`,
          ).then((ok) => ok && setForm({ id: '', url: '', secret: '', statuses: '' }));
        }}
      >
        <fieldset>
          <legend>New webhook</legend>
          <Field id="wh-id" label="Id" value={form.id} onInput={(v) => setForm({ ...form, id: v })} />
          <Field id="wh-url" label="URL" value={form.url} onInput={(v) => setForm({ ...form, url: v })} />
          <Field
            id="wh-secret"
            label="Signing secret (16+ characters)"
            value={form.secret}
            onInput={(v) => setForm({ ...form, secret: v })}
          />
          <Field
            id="wh-statuses"
            label={`Statuses (comma separated: ${STATUSES.join(', ')}; empty: all)`}
            value={form.statuses}
            onInput={(v) => setForm({ ...form, statuses: v })}
          />
          <button type="submit">Create</button>
        </fieldset>
      </form>
      <h3>Dead letters</h3>
      <Choice
        name="lane"
        label="Lane "
        value={lane}
        values={['feed', 'push', ...hooks.map((w) => w.lane)]}
        onChange={setLane}
      />{' '}
      <button
        type="button"
        disabled={dead.length === 0}
        onClick={() => void act(() => api('POST', '/v1/dead-letters/redrive', { lane }), `Redrove ${lane}.`)}
      >
        Redrive all
      </button>
      <table class="dead">
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Topic</th>
            <th scope="col">Version</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Committed</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {dead.map((x) => (
            <tr key={x.outboxId}>
              <td>{x.agentId}</td>
              <td>{x.topic}</td>
              <td>{x.version}</td>
              <td>{x.attempts}</td>
              <td>{x.lastError ?? '–'}</td>
              <td>{clock(x.committedAt)}</td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    void act(
                      () => api('POST', '/v1/dead-letters/redrive', { lane, outboxIds: [x.outboxId] }),
                      `Redrove ${x.outboxId}.`,
                    )
                  }
                >
                  Redrive
                </button>
              </td>
            </tr>
          ))}
          {dead.length === 0 && (
            <tr>
              <td colSpan={7}>No dead letters in {lane}.</td>
            </tr>
          )}
        </tbody>
      </table>
    </main>
  );
}

export function AdminView({ config, view }: { config: ConsoleConfig; view: 'rules' | 'webhooks' }) {
  return view === 'rules' ? <RulesView config={config} canEdit={config.role === 'admin'} /> : <WebhooksView />;
}
