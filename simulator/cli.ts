// `npm run simulate -- --rule rule.json --from ISO --to ISO [--tenant dev] [--url http://127.0.0.1:8080]`:
// runs a rule simulation through the gateway's API (POST /v1/rules/simulate), prints its progress
// and then the summary (README "Rule simulator"). The token: --token, VIGIL_TOKEN, or (next to
// `npm start`) a 10-minute admin token of --tenant signed with the dev secret.
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { signToken } from '../platform/auth.ts';
import { loadConfig } from '../platform/config.ts';
import { readDevSecret } from '../platform/dev-secret.ts';
import type { SimulationSummary } from './run.ts';

const { values } = parseArgs({
  options: {
    rule: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    tenant: { type: 'string', default: 'dev' },
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    token: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const usage = () => {
  process.stderr.write(
    'usage: npm run simulate -- --rule rule.json --from 2026-11-24T08:00:00Z --to 2026-11-24T18:00:00Z [--tenant dev] [--url URL] [--token T] [--json]\n',
  );
  process.exit(2);
};
if (!values.rule || !values.from || !values.to) usage();
const rule = JSON.parse(await fs.readFile(values.rule!, 'utf8')) as unknown;
const cfg = loadConfig();
let token = values.token ?? process.env.VIGIL_TOKEN;
if (!token) {
  const secret = cfg.jwtSecret ?? readDevSecret(cfg.dataDir);
  if (!secret) {
    process.stderr.write('no --token, VIGIL_TOKEN or dev secret (run `npm start` once, or pass an admin token)\n');
    process.exit(2);
  }
  token = await signToken(secret, { tenant: values.tenant, sub: 'simulate-cli', role: 'admin' }, 600);
}
const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const r = await fetch(`${values.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const out = (await r.json()) as T & { code?: string; message?: string };
  if (!r.ok) {
    process.stderr.write(`${method} ${path}: ${r.status} ${out.code ?? ''} ${out.message ?? ''}\n`);
    process.exit(1);
  }
  return out;
};

const started = Date.now();
const { simulationId } = await call<{ simulationId: string }>('POST', '/v1/rules/simulate', {
  rule,
  from: new Date(values.from!).toISOString(),
  to: new Date(values.to!).toISOString(),
});
let result: SimulationSummary | undefined;
for (;;) {
  const s = await call<{
    state: string;
    progress?: { done: number; total: number };
    result?: SimulationSummary;
    error?: string;
  }>('GET', `/v1/rules/simulations/${simulationId}`);
  if (s.progress) process.stderr.write(`simulate: ${s.progress.done} of ${s.progress.total} agents\n`);
  if (s.state === 'done') {
    result = s.result;
    break;
  }
  if (s.state === 'failed') {
    process.stderr.write(`simulate: ${s.error}\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 1000));
}
const r = result!;
if (values.json) {
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
} else {
  const lines = [
    `rule ${r.ruleId}, ${r.from} → ${r.to} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `agents: ${r.agents.tenant} in the tenant, ${r.agents.affected} governed differently, ${r.agents.changed} with other transitions`,
    'status      transitions (current → proposed)   agents into it (current → proposed)',
    ...Object.entries(r.transitions).map(
      ([s, t]) =>
        `${s.padEnd(11)} ${`${t.current} → ${t.proposed}`.padEnd(34)} ${r.agentsInto[s as keyof typeof r.agentsInto].current} → ${r.agentsInto[s as keyof typeof r.agentsInto].proposed}`,
    ),
    ...(['ABNORMAL', 'OFFLINE'] as const).map(
      (s) =>
        `minutes ${s}: ${r.minutes[s].current} → ${r.minutes[s].proposed} (${r.minutes[s].delta >= 0 ? '+' : ''}${r.minutes[s].delta})`,
    ),
    ...r.sample
      .slice(0, 10)
      .map(
        (a) =>
          `  ${a.agentId}: ${a.current.map((t) => t.to).join(' ') || '–'}  ⇒  ${a.proposed.map((t) => t.to).join(' ') || '–'}  (${a.timeline})`,
      ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
