import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pickRule, ruleMatches, specificity, type RuleRow, type RuleSubject } from '../../db/rules.ts';

type Candidate = Pick<RuleRow, 'ruleId' | 'scope' | 'enabled' | 'updatedAt'>;

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const rule = (ruleId: string, scope: RuleRow['scope'] = {}, extra: Partial<Candidate> = {}): Candidate => ({
  ruleId,
  scope,
  enabled: true,
  updatedAt: new Date(T0).toISOString(),
  ...extra,
});
const agent: RuleSubject = { businessLine: 'sales', skillGroups: ['sg-en', 'sg-vip'], channels: ['chat'] };
const picked = (rules: Candidate[], a = agent) => pickRule(rules, a)?.ruleId;

describe('pickRule: tenant → business line → skill group → channel, most specific enabled rule wins', () => {
  it('uses the tenant-wide rule when nothing narrower matches', () => {
    expect(picked([rule('tenant'), rule('other-bl', { businessLine: 'support' })])).toBe('tenant');
  });

  it('prefers a business-line rule to the tenant-wide one', () => {
    expect(picked([rule('tenant'), rule('bl', { businessLine: 'sales' })])).toBe('bl');
  });

  it('prefers a skill-group rule to a business-line rule', () => {
    expect(
      picked([rule('bl', { businessLine: 'sales' }), rule('sg', { skillGroups: ['sg-vip'] }), rule('tenant')]),
    ).toBe('sg');
  });

  it('prefers a channel rule to a skill-group rule, even one that also names the business line', () => {
    const rules = [
      rule('sg+bl', { businessLine: 'sales', skillGroups: ['sg-en'] }),
      rule('ch', { channels: ['chat'] }),
    ];
    expect(picked(rules)).toBe('ch');
  });

  it('adds up scope parts: skill group + business line beats skill group alone', () => {
    expect(
      picked([
        rule('sg', { skillGroups: ['sg-en'] }),
        rule('sg+bl', { businessLine: 'sales', skillGroups: ['sg-en'] }),
      ]),
    ).toBe('sg+bl');
  });

  it('matches skill groups and channels by overlap with the agent', () => {
    expect(picked([rule('tenant'), rule('sg', { skillGroups: ['sg-fr', 'sg-vip'] })])).toBe('sg');
    expect(picked([rule('tenant'), rule('sg', { skillGroups: ['sg-fr'] })])).toBe('tenant');
    expect(picked([rule('tenant'), rule('ch', { channels: ['voice'] })])).toBe('tenant');
  });

  it('never matches a rule scoped to an empty skill-group list', () => {
    expect(ruleMatches(rule('empty', { skillGroups: [] }), agent)).toBe(false);
  });

  it('ignores disabled rules, however specific', () => {
    const rules = [rule('tenant'), rule('ch', { channels: ['chat'] }, { enabled: false })];
    expect(picked(rules)).toBe('tenant');
  });

  it('breaks ties by the most recent update (a new version wins), then by rule id', () => {
    const older = rule('b', { businessLine: 'sales' }, { updatedAt: new Date(T0).toISOString() });
    const newer = rule('a2', { businessLine: 'sales' }, { updatedAt: new Date(T0 + 1000).toISOString() });
    expect(picked([older, newer])).toBe('a2');
    expect(picked([rule('b', { businessLine: 'sales' }), rule('a', { businessLine: 'sales' })])).toBe('a');
  });

  it('returns undefined when no rule matches (the caller falls back to the default rule)', () => {
    expect(pickRule([], agent)).toBeUndefined();
    expect(picked([rule('x', { businessLine: 'support' })])).toBeUndefined();
    expect(picked([rule('tenant')], { businessLine: '', skillGroups: [], channels: [] })).toBe('tenant');
  });
});

const names = { bl: ['sales', 'support'], sg: ['sg-1', 'sg-2', 'sg-3'], ch: ['chat', 'voice', 'mail'] };
const subArb = (xs: string[]) => fc.subarray(xs);
const scopeArb: fc.Arbitrary<RuleRow['scope']> = fc.record(
  { businessLine: fc.constantFrom(...names.bl), skillGroups: subArb(names.sg), channels: subArb(names.ch) },
  { requiredKeys: [] },
);
const rulesArb = fc.uniqueArray(
  fc.record({
    ruleId: fc.stringMatching(/^[a-z]{1,4}$/),
    scope: scopeArb,
    enabled: fc.boolean(),
    updatedAt: fc.integer({ min: 0, max: 5 }).map((s) => new Date(T0 + s * 1000).toISOString()),
  }),
  { selector: (r) => r.ruleId, maxLength: 12 },
);
const agentArb: fc.Arbitrary<RuleSubject> = fc.record({
  businessLine: fc.constantFrom(...names.bl),
  skillGroups: subArb(names.sg),
  channels: subArb(names.ch),
});

describe('pickRule properties', () => {
  it('picks an enabled matching rule, and one exists whenever it picks none', () => {
    fc.assert(
      fc.property(rulesArb, agentArb, (rules, a) => {
        const p = pickRule(rules, a);
        if (p) expect(p.enabled && ruleMatches(p, a)).toBe(true);
        else expect(rules.filter((r) => ruleMatches(r, a))).toEqual([]);
      }),
    );
  });

  it('no matching rule is more specific than the pick, nor equally specific and newer', () => {
    fc.assert(
      fc.property(rulesArb, agentArb, (rules, a) => {
        const p = pickRule(rules, a);
        for (const r of rules.filter((x) => ruleMatches(x, a))) {
          expect(specificity(r)).toBeLessThanOrEqual(specificity(p!));
          if (specificity(r) === specificity(p!))
            expect(Date.parse(r.updatedAt)).toBeLessThanOrEqual(Date.parse(p!.updatedAt));
        }
      }),
    );
  });

  it('does not depend on the order the database returns rules in', () => {
    fc.assert(
      fc.property(rulesArb, agentArb, fc.infiniteStream(fc.nat()), (rules, a, seeds) => {
        const shuffled = rules
          .map((r) => ({ r, k: seeds.next().value as number }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.r);
        expect(pickRule(shuffled, a)?.ruleId).toBe(pickRule(rules, a)?.ruleId);
      }),
    );
  });

  it('adding a disabled or non-matching rule changes nothing', () => {
    fc.assert(
      fc.property(rulesArb, agentArb, scopeArb, fc.boolean(), (rules, a, scope, disable) => {
        const extra = {
          ruleId: 'zzzzz',
          scope: disable ? scope : { ...scope, businessLine: 'nowhere' },
          enabled: !disable,
          updatedAt: new Date(T0 + 10_000).toISOString(),
        };
        expect(pickRule([...rules, extra], a)?.ruleId).toBe(pickRule(rules, a)?.ruleId);
      }),
    );
  });

  it('narrowing a winning rule further to the agent keeps it the winner', () => {
    fc.assert(
      fc.property(rulesArb, agentArb, (rules, a) => {
        const p = pickRule(rules, a);
        fc.pre(p !== undefined && a.channels.length > 0);
        const narrowed = rules.map((r) =>
          r === p ? { ...r, scope: { ...r.scope, businessLine: a.businessLine, channels: [a.channels[0]!] } } : r,
        );
        expect(pickRule(narrowed, a)?.ruleId).toBe(p.ruleId);
      }),
    );
  });
});
