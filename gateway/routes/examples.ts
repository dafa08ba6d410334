// The example workbench (README "Workbench SDK"): examples/workbench/ as it is, plus the SDK's
// browser bundle that its script imports, made from sdk/ by the same function as the package's build
// (sdk/bundle.ts). `npm start` prints a link to it with an agent's token.
import type { FastifyInstance } from 'fastify';
import { BUNDLE_FILES, browserBundle } from '../../sdk/bundle.ts';
import { hidden, once, pageFile, sendAsset } from './static.ts';

const DIR = new URL('../../examples/workbench/', import.meta.url);
const BASE = '/examples/workbench';

export async function exampleRoutes(app: FastifyInstance): Promise<void> {
  app.get(BASE, hidden, async (_req, reply) => reply.redirect(`${BASE}/`));
  app.get(`${BASE}/`, hidden, (_req, reply) => sendAsset(reply, 'html', pageFile(DIR, 'index.html')));
  app.get(`${BASE}/app.css`, hidden, (_req, reply) => sendAsset(reply, 'css', pageFile(DIR, 'app.css')));
  app.get(`${BASE}/app.js`, hidden, (_req, reply) => sendAsset(reply, 'js', pageFile(DIR, 'app.js')));
  app.get(`${BASE}/${BUNDLE_FILES.esm}`, hidden, (_req, reply) =>
    sendAsset(
      reply,
      'js',
      once('sdk/esm', () => browserBundle('esm')),
    ),
  );
}
