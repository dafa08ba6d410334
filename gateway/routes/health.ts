// Anonymous operations routes: liveness, readiness (what is down, never why: the reason goes to
// the log) and the Prometheus metrics of this gateway.
import type { FastifyInstance } from 'fastify';
import { ping } from '../../db/pool.ts';
import { describeProblem, missingSearchAttributes } from '../../platform/temporal-setup.ts';
import type { GatewayDeps } from '../http.ts';
import { withDeadline } from '../temporal-deadline.ts';

type Check = 'ok' | 'down';

/**
 * How long /readyz trusts its last look at the namespace's search attributes. They change only when
 * someone runs `npm run temporal:setup` (or removes one), so probes every few seconds need not ask
 * Temporal each time; after a setup run /readyz turns green within this.
 */
const SEARCH_ATTRIBUTES_TTL_MS = 30_000;

export async function healthRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  const core = app.vigil;

  // The last answer (names of attributes missing or of the wrong type) and the request in flight,
  // shared by concurrent probes. A failed request is not kept: the next probe asks again.
  let known: { at: number; missing: string[] } | undefined;
  let asking: Promise<string[]> | undefined;
  const searchAttributesMissing = (): Promise<string[]> => {
    if (known && Date.now() - known.at < SEARCH_ATTRIBUTES_TTL_MS) return Promise.resolve(known.missing);
    asking ??= missingSearchAttributes(d.temporal.connection, d.namespace)
      .then((problems) => {
        known = { at: Date.now(), missing: problems.map((p) => p.name) };
        if (problems.length) {
          core.log.warn(
            { namespace: d.namespace, missing: problems.map(describeProblem) },
            'readyz: search attributes missing; npm run temporal:setup registers them',
          );
        }
        return known.missing;
      })
      .finally(() => {
        asking = undefined;
      });
    return asking;
  };

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
      },
    },
    async () => ({ ok: true }),
  );

  const READY = {
    type: 'object',
    properties: {
      ready: { type: 'boolean' },
      checks: {
        type: 'object',
        properties: {
          postgres: { type: 'string' },
          temporal: { type: 'string' },
          worker: { type: 'string' },
          searchAttributes: { type: 'string' },
        },
      },
      missing: {
        type: 'array',
        items: { type: 'string' },
        description:
          'Search attributes the namespace lacks or has with another type (npm run temporal:setup); absent when none are',
      },
    },
  } as const;
  app.get(
    '/readyz',
    {
      schema: {
        summary: "Readiness: Postgres, Temporal, a worker polling the task queue and the namespace's search attributes",
        response: { 200: READY, 503: READY },
      },
    },
    async (_req, reply) => {
      const checks: Record<'postgres' | 'temporal' | 'worker' | 'searchAttributes', Check> = {
        postgres: 'down',
        temporal: 'down',
        worker: 'down',
        searchAttributes: 'down',
      };
      let missing: string[] = [];
      try {
        await ping(d.pool);
        checks.postgres = 'ok';
      } catch (err) {
        core.log.warn({ err }, 'readyz: postgres is down');
      }
      // Both Temporal questions under one deadline, each answered on its own.
      const [tq, attributes] = await withDeadline(d.temporal, core.tuning.temporalTimeoutMs, () =>
        Promise.allSettled([
          d.temporal.workflowService.describeTaskQueue({
            namespace: d.namespace,
            taskQueue: { name: d.taskQueue },
            taskQueueType: 1,
          }),
          searchAttributesMissing(),
        ]),
      );
      if (tq.status === 'fulfilled') {
        checks.temporal = 'ok';
        checks.worker = (tq.value.pollers?.length ?? 0) > 0 ? 'ok' : 'down';
      } else {
        core.log.warn({ err: tq.reason }, 'readyz: temporal is down');
      }
      // Like the worker, the attributes count only while Temporal answers (a remembered 'ok' does not
      // vouch for a Temporal that is down now).
      if (attributes.status === 'fulfilled') {
        missing = attributes.value;
        if (missing.length === 0 && checks.temporal === 'ok') checks.searchAttributes = 'ok';
      } else if (checks.temporal === 'ok') {
        // Temporal answers but does not list them (no permission to?): down, and the reason logged.
        core.log.warn({ err: attributes.reason }, 'readyz: cannot list search attributes');
      }
      const ready = Object.values(checks).every((v) => v === 'ok');
      return reply.code(ready ? 200 : 503).send(missing.length ? { ready, checks, missing } : { ready, checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: { summary: 'Prometheus metrics of this gateway (text exposition format)', produces: ['text/plain'] },
    },
    async (_req, reply) => reply.type(core.metrics.registry.contentType).send(await core.metrics.registry.metrics()),
  );
}
