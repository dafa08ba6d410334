// The SDK's browser bundles: one file with everything, for pages without a bundler. Made by the
// package's build (sdk/build.ts, into dist/browser/) and by the gateway, which serves the same
// bundle to the example workbench page (README "Workbench SDK").
//   esm     `import { WorkbenchClient } from './vigil-workbench.js'` in a module script
//   global  a classic script that defines `window.VigilWorkbench`
import { build } from 'esbuild';

export type BundleFormat = 'esm' | 'global';

/** File names in dist/browser/. */
export const BUNDLE_FILES: Record<BundleFormat, string> = {
  esm: 'vigil-workbench.js',
  global: 'vigil-workbench.global.js',
};

/** The global a classic script gets. */
export const GLOBAL_NAME = 'VigilWorkbench';

const ENTRY = new URL('./index.ts', import.meta.url).pathname;

/** The bundle's text (minified, ES2020 so the browsers of the last few years run it). */
export async function browserBundle(format: BundleFormat): Promise<string> {
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: format === 'esm' ? 'esm' : 'iife',
    globalName: format === 'global' ? GLOBAL_NAME : undefined,
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}
