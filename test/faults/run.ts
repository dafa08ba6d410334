// `npm run test:faults [-- --agents 20 --traffic 10 --outage 30 --only gatewayKill --no-readme]`:
// every fault scenario against its own stack, a table of counts, and that table written into the
// README's "Faults" section. Exits 1 when anything was lost, duplicated or a check failed.
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { SCENARIOS, type Counts } from './scenarios.ts';
import { startFaultStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '20' },
    traffic: { type: 'string', default: '10' },
    outage: { type: 'string', default: '30' },
    only: { type: 'string' },
    'no-readme': { type: 'boolean', default: false },
  },
});
const o = {
  agents: Number(values.agents),
  trafficMs: Number(values.traffic) * 1000,
  outageMs: Number(values.outage) * 1000,
};
if (![o.agents, o.trafficMs, o.outageMs].every((n) => Number.isFinite(n) && n > 0) || o.agents > 500) {
  throw new Error('--agents (1–500), --traffic and --outage (seconds) must be positive numbers');
}
const names = values.only ? values.only.split(',') : Object.keys(SCENARIOS);
for (const n of names)
  if (!(n in SCENARIOS)) throw new Error(`no scenario ${n}; there are ${Object.keys(SCENARIOS).join(', ')}`);

const say = (l: string) => process.stdout.write(`${l}\n`);
const t0 = Date.now();
say(
  `fault suite: ${names.length} scenarios, ${o.agents} agents, ${o.trafficMs / 1000} s of traffic before and after each fault, outages ${o.outageMs / 1000} s`,
);
const stack = await startFaultStack('suite');
const results: Counts[] = [];
try {
  for (const name of names) {
    const started = Date.now();
    say(`[${((started - t0) / 1000).toFixed(0)} s] ${name}…`);
    const c = await SCENARIOS[name as keyof typeof SCENARIOS](stack, o);
    results.push(c);
    say(
      `  ${c.ok ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s: accepted ${c.accepted}/${c.sent}, in HCM ${c.inHcm}, requests committed ${c.committed}/${c.requests}, duplicates ${c.duplicates}, lost ${c.lost}`,
    );
    for (const check of c.checks) say(`    ${check}`);
  }
} finally {
  await stack.close();
}

const table = [
  '| scenario | agents | events accepted (sent) | facts in HCM | status requests committed by workflows | duplicates | lost | checks |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map(
    (c) =>
      `| ${c.scenario} | ${c.agents} | ${c.accepted} (${c.sent}) | ${c.inHcm} | ${c.committed} of ${c.requests} | ${c.duplicates} | ${c.lost} | ${c.checks.map((x) => x.replace(/\|/g, '/')).join('; ')} |`,
  ),
].join('\n');
say(`\n${table}\n`);
if (!values['no-readme'] && !values.only) {
  const readme = await fs.readFile('README.md', 'utf8');
  const block = `<!-- faults:start -->\nMeasured ${new Date().toISOString()} with \`npm run test:faults -- --agents ${o.agents} --traffic ${o.trafficMs / 1000} --outage ${o.outageMs / 1000}\`:\n\n${table}\n<!-- faults:end -->`;
  await fs.writeFile('README.md', readme.replace(/<!-- faults:start -->[\s\S]*<!-- faults:end -->/, block));
  say('README.md: Faults table updated');
}
say(`finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(results.every((c) => c.ok) ? 0 : 1);
