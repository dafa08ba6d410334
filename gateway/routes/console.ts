// The operator console (README "Console"): a static page and its script, bundled from console/ with
// esbuild when it is first asked for (gateway/routes/static.ts).
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { hidden, once, pageFile, sendAsset } from './static.ts';

const DIR = new URL('../../console/', import.meta.url);

/** The console's script, bundled once. */
const consoleBundle = (): Promise<string> =>
  once('console/app.js', async () => {
    const r = await build({
      entryPoints: [new URL('main.tsx', DIR).pathname],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      minify: true,
      jsx: 'automatic',
      jsxImportSource: 'preact',
      logLevel: 'silent',
    });
    return r.outputFiles[0]!.text;
  });

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  app.get('/console', hidden, async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/', hidden, (_req, reply) => sendAsset(reply, 'html', pageFile(DIR, 'index.html')));
  app.get('/console/app.css', hidden, (_req, reply) => sendAsset(reply, 'css', pageFile(DIR, 'app.css')));
  app.get('/console/app.js', hidden, (_req, reply) => sendAsset(reply, 'js', consoleBundle()));
}
