import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coalescer, isCoalescable, type Batch } from '../../gateway/coalescer.ts';
import type { AgentEvent } from '../../workflows/model.ts';

const FLUSH = 1000;
let seq = 0;
const e = (type: number, deviceId = 'd1'): AgentEvent => ({ reqId: `r${++seq}`, type, ts: Date.now(), deviceId });

function setup() {
  const sent: { at: number; batch: Batch }[] = [];
  const c = new Coalescer({
    flushMs: () => FLUSH,
    send: async (batch) => {
      sent.push({ at: Date.now(), batch });
    },
  });
  return { c, sent };
}

describe('coalescer', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('sends state-changing events and the first action after a quiet period at once', async () => {
    const { c, sent } = setup();
    c.device('t', 'a', { deviceId: 'd1', connected: true, at: Date.now() });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    c.accept('t', 'a', [e(100)], 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2); // no action was sent yet: this one is the leading edge
    c.accept('t', 'a', [e(100)], 3);
    c.accept('t', 'a', [e(101)], 4);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(FLUSH);
    expect(sent).toHaveLength(3);
    // Only the latest action of the device is kept; both intake rows are covered.
    expect(sent[2]!.batch.events.map((x) => x.type)).toEqual([101]);
    expect(sent[2]!.batch.pendingIds).toEqual([3, 4]);
    // A ticket event is urgent even inside the interval, and takes the buffered click along.
    c.accept('t', 'a', [e(100)], 5);
    c.accept('t', 'a', [e(3)], 6);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(4);
    expect(sent[3]!.batch.events.map((x) => x.type)).toEqual([100, 3]);
  });

  it('sends device changes at once, together with buffered activity', async () => {
    const { c, sent } = setup();
    c.accept('t', 'a', [e(100)], 1);
    await vi.advanceTimersByTimeAsync(0);
    c.accept('t', 'a', [e(1)], 2);
    c.device('t', 'a', { deviceId: 'd2', connected: true, at: Date.now() });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.batch.devices).toHaveLength(1);
    expect(sent[1]!.batch.events.map((x) => x.type)).toEqual([1]);
  });

  it('keeps a batch whose signal failed and sends it again, in order', async () => {
    let fail = true;
    const sent: Batch[] = [];
    const c = new Coalescer({
      flushMs: () => FLUSH,
      send: async (b) => {
        if (fail) throw new Error('temporal down');
        sent.push(b);
      },
    });
    c.accept('t', 'a', [e(3)], 1);
    await vi.advanceTimersByTimeAsync(0);
    c.accept('t', 'a', [e(5)], 2);
    fail = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.events.map((x) => x.type)).toEqual([3, 5]);
    expect(sent[0]!.pendingIds).toEqual([1, 2]);
    expect(c.stats.failures).toBe(1);
  });

  it('property: nothing is lost, urgent events are never delayed, actions arrive within one flush interval, at most one trailing signal per interval', async () => {
    const types = fc.constantFrom(1, 2, 3, 4, 5, 100, 101, 102, 105);
    const step = fc.record({ gap: fc.integer({ min: 0, max: 1500 }), type: types, device: fc.constantFrom('d1', 'd2') });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        vi.setSystemTime(1_000_000);
        const { c, sent } = setup();
        const accepted: { ev: AgentEvent; at: number; id: number }[] = [];
        let id = 0;
        for (const s of steps) {
          await vi.advanceTimersByTimeAsync(s.gap);
          const ev = e(s.type, s.device);
          c.accept('t', 'a', [ev], ++id);
          accepted.push({ ev, at: Date.now(), id });
          await vi.advanceTimersByTimeAsync(0);
        }
        await vi.advanceTimersByTimeAsync(FLUSH * 2);
        const sentIds = sent.flatMap((s) => s.batch.pendingIds);
        expect(new Set(sentIds)).toEqual(new Set(accepted.map((a) => a.id)));
        const sentAt = new Map<string, number>();
        for (const s of sent) for (const x of s.batch.events) sentAt.set(x.reqId, s.at);
        for (const a of accepted) {
          if (!isCoalescable(a.ev.type)) {
            expect(sentAt.get(a.ev.reqId)).toBe(a.at);
            continue;
          }
          // A coalesced event may be replaced by a later one of its kind from the same device,
          // but something at least as new reaches the workflow within one flush interval.
          const same = (x: AgentEvent) => isCoalescable(x.type) && (x.type === 1) === (a.ev.type === 1) && x.deviceId === a.ev.deviceId;
          const covering = sent.find((s) => s.at >= a.at && s.batch.events.some((x) => same(x) && x.ts >= a.ev.ts));
          expect(covering).toBeDefined();
          expect(covering!.at - a.at).toBeLessThanOrEqual(FLUSH);
        }
        // Signals that carry only coalescable events are at least one interval apart.
        const trailing = sent.filter((s) => s.batch.devices.length === 0 && s.batch.events.every((x) => isCoalescable(x.type)));
        for (let i = 1; i < trailing.length; i++) {
          const prev = sent[sent.indexOf(trailing[i]!) - 1]!;
          const leading = trailing[i]!.batch.events.some((x) => x.type !== 1) && trailing[i]!.at - Math.max(...sent.filter((s) => s.at < trailing[i]!.at && s.batch.events.some((x) => x.type !== 1)).map((s) => s.at), -Infinity) >= FLUSH;
          if (!leading) expect(trailing[i]!.at - prev.at).toBeGreaterThanOrEqual(FLUSH);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('naive mode (benchmark baseline)', () => {
  it('signals every frame on its own, at once', async () => {
    const sent: Batch[] = [];
    const c = new Coalescer({ flushMs: () => FLUSH, naive: true, send: async (b) => void sent.push(b) });
    for (let i = 1; i <= 5; i++) c.accept('t', 'a', [e(100)], i);
    expect(sent.map((b) => b.pendingIds)).toEqual([[1], [2], [3], [4], [5]]);
    expect(c.stats.signals).toBe(5);
  });
});

describe('quiet period and heartbeat hold', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('buffers actions until the quiet period has passed, and lets lone heartbeats wait longer', async () => {
    const sent: { at: number; batch: Batch }[] = [];
    const c = new Coalescer({
      flushMs: () => FLUSH,
      quietMs: () => 10 * FLUSH,
      heartbeatHoldMs: () => 20 * FLUSH,
      send: async (batch) => void sent.push({ at: Date.now(), batch }),
    });
    c.accept('t', 'a', [e(100)], 1); // first action ever: at once
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(FLUSH / 2);
    c.accept('t', 'a', [e(100)], 2); // inside the quiet period and the interval: buffered
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(FLUSH / 2);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(FLUSH);
    c.accept('t', 'a', [e(1)], 3); // a lone heartbeat waits for the hold
    await vi.advanceTimersByTimeAsync(10 * FLUSH);
    expect(sent).toHaveLength(2);
    c.accept('t', 'a', [e(101)], 4); // an action brings the flush forward and takes the heartbeat along
    await vi.advanceTimersByTimeAsync(FLUSH);
    expect(sent).toHaveLength(3);
    expect(sent[2]!.batch.pendingIds).toEqual([3, 4]);
    await vi.advanceTimersByTimeAsync(11 * FLUSH);
    c.accept('t', 'a', [e(101)], 5); // quiet for more than 10 s: at once again
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(4);
  });
});
