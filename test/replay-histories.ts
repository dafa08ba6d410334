// Replays test/histories/*.json against the workflow bundle given as argv[2] (or a fresh bundle).
// Runs in its own Node process: the worker's protobuf classes must not pass through vitest's loader.
// Prints one line per history and exits 1 on any nondeterminism.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows, quietRuntime } from '../workers/agent-worker.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
quietRuntime();
const code = process.argv[2] ? await fs.readFile(process.argv[2], 'utf8') : (await bundleWorkflows()).code;
const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
const histories = await Promise.all(
  files.map(async (f) => ({ workflowId: f, history: JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as unknown })),
);
let failed = 0;
for await (const r of Worker.runReplayHistories({ workflowBundle: { code } }, histories)) {
  if (r.error) failed++;
  process.stdout.write(`${r.error ? 'FAIL' : 'ok'} ${r.workflowId}${r.error ? `: ${r.error.message}` : ''}\n`);
}
process.exit(failed ? 1 : 0);
