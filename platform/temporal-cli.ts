import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Where the build of the CLI is kept in `cacheDir` (it may not exist yet). */
export function cachedCliPath(cacheDir: string): string {
  return path.join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

/**
 * The `temporal` CLI: TEMPORAL_CLI if set, else a build of `go install …@v1.5.1` cached in a
 * machine-wide directory (outside the work tree), built on first need with visible progress.
 */
export async function ensureTemporalCli(opts: {
  explicit?: string;
  cacheDir: string;
  progress?: (line: string) => void;
}): Promise<string> {
  const say = opts.progress ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (opts.explicit) {
    if (!existsSync(opts.explicit)) throw new Error(`TEMPORAL_CLI=${opts.explicit} does not exist`);
    return opts.explicit;
  }
  const bin = cachedCliPath(opts.cacheDir);
  const binDir = path.dirname(bin);
  if (existsSync(bin)) return bin;

  await fs.mkdir(binDir, { recursive: true });
  // Build into a scratch dir and rename, so an interrupted build never leaves a half binary.
  const scratch = await fs.mkdtemp(path.join(opts.cacheDir, '.build-'));
  say(
    `building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first time only; a few minutes) into ${binDir}`,
  );
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    let child;
    try {
      child = spawn('go', ['install', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
        // A static binary unless the caller's environment says otherwise.
        env: { CGO_ENABLED: '0', ...process.env, GOBIN: scratch },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(err);
      return;
    }
    const tail: string[] = [];
    let downloads = 0;
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (line.startsWith('go: downloading')) downloads++;
        else say(`  go: ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const tick = setInterval(
      () => say(`  … still building (${Math.round((Date.now() - started) / 1000)} s, ${downloads} modules downloaded)`),
      15_000,
    );
    child.on('error', (err) => {
      clearInterval(tick);
      reject(new Error(`cannot run go (is Go installed and on PATH?): ${err.message}`));
    });
    child.on('close', (code) => {
      clearInterval(tick);
      if (code === 0) resolve();
      else
        reject(
          new Error(`go install ${MODULE}@${TEMPORAL_CLI_VERSION} failed with exit code ${code}:\n${tail.join('\n')}`),
        );
    });
  });
  await fs.rename(path.join(scratch, 'temporal'), bin);
  await fs.rm(scratch, { recursive: true, force: true });
  say(`built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)} s`);
  return bin;
}
