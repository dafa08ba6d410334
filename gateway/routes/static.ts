// Pages the gateway serves itself, on the API's own origin so the same bearer token and tenant
// scoping apply: the operator console (console.ts) and the example workbench (examples.ts). Each
// asset is read or bundled once per process, when first asked for, and kept in memory. Nothing to
// build by hand, and nothing fetched from the internet, at install or at run time.
import { readFile } from 'node:fs/promises';
import type { FastifyReply } from 'fastify';

/** Scripts and styles only from this origin; the API (and its websocket) is the page's only connection. */
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Routes of pages are not part of the API's OpenAPI document. */
export const hidden = { schema: { hide: true } } as const;

const assets = new Map<string, Promise<string>>();

/** An asset made once per process; a failure is tried again on the next request. */
export function once(key: string, make: () => Promise<string>): Promise<string> {
  let p = assets.get(key);
  if (!p) {
    p = make();
    assets.set(key, p);
    p.catch(() => assets.delete(key));
  }
  return p;
}

/** A file of a page's folder, read once. */
export const pageFile = (dir: URL, name: string): Promise<string> =>
  once(new URL(name, dir).href, () => readFile(new URL(name, dir), 'utf8'));

const TYPES = { html: 'text/html', css: 'text/css', js: 'text/javascript' } as const;

/** Sends an asset with the pages' content security policy; `no-cache` so a new version shows on reload. */
export async function sendAsset(reply: FastifyReply, type: keyof typeof TYPES, body: Promise<string>) {
  return reply
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-cache')
    .type(`${TYPES[type]}; charset=utf-8`)
    .send(await body);
}
