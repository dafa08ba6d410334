// The floor: counts per status and per business line and skill group, the last hour as a chart,
// and the agent table, paged, filtered and searched on the server (GET /v1/agents). Live: the
// page long-polls the status feed and reloads what is on screen when a change arrives.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { STATUSES } from '../workflows/model.ts';
import { get, query } from './api.ts';
import { Chart } from './chart.tsx';
import { Choice, StatusBadge } from './ui.tsx';
import { AgentDrawer } from './drawer.tsx';
import { ago, countdown, duration } from './format.ts';
import type { AgentRow, ConsoleConfig, Counts, Floor } from './types.ts';

const PAGE = 50;
/** One long poll waits this long for a change; then it asks again. */
const POLL_WAIT_MS = 20_000;

function CountTiles({ counts, total }: { counts: Counts; total: number }) {
  return (
    <ul class="tiles" aria-label="Agents per status">
      {STATUSES.map((s) => (
        <li key={s} class={`tile status-${s}`} data-status={s}>
          <span class="label">{s}</span>
          <span class="count">{counts[s]}</span>
        </li>
      ))}
      <li class="tile">
        <span class="label">All</span>
        <span class="count" data-total>
          {total}
        </span>
      </li>
    </ul>
  );
}

function GroupTable({ caption, rows }: { caption: string; rows: { name: string; total: number; byStatus: Counts }[] }) {
  if (rows.length === 0) return null;
  return (
    <div class="table-wrap">
      <table class="groups">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            {STATUSES.map((s) => (
              <th key={s} scope="col">
                {s}
              </th>
            ))}
            <th scope="col">All</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <th scope="row">{r.name || '(none)'}</th>
              {STATUSES.map((s) => (
                <td key={s}>{r.byStatus[s]}</td>
              ))}
              <td>{r.total}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function deadlineText(a: AgentRow, now: number): string {
  const d = a.nextDeadline;
  if (!d) return '–';
  const left = countdown(Date.parse(d.at) - now);
  switch (d.action) {
    case 'IDLE':
      return `IDLE in ${left} unless a task opens`;
    case 'REMIND':
      return `reminder in ${left} unless they act`;
    case 'ABNORMAL':
      return `ABNORMAL in ${left} unless they act`;
    case 'OFFLINE':
      return `OFFLINE in ${left} unless they act`;
  }
}

interface Filters {
  status: string;
  businessLine: string;
  skillGroup: string;
  q: string;
}

export function FloorView({ config }: { config: ConsoleConfig }) {
  const [floor, setFloor] = useState<Floor | null>(null);
  const [agents, setAgents] = useState<AgentRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [filters, setFilters] = useState<Filters>({ status: '', businessLine: '', skillGroup: '', q: '' });
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const [live, setLive] = useState<'connecting' | 'live' | 'retrying'>('connecting');
  const [error, setError] = useState<string | undefined>();
  const cursor = cursors[cursors.length - 1];
  const reloadRef = useRef<() => void>(() => {});
  /** The feed's seq when the floor was first read: the live long-poll starts there. */
  const [startSeq, setStartSeq] = useState<number | null>(null);

  const load = useCallback(async () => {
    try {
      const [f, page] = await Promise.all([
        get<Floor & { feedSeq: number }>('/v1/floor'),
        get<{ agents: AgentRow[]; next: string | null }>(`/v1/agents${query({ ...filters, limit: PAGE, cursor })}`),
      ]);
      setFloor(f);
      setStartSeq((seq) => seq ?? f.feedSeq);
      setAgents(page.agents);
      setNext(page.next);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [filters, cursor]);
  reloadRef.current = () => void load();

  useEffect(() => {
    void load();
  }, [load]);

  // Relative times and countdowns move every second.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  // Search as you type, after a short pause.
  useEffect(() => {
    const t = setTimeout(() => {
      setFilters((f) => (f.q === search ? f : { ...f, q: search }));
      setCursors([undefined]);
    }, 250);
    return () => clearTimeout(t);
  }, [search]);

  // Live: long-poll the status feed from where the floor was first read; any change reloads the view.
  useEffect(() => {
    if (startSeq === null) return;
    const stop = new AbortController();
    void (async () => {
      let after = startSeq;
      while (!stop.signal.aborted) {
        try {
          setLive('live');
          const r = await get<{ changes: unknown[]; next: number }>(
            `/v1/status-changes${query({ after, waitMs: POLL_WAIT_MS, limit: 1000 })}`,
            stop.signal,
          );
          after = r.next;
          if (r.changes.length > 0) reloadRef.current();
        } catch {
          if (stop.signal.aborted) return;
          setLive('retrying');
          await new Promise((res) => setTimeout(res, 2000));
        }
      }
    })();
    return () => stop.abort();
  }, [startSeq]);

  const setFilter = (k: keyof Filters, v: string) => {
    setFilters((f) => ({ ...f, [k]: v }));
    setCursors([undefined]);
  };

  return (
    <main class="floor">
      <section aria-labelledby="counts-h">
        <h2 id="counts-h">
          Floor <span class={`live live-${live}`}>{live === 'live' ? 'live' : live}</span>
        </h2>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {floor && <CountTiles counts={floor.byStatus} total={floor.total} />}
        {floor && <Chart history={floor.history} />}
        <div class="group-tables">
          {floor && (
            <GroupTable
              caption="Per business line"
              rows={floor.byBusinessLine.map((g) => ({ ...g, name: g.businessLine }))}
            />
          )}
          {floor && (
            <GroupTable
              caption="Per skill group"
              rows={floor.bySkillGroup.map((g) => ({ ...g, name: g.skillGroup }))}
            />
          )}
        </div>
      </section>

      <section aria-labelledby="agents-h">
        <h2 id="agents-h">Agents</h2>
        <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <label>
            Search
            <input
              type="search"
              name="q"
              placeholder="id or name"
              value={search}
              onInput={(e) => setSearch(e.currentTarget.value)}
            />
          </label>
          <Choice
            name="status"
            label="Status"
            any="any"
            value={filters.status}
            values={STATUSES}
            onChange={(v) => setFilter('status', v)}
          />
          <Choice
            name="businessLine"
            label="Business line"
            any="any"
            value={filters.businessLine}
            values={floor?.byBusinessLine.map((g) => g.businessLine).filter(Boolean) ?? []}
            onChange={(v) => setFilter('businessLine', v)}
          />
          <Choice
            name="skillGroup"
            label="Skill group"
            any="any"
            value={filters.skillGroup}
            values={floor?.bySkillGroup.map((g) => g.skillGroup) ?? []}
            onChange={(v) => setFilter('skillGroup', v)}
          />
        </form>
        <div class="table-wrap">
          <table class="agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">In status</th>
                <th scope="col">Last seen</th>
                <th scope="col">On app</th>
                <th scope="col">Open tasks</th>
                <th scope="col">Next deadline</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr key={a.agentId} data-agent={a.agentId}>
                  <th scope="row">
                    <button
                      type="button"
                      class="link"
                      onClick={() => setOpen(a.agentId)}
                      aria-label={`Open ${a.agentId}`}
                    >
                      {a.agentId}
                    </button>
                    {a.displayName && <span class="name">{a.displayName}</span>}
                  </th>
                  <td data-col="status">
                    <StatusBadge status={a.status} cause={a.cause} />
                  </td>
                  <td>{duration(now - Date.parse(a.since))}</td>
                  <td
                    title={a.deviceSessions
                      .map((d) => `${d.deviceId} (${d.via}): ${ago(d.lastSeenAt, now)}`)
                      .join('\n')}
                  >
                    {ago(a.lastSeenAt, now)}
                    {a.deviceSessions.length > 1 && <span class="sub"> · {a.deviceSessions.length} devices</span>}
                  </td>
                  <td>{a.onApp ? `yes (${a.devices.length})` : 'no'}</td>
                  <td>{a.taskCount}</td>
                  <td>{deadlineText(a, now)}</td>
                </tr>
              ))}
              {agents.length === 0 && (
                <tr>
                  <td colSpan={7}>No agents match.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous
          </button>
          <span>Page {cursors.length}</span>
          <button type="button" disabled={!next} onClick={() => setCursors((c) => [...c, next ?? undefined])}>
            Next
          </button>
        </nav>
      </section>
      {open && (
        <AgentDrawer agentId={open} config={config} onClose={() => setOpen(null)} onChanged={() => void load()} />
      )}
    </main>
  );
}
