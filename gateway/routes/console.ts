// The operator console (README "Console"): a static page and its script, served on the API's own
// origin so the same bearer token and tenant scoping apply. The script is bundled from console/
// with esbuild when it is first asked for; the page, its stylesheet and the script are each made
// once per process and kept in memory. Nothing to build by hand, and nothing fetched from the
// internet, at install or at run time.
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import type { FastifyInstance, FastifyReply } from 'fastify';

const DIR = new URL('../../console/', import.meta.url);

/** Scripts and styles only from this origin; the API is the page's only connection. */
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const assets = new Map<string, Promise<string>>();

/** An asset made once per process; a failure is tried again on the next request. */
function once(name: string, make: () => Promise<string>): Promise<string> {
  let p = assets.get(name);
  if (!p) {
    p = make();
    assets.set(name, p);
    p.catch(() => assets.delete(name));
  }
  return p;
}

/** The console's script, bundled once. */
export const consoleBundle = (): Promise<string> =>
  once('app.js', async () => {
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

const file = (name: string) => once(name, () => readFile(new URL(name, DIR), 'utf8'));

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const hidden = { schema: { hide: true } };
  const send = async (reply: FastifyReply, type: string, body: Promise<string>) =>
    reply
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache')
      .type(type)
      .send(await body);

  app.get('/console', hidden, async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/', hidden, (_req, reply) => send(reply, 'text/html; charset=utf-8', file('index.html')));
  app.get('/console/app.css', hidden, (_req, reply) => send(reply, 'text/css; charset=utf-8', file('app.css')));
  app.get('/console/app.js', hidden, (_req, reply) => send(reply, 'text/javascript; charset=utf-8', consoleBundle()));
}
