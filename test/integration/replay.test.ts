// Replays recorded agent-workflow histories against today's workflow code: a non-deterministic
// change fails here. Re-record after an intended change with `VIGIL_RECORD_HISTORIES=1 npm test`
// (the engine tests write test/histories/*.json via `temporal workflow show -o json`), then
// review and commit the files.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, inject, it } from 'vitest';

describe('recorded histories replay deterministically', () => {
  it('replays every history in test/histories without a nondeterminism error', () => {
    const files = (fs.readdirSync('test/histories', { recursive: true }) as string[]).filter((f) =>
      f.endsWith('.json'),
    );
    // Engine 1's five recordings stay for as long as workflows started by that code may run.
    expect(files.filter((f) => f.startsWith('engine-1/'))).toHaveLength(5);
    expect(files.length).toBeGreaterThanOrEqual(11);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/replay-histories.ts', inject('workflowBundlePath')],
      { encoding: 'utf8', timeout: 90_000 },
    );
    const lines = r.stdout.trim().split('\n');
    expect(
      lines.filter((l) => !l.startsWith('ok ')),
      r.stderr,
    ).toEqual([]);
    expect(lines).toHaveLength(files.length);
    expect(r.status).toBe(0);
  });
});
