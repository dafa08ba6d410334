// One agent, opened from the floor: HCM's committed state, the workflow's live state (its exact
// next deadline), the timeline (events, candidates, commits, rejections with their reasons,
// reminders, deliveries per lane), a manual status change for supervisors and admins, and a link
// to the agent's workflow in the Temporal Web UI. An instance (README "Fleet mode"), opened from
// the Fleet view, shows its health instead: last heartbeat, metrics, incident and next step.
import { useEffect, useRef, useState } from 'preact/hooks';
import { isHealthState } from '../workflows/fleet.ts';
import { STATUSES, type Status } from '../workflows/model.ts';
import { agentWorkflowId } from '../workflows/ids.ts';
import { api, ApiError, get, query } from './api.ts';
import { Choice, Metrics, StatusBadge } from './ui.tsx';
import { ago, clock, countdown, duration } from './format.ts';
import type { AgentRow, ConsoleConfig, ServiceLive, TimelineEntry } from './types.ts';

interface PersonLive {
  kind?: undefined;
  status: Status;
  cause: string;
  version: number;
  taskCount: number;
  onApp: boolean;
  next: { at: number; action: string } | null;
  rule: { ruleId: string; version: number };
  hcmTrouble: { since: number; failures: number; lastError: string } | null;
}
type Live = PersonLive | ServiceLive;

const iso = (ms: number) => new Date(ms).toISOString();

/** What an instance's workflow waits for next, in words. */
function serviceNext(live: ServiceLive, now: number): string {
  if (!live.next) return 'nothing due';
  const what = live.next.action === 'MISSING' ? 'MISSING' : `recovery step ${live.next.action}`;
  return `${what} in ${countdown(live.next.at - now)} unless it beats (${clock(iso(live.next.at))})`;
}

/** An instance's health from its workflow: heartbeat, metrics (over-limit ones marked), incident, next. */
function ServiceFacts({ live, now }: { live: ServiceLive; now: number }) {
  return (
    <dl class="facts" data-live data-kind="service">
      <dt>Last heartbeat</dt>
      <dd>
        {ago(iso(live.lastBeatAt), now)}
        {live.lastSeq !== null && ` (seq ${live.lastSeq})`}
      </dd>
      <dt>Metrics</dt>
      <dd>
        <Metrics metrics={live.metrics} over={live.over} />
      </dd>
      <dt>Incident</dt>
      <dd>{live.incident ? `${live.incident.id}: ${live.incident.done} step(s) started` : 'none'}</dd>
      <dt>Next</dt>
      <dd>{serviceNext(live, now)}</dd>
      <dt>Rule</dt>
      <dd>
        {live.rule.ruleId} v{live.rule.version}
      </dd>
    </dl>
  );
}

export function temporalUiLink(config: ConsoleConfig, agentId: string): string {
  const workflowId = agentWorkflowId(config.tenant, agentId);
  return `${config.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** `onSettled` runs after every answer, committed or not: a rejection is in the timeline too. */
function StatusForm({
  agentId,
  onDone,
  onSettled,
}: {
  agentId: string;
  onDone: (message: string) => void;
  onSettled: () => void;
}) {
  const [status, setStatus] = useState<Status>('BUSY');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ status: Status; version: number }>(
        'PUT',
        `/v1/agents/${encodeURIComponent(agentId)}/status`,
        {
          status,
          ...(reason ? { reason } : {}),
        },
      );
      onDone(`Committed: ${r.status} (version ${r.version})`);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
    } finally {
      setBusy(false);
      onSettled();
    }
  };
  return (
    <form
      class="status-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <fieldset>
        <legend>Change status</legend>
        <Choice name="status" label="Status" value={status} values={STATUSES} onChange={setStatus} />
        <label>
          Reason
          <input name="reason" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Set status
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </fieldset>
    </form>
  );
}

export function AgentDrawer(props: {
  agentId: string;
  config: ConsoleConfig;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { agentId, config, onClose } = props;
  const [agent, setAgent] = useState<AgentRow | null>(null);
  const [live, setLive] = useState<Live | null | 'none'>(null);
  const [timeline, setTimeline] = useState<{ timeline: TimelineEntry[]; partial?: string } | null>(null);
  const [notice, setNotice] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const closeRef = useRef<HTMLButtonElement>(null);
  const staff = config.role === 'supervisor' || config.role === 'admin';
  /** An instance: known from its committed state (health states are its own), else from the workflow. */
  const instance = agent ? isHealthState(agent.status) : live !== null && live !== 'none' && live.kind === 'service';
  const path = `/v1/agents/${encodeURIComponent(agentId)}`;

  const load = async () => {
    try {
      const [a, t] = await Promise.all([
        get<AgentRow>(path),
        get<{ timeline: TimelineEntry[]; partial?: string }>(`${path}/timeline${query({ limit: 100 })}`),
      ]);
      setAgent(a);
      setTimeline(t);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
    get<Live>(`${path}/live`).then(setLive, (err) =>
      setLive(err instanceof ApiError && err.status === 404 ? 'none' : null),
    );
  };

  useEffect(() => {
    void load();
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      document.removeEventListener('keydown', onKey);
      clearInterval(t);
    };
  }, [agentId]);

  return (
    <div class="drawer" role="dialog" aria-modal="false" aria-labelledby="drawer-h">
      <header>
        <h2 id="drawer-h">{agentId}</h2>
        <button type="button" ref={closeRef} onClick={onClose}>
          Close
        </button>
      </header>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {agent && (
        <dl class="facts">
          <dt>{instance ? 'Health' : 'Status'}</dt>
          <dd>
            <StatusBadge status={agent.status} cause={agent.cause} /> for {duration(now - Date.parse(agent.since))}{' '}
            (version {agent.version})
          </dd>
          <dt>Last seen</dt>
          <dd>
            {ago(agent.lastSeenAt, now)}
            <ul class="devices">
              {agent.deviceSessions.map((d) => (
                <li key={d.deviceId}>
                  {d.deviceId} ({d.via}): {ago(d.lastSeenAt, now)}
                </li>
              ))}
            </ul>
          </dd>
          {!instance && (
            <>
              <dt>Last action</dt>
              <dd>{ago(agent.lastActionAt, now)}</dd>
              <dt>Open tasks</dt>
              <dd>{agent.taskCount}</dd>
              <dt>Skill groups</dt>
              <dd>{agent.skillGroups.join(', ') || '–'}</dd>
            </>
          )}
        </dl>
      )}
      <section aria-labelledby="live-h">
        <h3 id="live-h">Workflow</h3>
        {live === 'none' && <p>No workflow yet: it starts with the agent's first event.</p>}
        {live && live !== 'none' && live.kind === 'service' && <ServiceFacts live={live} now={now} />}
        {live && live !== 'none' && live.kind !== 'service' && (
          <dl class="facts" data-live>
            <dt>Next</dt>
            <dd>
              {live.next
                ? `${live.next.action} in ${countdown(live.next.at - now)} (${clock(new Date(live.next.at).toISOString())})`
                : 'nothing due'}
            </dd>
            <dt>Rule</dt>
            <dd>
              {live.rule.ruleId} v{live.rule.version}
            </dd>
            {live.hcmTrouble && (
              <>
                <dt>HCM trouble</dt>
                <dd class="error">
                  {live.hcmTrouble.failures} failed rounds since {clock(new Date(live.hcmTrouble.since).toISOString())}:{' '}
                  {live.hcmTrouble.lastError}
                </dd>
              </>
            )}
          </dl>
        )}
        <p>
          <a href={temporalUiLink(config, agentId)} target="_blank" rel="noopener noreferrer" data-temporal-link>
            Open in Temporal UI
          </a>
        </p>
        <p class="note">
          A reset there replays the workflow from the chosen event: windows are decided again from HCM's facts, and
          HCM's dedupe keys keep any change already committed from being committed twice.
        </p>
      </section>
      {staff && instance && (
        <p class="note">An instance's health is decided from its heartbeats: there is no status to set here.</p>
      )}
      {staff && !instance && (
        <StatusForm
          agentId={agentId}
          onDone={(m) => {
            setNotice(m);
            props.onChanged();
          }}
          onSettled={() => void load()}
        />
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <section aria-labelledby="timeline-h">
        <h3 id="timeline-h">Timeline</h3>
        {timeline?.partial && <p class="note">{timeline.partial}: showing HCM's side only.</p>}
        <table class="timeline">
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Source</th>
              <th scope="col">Kind</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {timeline?.timeline.map((t, i) => (
              <tr key={i} class={`kind-${t.kind}`} data-kind={t.kind}>
                <td>{clock(t.at)}</td>
                <td>{t.source}</td>
                <td>{t.kind}</td>
                <td>{t.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
