// resolveRule on real Postgres agrees with the pure pickRule over all of the tenant's rules: the
// SQL prefilter never drops a rule that could win, and versions move with every upsert.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAgent } from '../../db/agents.ts';
import { listRules, pickRule, plainRule, resolveRule, upsertRule, type RuleInput } from '../../db/rules.ts';
import { DEFAULT_RULE } from '../../workflows/model.ts';
import { createHarness, type Harness } from '../harness.ts';

const sub = (xs: string[]) => fc.subarray(xs, { minLength: 1 });
const scopeArb = fc.record(
  {
    businessLine: fc.constantFrom('sales', 'support'),
    skillGroups: sub(['sg-1', 'sg-2', 'sg-3']),
    channels: sub(['chat', 'voice']),
  },
  { requiredKeys: [] },
);
const rulesArb = fc.array(
  fc.record({ scope: scopeArb, enabled: fc.boolean(), idle: fc.integer({ min: 1, max: 60 }) }),
  { maxLength: 8 },
);
const agentArb = fc.record({
  businessLine: fc.constantFrom('sales', 'support'),
  skillGroups: fc.subarray(['sg-1', 'sg-2', 'sg-3']),
  channels: fc.subarray(['chat', 'voice']),
});

describe('rule resolution in Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('rules');
  });
  afterAll(async () => {
    await h?.close();
  });

  it("resolveRule picks what pickRule picks from all the tenant's rules", async () => {
    await fc.assert(
      fc.asyncProperty(rulesArb, agentArb, async (rules, agent) => {
        const tenant = `${h.tenant}-${randomUUID().slice(0, 8)}`;
        for (const [i, r] of rules.entries()) {
          await upsertRule(h.pool, tenant, `r${i}`, {
            scope: r.scope,
            enabled: r.enabled,
            windows: { idleAfterNoTaskSec: r.idle },
          });
        }
        await upsertAgent(h.pool, tenant, 'a', agent, 'local');
        const expected = pickRule(await listRules(h.pool, tenant), agent);
        expect(await resolveRule(h.pool, tenant, 'a')).toEqual(expected ? plainRule(expected) : DEFAULT_RULE);
      }),
      { numRuns: 40 },
    );
  });

  it("follows a rule's new version and falls back when it is disabled", async () => {
    const tenant = `${h.tenant}-versions`;
    await upsertAgent(h.pool, tenant, 'a', { businessLine: 'sales', skillGroups: ['sg-1'] }, 'local');
    const rule: RuleInput = { scope: { skillGroups: ['sg-1'] }, windows: { idleAfterNoTaskSec: 20 } };
    await upsertRule(h.pool, tenant, 'wide', {});
    await upsertRule(h.pool, tenant, 'sg', rule);
    expect(await resolveRule(h.pool, tenant, 'a')).toMatchObject({
      ruleId: 'sg',
      version: 1,
      windows: { idleAfterNoTaskSec: 20 },
    });
    await upsertRule(h.pool, tenant, 'sg', { ...rule, windows: { idleAfterNoTaskSec: 25 } });
    expect(await resolveRule(h.pool, tenant, 'a')).toMatchObject({
      ruleId: 'sg',
      version: 2,
      windows: { idleAfterNoTaskSec: 25 },
    });
    await upsertRule(h.pool, tenant, 'sg', { ...rule, enabled: false });
    expect(await resolveRule(h.pool, tenant, 'a')).toMatchObject({ ruleId: 'wide', version: 1 });
    expect(await resolveRule(h.pool, tenant, 'nobody')).toEqual(DEFAULT_RULE);
  });
});
