import { describe, expect, it } from 'vitest';
import { describeChecks, NotReadyError, waitUntilReady } from '../../platform/readiness.ts';

/** A virtual clock: sleeping advances it. */
function clock(start: number) {
  let t = start;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => void (t += ms) };
}

describe('waiting for /readyz', () => {
  it('counts the deadline from the start of the wait, not from process start (a 207 s first build does not eat it)', async () => {
    const c = clock(0);
    c.advance(207_000); // the CLI build, before the wait begins
    let calls = 0;
    const waited = await waitUntilReady({
      timeoutMs: 180_000,
      now: c.now,
      sleep: c.sleep,
      probe: async () => ({ ready: ++calls > 20 }),
    });
    expect(waited).toBe(20 * 500);
  });

  it('gives up timeoutMs after the wait began, naming what is still down, and reports progress on the way', async () => {
    const c = clock(1_000_000);
    const progress: [number, string | undefined][] = [];
    const wait = waitUntilReady({
      timeoutMs: 60_000,
      now: c.now,
      sleep: c.sleep,
      progressEveryMs: 10_000,
      probe: async () => ({ ready: false, detail: 'worker down' }),
      onProgress: (ms, d) => progress.push([ms, d]),
    });
    await expect(wait).rejects.toThrow(NotReadyError);
    await expect(wait).rejects.toThrow('not ready after 60 s of waiting: worker down');
    expect(c.now() - 1_000_000).toBe(60_000);
    expect(progress.map(([ms]) => ms)).toEqual([10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(progress.every(([, d]) => d === 'worker down')).toBe(true);
  });

  it('keeps polling while the gateway does not answer at all', async () => {
    const c = clock(0);
    let calls = 0;
    const waited = await waitUntilReady({
      timeoutMs: 10_000,
      now: c.now,
      sleep: c.sleep,
      probe: async () => {
        if (++calls < 4) throw new Error('ECONNREFUSED');
        return { ready: true };
      },
    });
    expect(waited).toBe(1_500);
  });

  it('reads what is down from a /readyz body', () => {
    expect(describeChecks({ ready: false, checks: { postgres: 'ok', temporal: 'ok', worker: 'down' } })).toBe(
      'worker down',
    );
    expect(
      describeChecks({
        ready: false,
        checks: { postgres: 'ok', temporal: 'ok', worker: 'down', searchAttributes: 'down' },
        missing: ['AgentStatus', 'SkillGroups'],
      }),
    ).toBe(
      'worker down, searchAttributes down (missing AgentStatus, SkillGroups; npm run temporal:setup registers them)',
    );
    expect(
      describeChecks({
        ready: false,
        checks: { postgres: 'ok', temporal: 'down', worker: 'down', searchAttributes: 'down' },
      }),
    ).toBe('temporal down, worker down, searchAttributes down');
    expect(describeChecks({ ready: true, checks: { postgres: 'ok' } })).toBeUndefined();
    expect(describeChecks(undefined)).toBeUndefined();
  });
});
