// Replays test/histories/**/*.json against the workflow bundle given as argv[2] (or a fresh bundle):
// today's recordings and, under engine-1/, those of workflow code from before the facts-first
// engine, which running workflows still have (README "Upgrading").
// Runs in its own Node process: the worker's protobuf classes must not pass through vitest's loader.
// Prints one line per history and exits 1 on any nondeterminism.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../platform/config.ts';
import { bundleWorkflows, quietRuntime } from '../workers/agent-worker.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
quietRuntime(loadConfig().temporalLogLevel);
const code = process.argv[2] ? await fs.readFile(process.argv[2], 'utf8') : (await bundleWorkflows()).code;
const files = (await fs.readdir(dir, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
const histories = await Promise.all(
  files.map(async (f) => ({
    workflowId: f,
    history: JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as { events?: { eventType?: string }[] },
  })),
);
let failed = 0;
// A run recorded before its first workflow task completed (e.g. one still waiting out the server's
// continue-as-new backoff: only WorkflowExecutionStarted) gives the replayer nothing to run, and it
// waits for a task forever. Report such a file instead of hanging.
const replayable = histories.filter((h) => {
  if (h.history.events?.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')) return true;
  failed++;
  process.stdout.write(`FAIL ${h.workflowId}: no completed workflow task in the history (recorded too early?)\n`);
  return false;
});
const watchdog = setTimeout(() => {
  process.stdout.write('FAIL replay did not finish within 60 s\n');
  process.exit(1);
}, 60_000);
for await (const r of Worker.runReplayHistories({ workflowBundle: { code } }, replayable)) {
  if (r.error) failed++;
  process.stdout.write(`${r.error ? 'FAIL' : 'ok'} ${r.workflowId}${r.error ? `: ${r.error.message}` : ''}\n`);
}
clearTimeout(watchdog);
process.exit(failed ? 1 : 0);
