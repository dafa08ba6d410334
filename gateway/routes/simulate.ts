// The rule simulator's routes (README "Rule simulator"): start a simulation of a proposed rule over
// a range of the activity record, and read its progress and summary. A simulation is a Temporal
// workflow (workflows/simulate.ts) named `simulate:<tenant>:<id>`, so the tenant is in its name.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { ProposedRule } from '../../simulator/run.ts';
import { simulationProgress } from '../../workflows/contract.ts';
import { DEFAULT_RULE } from '../../workflows/model.ts';
import type { simulationWorkflow } from '../../workflows/simulate.ts';
import { authenticate, fail, type GatewayDeps } from '../http.ts';
import { withDeadline } from '../temporal-deadline.ts';
import { AUTHED, errors, ID, NO_QUERY } from '../schemas.ts';
import { RULE_INPUT } from './admin.ts';

const ISO = { type: 'string', format: 'date-time' } as const;
const simulationId = (tenant: string, id: string) => `simulate:${tenant}:${id}`;

export async function simulateRoutes(app: FastifyInstance, d: GatewayDeps): Promise<void> {
  app.addHook('onRequest', authenticate);
  const inTime = <T>(fn: () => Promise<T>) => withDeadline(d.temporal, app.vigil.tuning.temporalTimeoutMs, fn);

  app.post<{ Body: { rule: ProposedRule; from: string; to: string } }>(
    '/v1/rules/simulate',
    {
      config: { roles: ['admin'] },
      schema: {
        summary:
          "Simulates a proposed rule (new, or an edit of one with the same ruleId) over a range of the activity record, next to the rules in force; answers the simulation's id (202)",
        querystring: NO_QUERY,
        body: {
          type: 'object',
          required: ['rule', 'from', 'to'],
          additionalProperties: false,
          properties: {
            rule: {
              ...RULE_INPUT,
              required: ['ruleId'],
              properties: { ...RULE_INPUT.properties, ruleId: ID },
            },
            from: ISO,
            to: ISO,
          },
        },
        response: {
          202: {
            type: 'object',
            properties: { simulationId: { type: 'string' }, status: { type: 'string' } },
          },
          ...AUTHED,
        },
      },
    },
    async (req, reply) => {
      const from = Date.parse(req.body.from);
      const to = Date.parse(req.body.to);
      const keepDays = app.vigil.tuning.recordDays;
      if (!(from < to)) return fail(reply, 400, 'BAD_REQUEST', 'body/from must be before body/to');
      // The same rule as PUT /v1/rules/:ruleId would take: the reminder comes before ABNORMAL.
      const w = { ...DEFAULT_RULE.windows, ...req.body.rule.windows };
      if (w.remindAfterNoActionSec > w.abnormalAfterNoActionSec)
        return fail(
          reply,
          400,
          'BAD_REQUEST',
          `body/rule/windows/remindAfterNoActionSec (${w.remindAfterNoActionSec}) must not exceed abnormalAfterNoActionSec (${w.abnormalAfterNoActionSec})`,
        );
      if (to > Date.now() + 60_000) return fail(reply, 400, 'BAD_REQUEST', 'body/to must not be in the future');
      if (from < Date.now() - keepDays * 86_400_000)
        return fail(reply, 400, 'BAD_REQUEST', `body/from: the activity record goes back ${keepDays} days`);
      const { tenant } = req.principal!;
      const id = randomUUID();
      await inTime(() =>
        d.temporal.workflow.start<typeof simulationWorkflow>('simulationWorkflow', {
          taskQueue: d.taskQueue,
          workflowId: simulationId(tenant, id),
          args: [{ tenant, rule: req.body.rule, from, to }],
          workflowExecutionTimeout: '1 hour',
        }),
      );
      return reply.code(202).send({ simulationId: id, status: `/v1/rules/simulations/${id}` });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/rules/simulations/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: "A simulation's progress, and its summary once done",
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', format: 'uuid' } },
        },
        querystring: NO_QUERY,
        response: {
          200: {
            type: 'object',
            properties: {
              state: { type: 'string', enum: ['running', 'done', 'failed'] },
              progress: { type: 'object', properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
              result: { type: 'object', additionalProperties: true },
              error: { type: 'string' },
            },
          },
          ...AUTHED,
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const handle = d.temporal.workflow.getHandle<typeof simulationWorkflow>(
        simulationId(req.principal!.tenant, req.params.id),
      );
      try {
        const desc = await inTime(() => handle.describe());
        if (desc.status.name === 'RUNNING')
          return { state: 'running', progress: await inTime(() => handle.query(simulationProgress)) };
        if (desc.status.name === 'COMPLETED') {
          const result = await inTime(() => handle.result());
          return { state: 'done', progress: { done: result.agents.simulated, total: result.agents.affected }, result };
        }
        return { state: 'failed', error: `the simulation ended ${desc.status.name.toLowerCase()}` };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return fail(reply, 404, 'NOT_FOUND', 'no such simulation');
        throw err;
      }
    },
  );
}
