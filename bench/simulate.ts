// The rule simulator on a recorded day (README "Rule simulator"): writes a synthetic activity
// record of N agents over a 10-hour working day into embedded Postgres (actions in about half the
// seconds of active minutes, a 15-minute break every 97 minutes, a ticket opened and closed every
// 20 minutes), measures its size per agent-day, and times one simulation of a proposed rule over it.
//   npx tsx bench/simulate.ts [--agents 1000] [--hours 10]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runMigrations } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { createLogger } from '../platform/log.ts';
import { freePort } from '../platform/ports.ts';
import { startEmbeddedPostgres } from '../platform/postgres.ts';
import { simulate } from '../simulator/run.ts';

const { values } = parseArgs({
  options: { agents: { type: 'string', default: '1000' }, hours: { type: 'string', default: '10' } },
});
const agents = Number(values.agents);
const hours = Number(values.hours);
const say = (m: string) => process.stderr.write(`bench simulate: ${m}\n`);

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-sim-bench-'));
await fs.chmod(dir, 0o755);
const pgs = await startEmbeddedPostgres(path.join(dir, 'pg'), await freePort(), createLogger('bench', 'warn'));
try {
  await runMigrations(pgs.url);
  const pool = createPool(pgs.url, 4);
  // Yesterday (UTC) from 08:00: its partitions exist (the migration prepares yesterday on).
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const from = Date.parse(`${day}T08:00:00Z`);
  const to = from + hours * 3_600_000;
  say(`writing ${agents} agents' record of ${day}, ${hours} h`);
  const t0 = Date.now();
  await pool.query(
    `INSERT INTO agents (tenant, agent_id, created_at) SELECT 'bench', 'agent-' || a, to_timestamp($2 / 1000.0) - interval '1 day'
       FROM generate_series(1, $1) a`,
    [agents, from],
  );
  await pool.query(
    `INSERT INTO status_table (tenant, agent_id, status, status_code, cause, actor, since)
     SELECT 'bench', agent_id, 'ONLINE', 1000, 'INITIAL', 'system:vigil', created_at FROM agents WHERE tenant = 'bench'`,
  );
  await pool.query(
    `INSERT INTO activity_seconds (day, tenant, agent_id, minute, bits, last_at)
     SELECT $3::date, 'bench', 'agent-' || a, m,
            ((random() * 1073741823)::bigint | ((random() * 536870911)::bigint << 30)) | (1::bigint << 58),
            m + interval '58.3 seconds'
       FROM generate_series(1, $1) a,
            generate_series(to_timestamp($2 / 1000.0), to_timestamp($4 / 1000.0) - interval '1 minute', interval '1 minute') m
      WHERE ((extract(epoch FROM m)::bigint / 60) + a * 7) % 97 >= 15`,
    [agents, from, day, to],
  );
  await pool.query(
    `INSERT INTO agent_record (day, tenant, agent_id, at, kind, type, client_ts, ticket_id)
     SELECT $3::date, 'bench', 'agent-' || a, t + (k * interval '9 minutes'), 'event', CASE k WHEN 0 THEN 3 ELSE 5 END,
            (extract(epoch FROM t) * 1000)::bigint, 'T-' || a || '-' || n
       FROM generate_series(1, $1) a, generate_series(0, $4::int * 3 - 1) n,
            LATERAL (SELECT to_timestamp($2 / 1000.0) + n * interval '20 minutes' + (a % 60) * interval '1 second' AS t) x,
            generate_series(0, 1) k`,
    [agents, from, day, hours],
  );
  const { rows } = await pool.query<{ secs: string; recs: string; bytes: string }>(
    `SELECT (SELECT count(*) FROM activity_seconds) AS secs, (SELECT count(*) FROM agent_record) AS recs,
            pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS bytes`,
    [`activity_seconds_${day.replace(/-/g, '')}`, `agent_record_${day.replace(/-/g, '')}`],
  );
  const r = rows[0]!;
  say(`wrote ${r.secs} minute rows and ${r.recs} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const started = Date.now();
  const summary = await simulate(
    pool,
    {
      tenant: 'bench',
      rule: { ruleId: 'stricter', windows: { abnormalAfterNoActionSec: 480, remindAfterNoActionSec: 360 } },
      from,
      to,
    },
    { progress: (done, total) => (done % 200 === 0 || done === total ? say(`${done} of ${total} agents`) : undefined) },
  );
  const sec = (Date.now() - started) / 1000;
  const out = {
    agents,
    hours,
    minuteRows: Number(r.secs),
    events: Number(r.recs),
    recordBytesPerAgentDay: Math.round(Number(r.bytes) / agents),
    simulateSeconds: Number(sec.toFixed(1)),
    agentsPerSecond: Math.round(agents / sec),
    abnormalTransitions: summary.transitions.ABNORMAL,
    abnormalMinutes: summary.minutes.ABNORMAL,
    changedAgents: summary.agents.changed,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await pool.end();
} finally {
  await pgs.stop();
}
