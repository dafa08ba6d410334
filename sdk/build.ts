// The package's build (`npm run build -w @vigil/workbench-sdk`; `npm pack` runs it too): the SDK's
// modules as ES modules with declarations in dist/ (tsc, sdk/tsconfig.build.json), and the browser
// bundles in dist/browser/ (sdk/bundle.ts). Prints what it wrote on stderr (`npm pack --json` owns stdout).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILES, browserBundle, type BundleFormat } from './bundle.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, 'dist');

/**
 * tsc rewrites `./x.ts` to `./x.js` in the JavaScript it emits but not in declarations; a consumer
 * without `allowImportingTsExtensions` needs `.js` there too.
 */
async function rewriteDeclarationImports(): Promise<void> {
  for (const name of await fs.readdir(DIST)) {
    if (!name.endsWith('.d.ts')) continue;
    const file = path.join(DIST, name);
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace(/((?:from|import\()\s*'\.\.?\/[^']+)\.ts'/g, "$1.js'"));
  }
}

export async function buildPackage(log: (line: string) => void = () => {}): Promise<string> {
  const t0 = Date.now();
  await fs.rm(DIST, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(HERE, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] });
  await rewriteDeclarationImports();
  log(`modules and declarations: ${path.relative(process.cwd(), DIST)}/ (${Date.now() - t0} ms)`);
  await fs.mkdir(path.join(DIST, 'browser'));
  for (const format of Object.keys(BUNDLE_FILES) as BundleFormat[]) {
    const file = path.join(DIST, 'browser', BUNDLE_FILES[format]);
    const text = await browserBundle(format);
    await fs.writeFile(file, text);
    log(`browser bundle (${format}): ${path.relative(process.cwd(), file)} (${(text.length / 1024).toFixed(1)} KB)`);
  }
  return DIST;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPackage((line) => console.error(line)).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
