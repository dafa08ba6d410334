// Group commit on the all-good path: how many intake transactions and frames per second the
// gateway's IntakeWriter commits with W concurrent writers (each waits for its receipt before
// sending its next frame, as a workbench does). Real embedded Postgres, no Temporal.
//   npx tsx bench/intake-commit.ts [--writers 32] [--seconds 10] [--rounds 3]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureAgent } from '../db/agents.ts';
import { runMigrations } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { IntakeWriter } from '../gateway/intake.ts';
import { createLogger } from '../platform/log.ts';
import { freePort } from '../platform/ports.ts';
import { startEmbeddedPostgres } from '../platform/postgres.ts';

const { values } = parseArgs({
  options: {
    writers: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
  },
});
const writers = Number(values.writers);
const seconds = Number(values.seconds);

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-intake-bench-'));
await fs.chmod(dir, 0o755);
const pgs = await startEmbeddedPostgres(path.join(dir, 'pg'), await freePort(), createLogger('bench', 'warn'));
try {
  await runMigrations(pgs.url);
  const pool = createPool(pgs.url, 10);
  for (let w = 0; w < writers; w++) await ensureAgent(pool, 'bench', `agent-${w}`, 'local');
  for (let round = 1; round <= Number(values.rounds); round++) {
    const writer = new IntakeWriter(pool, `bench-${round}`);
    const end = Date.now() + seconds * 1000;
    let seq = 0;
    const lane = async (w: number) => {
      while (Date.now() < end) {
        const ts = Date.now();
        await writer.submit('bench', `agent-${w}`, [
          { reqId: `r${round}-${++seq}`, type: 100, ts },
          { reqId: `r${round}-${++seq}`, type: 1, ts },
        ]);
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: writers }, (_, w) => lane(w)));
    const s = (Date.now() - t0) / 1000;
    console.log(
      `round ${round}: ${(writer.stats.commits / s).toFixed(0)} commits/s, ${(writer.stats.frames / s).toFixed(0)} frames/s, ${(writer.stats.frames / writer.stats.commits).toFixed(1)} frames/commit`,
    );
  }
  await pool.end();
} finally {
  await pgs.stop();
  await fs.rm(dir, { recursive: true, force: true });
}
