// Once per `npm test`: one real Postgres (embedded unless DATABASE_URL) and one real Temporal dev
// server (unless TEMPORAL_ADDRESS) on free ports, migrations applied, workflow code bundled.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../db/migrate.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { freePort } from '../platform/ports.ts';
import { startEmbeddedPostgres } from '../platform/postgres.ts';
import { ensureTemporalCli } from '../platform/temporal-cli.ts';
import { startDevServer } from '../platform/temporal-server.ts';
import { bundleWorkflows } from '../workers/agent-worker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCli: string;
  }
}

export default async function setup(project: TestProject) {
  const log = createLogger('test-setup', 'warn');
  const cfg = loadConfig({ ...process.env, VIGIL_DATA_DIR: os.tmpdir() });
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-test-'));
  // As root, Postgres runs as the postgres user, which must be able to enter this directory.
  await fs.chmod(scratch, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const t0 = Date.now();

  const cli = await ensureTemporalCli({ explicit: cfg.temporalCli, cacheDir: cfg.cacheDir });
  const teardown = async () => {
    for (const stop of stops) await stop().catch(() => {});
    await fs.rm(scratch, { recursive: true, force: true });
  };
  const [pgStarted, temporalStarted] = await Promise.allSettled([
    cfg.databaseUrl
      ? { url: cfg.databaseUrl, stop: async () => {} }
      : startEmbeddedPostgres(path.join(scratch, 'pg'), await freePort(), log),
    cfg.temporalAddress
      ? { address: cfg.temporalAddress, stop: async () => {} }
      : // In memory. On a file with npm start's settings (WAL, synchronous=normal) two timing-bound
        // tests failed in CI (engine.test.ts worker restart, signal-bounds.test.ts backlog), so the
        // suite stays in memory until that is understood; the benchmark and the fault suite run on a file.
        freePort().then((port) => startDevServer({ cli, port, namespace: 'default', log })),
  ]);
  for (const s of [temporalStarted, pgStarted]) if (s.status === 'fulfilled') stops.push(s.value.stop);
  if (pgStarted.status === 'rejected' || temporalStarted.status === 'rejected') {
    await teardown();
    throw pgStarted.status === 'rejected' ? pgStarted.reason : (temporalStarted as PromiseRejectedResult).reason;
  }
  const pg = pgStarted.value;
  const temporal = temporalStarted.value;
  await runMigrations(pg.url);
  const bundlePath = path.join(scratch, 'workflow-bundle.js');
  await fs.writeFile(bundlePath, (await bundleWorkflows()).code);
  process.stderr.write(`test setup: Postgres, Temporal and workflow bundle ready in ${Date.now() - t0} ms\n`);

  project.provide('databaseUrl', pg.url);
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCli', cli);

  return teardown;
}
