import { describe, expect, it } from 'vitest';
import { layout } from '../../bench/loadgen.ts';
import { PRODUCTION, STRESS, expectedRate, windowMs } from '../../bench/mix.ts';
import { DEFAULT_RULE } from '../../workflows/model.ts';

describe('benchmark mixes', () => {
  it('the production mix sends the reference fleet’s rate (0.085 events/s per agent) with the default windows', () => {
    expect(expectedRate(PRODUCTION.behaviour)).toBeGreaterThan(0.075);
    expect(expectedRate(PRODUCTION.behaviour)).toBeLessThan(0.095);
    expect(PRODUCTION.rule.windows).toEqual(DEFAULT_RULE.windows);
    expect(windowMs(PRODUCTION, 'ABNORMAL')).toBe(600_000);
  });

  it('the stress mix sends about 3× that with windows compressed', () => {
    expect(expectedRate(STRESS.behaviour) / expectedRate(PRODUCTION.behaviour)).toBeGreaterThan(2);
    expect(windowMs(STRESS, 'IDLE')).toBe(10_000);
  });

  it('active agents act again before the reminder; silent ones stop long before it', () => {
    for (const mix of [PRODUCTION, STRESS]) {
      expect(mix.behaviour.burstGapSec[1]).toBeLessThan(mix.rule.windows.remindAfterNoActionSec);
      expect(mix.behaviour.silentAfterSec[1]).toBeLessThan(mix.rule.windows.idleAfterNoTaskSec);
    }
    const kinds = Array.from({ length: 10 }, (_, i) => PRODUCTION.behaviour.kindOf(i));
    expect(kinds.filter((k) => k === 'silent').length).toBeGreaterThan(0);
  });
});

describe('load layout', () => {
  it('keeps every process under its file limit and every source address under one 4-tuple space', () => {
    for (const agents of [1, 1000, 5000, 5001, 10_000, 20_000, 40_000, 50_000]) {
      const { shards, localAddresses } = layout(agents);
      expect(Math.ceil(agents / shards)).toBeLessThanOrEqual(5000);
      expect(agents / localAddresses.length).toBeLessThanOrEqual(10_000);
      expect(new Set(localAddresses).size).toBe(localAddresses.length);
    }
  });
});
