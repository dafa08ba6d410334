// One connection's pushes awaiting their ack (gateway/push.ts Outstanding): once per connection,
// again after the timeout, given up after the maximum age.
import { describe, expect, it } from 'vitest';
import { createGatewayMetrics } from '../../gateway/metrics.ts';
import { Outstanding } from '../../gateway/push.ts';

describe('pushes awaiting their ack', () => {
  it('sends each once, again after the timeout until acked, and gives up after the maximum age', async () => {
    let now = 0;
    const sent: string[] = [];
    const metrics = createGatewayMetrics(() => 0);
    const o = new Outstanding((f) => sent.push((f as { msgId: string }).msgId), metrics, {
      timeoutMs: 1000,
      maxAgeMs: 5000,
      now: () => now,
    });
    o.push({ msgId: 'm-1' }, 'replay');
    o.push({ msgId: 'm-2' });
    o.push({ msgId: 'm-1' }); // offered again at once (a replay and the live fan-out): sent once
    expect(sent).toEqual(['m-1', 'm-2']);
    now = 999;
    o.sweep();
    expect(sent).toHaveLength(2);
    now = 1000;
    o.sweep();
    expect(sent).toEqual(['m-1', 'm-2', 'm-1', 'm-2']);
    o.ack([2]);
    now = 5001;
    o.sweep();
    expect(o.size).toBe(0);
    expect(sent).toEqual(['m-1', 'm-2', 'm-1', 'm-2']);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigil_push_deliveries_total\{outcome="sent"\} 2/);
    expect(text).toMatch(/vigil_push_deliveries_total\{outcome="redelivered"\} 2/);
    expect(text).toMatch(/vigil_push_deliveries_total\{outcome="acked"\} 1/);
    expect(text).toMatch(/vigil_push_deliveries_total\{outcome="expired"\} 1/);
  });
});
