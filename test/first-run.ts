// A first `npm start` on a machine with nothing cached reaches ready: the Temporal CLI is built
// (minutes), then the platform starts, /readyz answers 200 and the printed console and workbench
// links serve their pages; Ctrl-C stops it cleanly. Slow, so
// it is not part of `npm test`; `.ci/run` runs it when the cache is empty anyway.
//   npx tsx test/first-run.ts                  # into a new empty cache directory (a full build)
//   npx tsx test/first-run.ts --if-cache-empty # into the machine's cache, only when no CLI is there
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../platform/config.ts';
import { freePort } from '../platform/ports.ts';
import { cachedCliPath } from '../platform/temporal-cli.ts';

const LIMIT_MS = 30 * 60_000;
const say = (l: string) => process.stdout.write(`first run: ${l}\n`);

const ifCacheEmpty = process.argv.includes('--if-cache-empty');
const machineCache = loadConfig({ ...process.env, VIGIL_DATA_DIR: os.tmpdir() }).cacheDir;
if (ifCacheEmpty && existsSync(cachedCliPath(machineCache))) {
  say(`the Temporal CLI is cached in ${machineCache}: nothing to check`);
  process.exit(0);
}
const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-first-run-'));
await fs.chmod(scratch, 0o755); // embedded Postgres runs as another user when we are root
const cacheDir = ifCacheEmpty ? machineCache : path.join(scratch, 'cache');
const port = await freePort();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  VIGIL_CACHE_DIR: cacheDir,
  VIGIL_DATA_DIR: path.join(scratch, 'data'),
  PORT: String(port),
  TEMPORAL_PORT: String(await freePort()),
  TEMPORAL_UI_PORT: String(await freePort()),
  VIGIL_DISPATCHER_METRICS_PORT: '0',
  VIGIL_WORKER_METRICS_PORT: '0',
};
delete env.DATABASE_URL;
delete env.TEMPORAL_ADDRESS;
delete env.TEMPORAL_CLI;

say(`npm start with an empty cache ${cacheDir} (the Temporal CLI is built first: minutes)`);
const t0 = Date.now();
const child = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
// npm dies by Ctrl-C at once; the platform's processes hold the pipes until they have all stopped.
const treeGone = Promise.all([child.stdout, child.stderr].map((p) => new Promise((r) => p.once('close', r))));
let out = '';
const ready = new Promise<void>((resolve, reject) => {
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    for (const line of text.split('\n')) if (line.trim()) say(`| ${line}`);
    if (out.includes('Vigil is ready in')) resolve();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  void exited.then((code) => reject(new Error(`npm start exited with ${code} before it was ready`)));
  setTimeout(() => reject(new Error(`not ready after ${LIMIT_MS / 60_000} minutes`)), LIMIT_MS).unref();
});

let failed: string | undefined;
try {
  await ready;
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  if (r.status !== 200) failed = `/readyz answered ${r.status}: ${await r.text()}`;
  else say(`ready in ${((Date.now() - t0) / 1000).toFixed(0)} s, /readyz 200`);
  // The pages it printed links to, and the script each loads (the token stays in the fragment).
  for (const [page, script] of [
    ['console/', 'app.js'],
    ['examples/workbench/', 'vigil-workbench.js'],
  ] as const) {
    if (!new RegExp(`http://localhost:${port}/${page}#token=\\S+`).test(out)) failed ??= `no link to /${page} printed`;
    for (const url of [`/${page}`, `/${page}${script}`]) {
      const a = await fetch(`http://127.0.0.1:${port}${url}`);
      if (a.status !== 200) failed ??= `${url} answered ${a.status}`;
      else say(`${url} 200 (${(await a.text()).length} characters)`);
    }
  }
} catch (err) {
  failed = (err as Error).message;
}
// Ctrl-C as a terminal sends it: SIGINT to the whole process group (npm itself dies by it).
const readyAt = out.length;
process.kill(-child.pid!, 'SIGINT');
const code = await Promise.race([treeGone, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
const afterStop = out.slice(readyAt);
if (code === 'hung') {
  process.kill(-child.pid!, 'SIGKILL');
  failed ??= 'npm start did not stop within 60 s of Ctrl-C';
} else if (!failed && (!afterStop.includes('"msg":"stopped"') || /exited; stopping|^\s+at /m.test(afterStop))) {
  failed = 'npm start did not stop cleanly on Ctrl-C (see the lines above)';
}
await fs.rm(scratch, { recursive: true, force: true });
if (failed) {
  say(`FAILED: ${failed}`);
  process.exit(1);
}
say('passed');
