// The API document: generated from the route schemas by @fastify/swagger and served at
// /openapi.json, so downstream teams generate clients from it. docs/openapi.json is the copy in
// the repository (`npm run openapi` writes it); a test keeps it equal to what the routes say.
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export const OPENAPI_PATH = '/openapi.json';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Registers the generator before any route (it sees only routes added after it) and serves the document. */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil gateway',
        version,
        description:
          'The HTTP API of Vigil\'s gateway (docs/PROTOCOL.md "HTTP API"). The websocket `GET /v1/ws` is described in docs/PROTOCOL.md "Websocket GET /v1/ws".',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    // Shared schemas keep their names (`Id`, `Status`, `Error`) as components.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // Routes with roles take a bearer token; the roles are listed on the operation.
    transform: ({ schema, url, route }) => {
      const roles = route.config?.roles;
      if (!roles) return { schema, url };
      const description = [schema?.description, `Roles: ${roles.join(', ')}.`].filter(Boolean).join(' ');
      return { schema: { ...schema, description, security: [{ bearer: [] }] }, url };
    },
  });
  void app.register(async (scope) => {
    scope.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
  });
}
