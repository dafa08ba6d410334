// The API document at /openapi.json describes every route the gateway serves, with its schemas,
// and docs/openapi.json (what downstream teams generate clients from) is that document.
// `npm run openapi` rewrites docs/openapi.json from the routes.
import fs from 'node:fs/promises';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../gateway/openapi.ts';
import { harnessGateway } from './gateway-helpers.ts';
import { createHarness, type Harness } from '../harness.ts';

const COMMITTED = new URL('../../docs/openapi.json', import.meta.url);

interface Operation {
  summary?: string;
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
  security?: unknown[];
}

describe('the OpenAPI document', () => {
  let h: Harness;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown> };
  };
  const routes: Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>[] = [];

  beforeAll(async () => {
    h = await createHarness('openapi');
    const app = harnessGateway(h, 'openapi-test-secret-0123456789');
    // Every route is added by a plugin, so this hook, added before the app loads, sees them all.
    app.addHook('onRoute', (r) => {
      if (r.method !== 'HEAD' && !r.schema?.hide) routes.push(r);
    });
    const res = await app.inject({ url: OPENAPI_PATH });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    await app.close();
  });
  afterAll(() => h?.close());

  it('has an operation with a summary and its answers for every route, and the params, query and body each route validates', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(routes.length).toBeGreaterThanOrEqual(18);
    for (const r of routes) {
      const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
      for (const method of [r.method].flat()) {
        const op = doc.paths[path]?.[method.toLowerCase()];
        const where = `${method} ${r.url}`;
        expect(op, where).toBeDefined();
        expect(op!.summary, where).toBeTruthy();
        expect(Object.keys(op!.responses ?? {}).length, where).toBeGreaterThan(0);
        for (const [, name] of r.url.matchAll(/:([A-Za-z]+)/g)) {
          expect(
            op!.parameters?.some((p) => p.in === 'path' && p.name === name),
            `${where}: path parameter ${name}`,
          ).toBe(true);
        }
        const schema = r.schema as { body?: unknown; querystring?: { properties?: object } } | undefined;
        if (schema?.body) expect(op!.requestBody, `${where}: body`).toBeDefined();
        for (const q of Object.keys(schema?.querystring?.properties ?? {})) {
          expect(
            op!.parameters?.some((p) => p.in === 'query' && p.name === q),
            `${where}: query ${q}`,
          ).toBe(true);
        }
        // Routes with roles take a bearer token, and say so.
        if (r.config && 'roles' in r.config) expect(op!.security, `${where}: security`).toEqual([{ bearer: [] }]);
      }
    }
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Id', 'Status', 'Error']));
  });

  it('is what docs/openapi.json holds (run `npm run openapi` after changing a route)', async () => {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.env.VIGIL_WRITE_OPENAPI === '1') await fs.writeFile(COMMITTED, text);
    expect(JSON.parse(await fs.readFile(COMMITTED, 'utf8'))).toEqual(doc);
  });
});
