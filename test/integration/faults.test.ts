// The fast part of the fault suite (`npm run test:faults` runs it longer, with more agents, and
// prints the table in the README): every scenario, a few agents, short outages; nothing lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS, type Counts } from '../faults/scenarios.ts';
import { startFaultStack, type FaultStack } from '../faults/stack.ts';

const FAST = { agents: 4, trafficMs: 3000, outageMs: 4000 };

describe('faults: nothing accepted is lost, nothing is duplicated', () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack('fast');
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  for (const [name, run] of Object.entries(SCENARIOS)) {
    it(
      name,
      async () => {
        const c: Counts = await run(stack, FAST);
        expect(
          c.checks.filter((x) => !x.startsWith('ok')),
          JSON.stringify(c),
        ).toEqual([]);
        expect(c.accepted).toBeGreaterThan(0);
        expect(c.requests).toBeGreaterThan(0);
        expect(c.lost).toBe(0);
        expect(c.duplicates).toBe(0);
        expect(c.ok).toBe(true);
      },
      180_000,
    );
  }
});
