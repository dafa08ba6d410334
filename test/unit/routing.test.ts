// Task-queue routing (workflows/routing.ts) and its configuration (platform/config.ts): which queue
// an agent's workflow runs on, which queues a worker polls, and the decision metrics' triggers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { decisionTrigger } from '../../workers/worker-metrics.ts';
import { DEFAULT_RULE, type Candidate, type Facts } from '../../workflows/model.ts';
import { agentTaskQueue, lineLabel, NO_ROUTING, workerTaskQueues, type Routing } from '../../workflows/routing.ts';

const idArb = fc.stringMatching(/^[A-Za-z0-9._@+-]{1,12}$/);
const routingArb = fc.record({ regional: fc.boolean(), isolatedLines: fc.uniqueArray(idArb, { maxLength: 4 }) });

describe('task-queue routing', () => {
  it('keeps every agent on the base queue without configuration', () => {
    fc.assert(
      fc.property(idArb, fc.string(), (region, businessLine) => {
        expect(agentTaskQueue('vigil-agents', { region, businessLine })).toBe('vigil-agents');
        expect(agentTaskQueue('vigil-agents', { region, businessLine }, NO_ROUTING)).toBe('vigil-agents');
      }),
    );
    expect(workerTaskQueues('vigil-agents', 'local')).toEqual([{ queue: 'vigil-agents', lane: '*' }]);
  });

  it('splits by region and isolated line', () => {
    const r: Routing = { regional: true, isolatedLines: ['sales'] };
    expect(agentTaskQueue('q', { region: 'east', businessLine: 'sales' }, r)).toBe('q@east/sales');
    expect(agentTaskQueue('q', { region: 'east', businessLine: 'support' }, r)).toBe('q@east');
    expect(agentTaskQueue('q', { region: 'east', businessLine: 'sales' }, { ...r, regional: false })).toBe('q/sales');
    expect(workerTaskQueues('q', 'east', r)).toEqual([
      { queue: 'q', lane: '*' },
      { queue: 'q@east', lane: '*' },
      { queue: 'q@east/sales', lane: 'sales' },
    ]);
    expect(workerTaskQueues('q', 'east', r, ['sales'])).toEqual([{ queue: 'q@east/sales', lane: 'sales' }]);
    expect(workerTaskQueues('q', 'east', r, ['*'])).toEqual([
      { queue: 'q', lane: '*' },
      { queue: 'q@east', lane: '*' },
    ]);
  });

  it("polls every agent's queue: each agent of the region is on exactly one queue its region's workers poll", () => {
    fc.assert(
      fc.property(routingArb, idArb, idArb, fc.oneof(idArb, fc.constant('')), (routing, region, other, line) => {
        const polled = workerTaskQueues('base', region, routing).map((q) => q.queue);
        expect(new Set(polled).size).toBe(polled.length);
        expect(polled).toContain(agentTaskQueue('base', { region, businessLine: line }, routing));
        // Another region's agents are never on this region's own queues (only the legacy base queue is shared).
        if (other !== region && routing.regional) {
          const theirs = agentTaskQueue('base', { region: other, businessLine: line }, routing);
          expect(polled).not.toContain(theirs);
        }
      }),
    );
  });

  it('labels metrics by isolated line, everything else as other', () => {
    const r: Routing = { regional: false, isolatedLines: ['sales'] };
    expect([lineLabel('sales', r), lineLabel('support', r), lineLabel(undefined, r), lineLabel('sales')]).toEqual([
      'sales',
      'other',
      'other',
      'other',
    ]);
  });
});

describe('routing configuration', () => {
  it('defaults to one queue for everything, and reads regions and lines when set', () => {
    expect(loadConfig({})).toMatchObject({
      region: 'local',
      taskQueue: 'vigil-agents',
      routing: { regional: false, isolatedLines: [] },
      workerLines: undefined,
    });
    expect(
      loadConfig({
        VIGIL_REGION: 'eu-west',
        VIGIL_REGIONAL_QUEUES: 'on',
        VIGIL_ISOLATED_LINES: ' sales, support ,sales',
        VIGIL_WORKER_LINES: 'sales,*',
      }),
    ).toMatchObject({
      region: 'eu-west',
      routing: { regional: true, isolatedLines: ['sales', 'support'] },
      workerLines: ['sales', '*'],
    });
    expect(loadConfig({ VIGIL_WORKER_LINES: '' }).workerLines).toBeUndefined();
  });

  it('refuses lines and regions outside the id grammar, and worker lines that have no queue', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ VIGIL_ISOLATED_LINES: 'sales,north america' }, /VIGIL_ISOLATED_LINES: north america: a line must be/],
      [{ VIGIL_ISOLATED_LINES: 'a/b' }, /VIGIL_ISOLATED_LINES/],
      [{ VIGIL_ISOLATED_LINES: 'sales', VIGIL_WORKER_LINES: 'support' }, /VIGIL_WORKER_LINES: support is not in/],
      [{ VIGIL_WORKER_LINES: 'sales' }, /VIGIL_WORKER_LINES: sales is not in/],
      [{ VIGIL_WORKER_LINES: ',' }, /VIGIL_WORKER_LINES: names no line/],
      [{ VIGIL_REGION: 'us east' }, /VIGIL_REGION/],
      [{ VIGIL_REGIONAL_QUEUES: 'yes' }, /VIGIL_REGIONAL_QUEUES/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
    }
  });
});

describe('decision triggers of the per-line metrics', () => {
  const rule = { ...DEFAULT_RULE, windows: { ...DEFAULT_RULE.windows, idleAfterNoTaskSec: 30 } };
  const facts = { rule } as Facts;
  const cand = (c: Partial<Candidate>): Candidate =>
    ({ actor: { kind: 'system', id: 'vigil' }, windowStart: 1_000_000, dedupeKey: 'k', ...c }) as Candidate;

  it("measures a window from its deadline, a request or a resume from the gateway's receipt", () => {
    expect(decisionTrigger(cand({ to: 'IDLE', cause: 'NO_TASK' }), facts)).toEqual({
      at: 1_030_000,
      trigger: 'window',
    });
    expect(decisionTrigger(cand({ to: 'ABNORMAL', cause: 'NO_ACTION' }), facts)).toEqual({
      at: 1_000_000 + rule.windows.abnormalAfterNoActionSec * 1000,
      trigger: 'window',
    });
    expect(decisionTrigger(cand({ to: 'OFFLINE', cause: 'ABNORMAL_TIMEOUT' }), facts)).toEqual({
      at: 1_000_000 + rule.windows.offlineAfterAbnormalSec * 1000,
      trigger: 'window',
    });
    expect(decisionTrigger(cand({ to: 'ONLINE', cause: 'ACTIVITY_RESUMED' }), facts)).toEqual({
      at: 1_000_000,
      trigger: 'resume',
    });
    const agent = { kind: 'agent', id: 'a' } as const;
    expect(
      decisionTrigger(cand({ to: 'BUSY', cause: 'AGENT_REQUEST', actor: agent, dedupeKey: 'req:1' }), facts),
    ).toEqual({ at: 1_000_000, trigger: 'request' });
    // Only the workflow knows when these began: not measured.
    expect(
      decisionTrigger(cand({ to: 'BUSY', cause: 'AGENT_REQUEST', actor: agent, dedupeKey: 'manual:1' }), facts),
    ).toBe(undefined);
    expect(decisionTrigger(cand({ to: 'ONLINE', cause: 'TASK_ASSIGNED' }), facts)).toBe(undefined);
  });
});
