import { describe, expect, it } from 'vitest';
import { afterFailure } from '../../workers/lanes/retry.ts';

describe('lane retry policy', () => {
  const p = { maxAttempts: 5, baseMs: 1_000, maxMs: 6_000 };

  it('backs off exponentially with jitter between half and all of the ceiling, capped', () => {
    expect(afterFailure(1, p, () => 0)).toEqual({ dead: false, delayMs: 500 });
    expect(afterFailure(1, p, () => 1)).toEqual({ dead: false, delayMs: 1_000 });
    expect(afterFailure(3, p, () => 0.5)).toEqual({ dead: false, delayMs: 3_000 });
    expect(afterFailure(4, p, () => 1)).toEqual({ dead: false, delayMs: 6_000 });
  });

  it('dead-letters at the last attempt', () => {
    expect(afterFailure(5, p).dead).toBe(true);
    expect(afterFailure(9, p).dead).toBe(true);
  });
});
