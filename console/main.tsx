// The operator console (README "Console"): one page, served by the gateway at /console, talking to
// the same HTTP API as everyone else with the operator's bearer token. The role decides what the
// page offers: the floor, input health and the fleet for supervisors and admins, status changes for
// them too, rules and webhooks to edit, input degrade to force and recovery hooks to set for admins.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AdminView } from './admin.tsx';
import { get, session, takeTokenFromUrl, whenUnauthorized } from './api.ts';
import { FleetView } from './fleet.tsx';
import { FloorView } from './floor.tsx';
import { InputView } from './input.tsx';
import type { ConsoleConfig } from './types.ts';

type Tab = 'floor' | 'rules' | 'webhooks' | 'input' | 'fleet';

function Login({ problem, onToken }: { problem?: string; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="login">
      <h1>Vigil console</h1>
      <p>
        Paste a supervisor or admin token. <code>npm start</code> prints a link that logs you in; another token comes
        from <code>npm run token -- --tenant dev --sub you --role admin --ttl 3600</code>.
      </p>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label for="token">Token</label>
        <textarea id="token" rows={4} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit">Log in</button>
      </form>
    </main>
  );
}

function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [problem, setProblem] = useState<string | undefined>();
  const [token, setToken] = useState(session.token());
  const [tab, setTab] = useState<Tab>('floor');

  useEffect(() => {
    whenUnauthorized(() => {
      session.clear();
      setToken(null);
      setConfig(null);
      setProblem('The token was refused (expired or not valid here). Log in again.');
    });
  }, []);

  useEffect(() => {
    if (!token) return;
    get<ConsoleConfig>('/v1/console/config')
      .then((c) => {
        if (c.role === 'agent' || c.role === 'instance' || c.role === 'service') {
          setProblem(`A ${c.role} token cannot use the console: it is for supervisors and admins.`);
          session.clear();
          setToken(null);
          return;
        }
        setConfig(c);
      })
      .catch((err: Error) => setProblem(err.message));
  }, [token]);

  if (!token || !config) {
    return (
      <Login
        problem={problem}
        onToken={(t) => {
          session.set(t);
          setProblem(undefined);
          setToken(t);
        }}
      />
    );
  }
  const admin = config.role === 'admin';
  const tabs: [Tab, string][] = [
    ['floor', 'Floor'],
    ['rules', 'Rules'],
    ...(admin ? [['webhooks', 'Webhooks'] as [Tab, string]] : []),
    ['input', 'Input'],
    ['fleet', 'Fleet'],
  ];
  return (
    <>
      <header class="top">
        <h1>Vigil</h1>
        <nav aria-label="Views">
          {tabs.map(([t, label]) => (
            <button
              key={t}
              type="button"
              class="tab"
              aria-current={tab === t ? 'page' : undefined}
              onClick={() => setTab(t)}
            >
              {label}
            </button>
          ))}
        </nav>
        <span class="who">
          {config.sub} · {config.role} · tenant {config.tenant}
        </span>
        <button
          type="button"
          onClick={() => {
            session.clear();
            setToken(null);
            setConfig(null);
          }}
        >
          Log out
        </button>
      </header>
      {tab === 'floor' && <FloorView config={config} />}
      {tab === 'input' && <InputView config={config} />}
      {tab === 'fleet' && <FleetView config={config} />}
      {(tab === 'rules' || tab === 'webhooks') && <AdminView config={config} view={tab} />}
    </>
  );
}

takeTokenFromUrl();
const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading" line
render(<App />, root);
