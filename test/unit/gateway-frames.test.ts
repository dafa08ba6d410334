import { describe, expect, it } from 'vitest';
import { checkEvents, parseFrame } from '../../gateway/frames.ts';
import { BucketMap, TokenBucket } from '../../gateway/rate-limit.ts';
import { originAllowed } from '../../gateway/ws.ts';

describe('frame validation', () => {
  it('accepts the frames of docs/PROTOCOL.md and rejects others with the field named', () => {
    expect(
      parseFrame('{"type":"hello","token":"x","deviceId":"tab-1","modules":[{"module":"ticket","entity":"list"}]}'),
    ).toHaveProperty('frame');
    expect(parseFrame('{"type":"ack","msgIds":["m-1"]}')).toHaveProperty('frame');
    expect(parseFrame('not json')).toEqual({ error: 'frame is not JSON' });
    expect(parseFrame('{"type":"events","events":[]}')).toMatchObject({ error: expect.stringContaining('events') });
    expect(parseFrame('{"type":"hello","token":"x"}')).toMatchObject({ error: expect.stringContaining('deviceId') });
    expect(parseFrame('{"type":"events","events":[{}],"agentId":"someone-else"}')).toHaveProperty('error');
    expect(parseFrame(JSON.stringify({ type: 'events', events: new Array(101).fill({}) }))).toHaveProperty('error');
  });

  it('rejects bad events one by one, stamps the device and clamps future timestamps', () => {
    const now = 1_000_000;
    const { valid, rejected } = checkEvents(
      [
        { reqId: 'a', type: 101, ts: now - 5 },
        { reqId: 'b', type: 3001, ts: now },
        { reqId: 'c', type: 3, ts: now },
        { reqId: 'd', type: 2, ts: now, data: { status: 'IDLE' } },
        { reqId: 'e', type: 100, ts: now + 60_000 },
        { reqId: 'a', type: 101, ts: now },
        { type: 1, ts: now },
        { reqId: 'f', type: 2, ts: now, data: { status: 'BUSY' } },
      ],
      'tab-1',
      now,
    );
    expect(valid.map((e) => [e.reqId, e.ts, e.deviceId])).toEqual([
      ['a', now - 5, 'tab-1'],
      ['e', now, 'tab-1'],
      ['f', now, 'tab-1'],
    ]);
    expect(rejected.map((r) => [r.reqId, r.code])).toEqual([
      ['b', 'BAD_EVENT'],
      ['c', 'BAD_EVENT'],
      ['d', 'BAD_EVENT'],
      ['', 'BAD_EVENT'],
    ]);
  });
});

describe('values Postgres refuses, in frames and events', () => {
  it('closes non-event frames naming the field, and checks hello.deviceId against the id grammar', () => {
    expect(parseFrame(JSON.stringify({ type: 'hello', token: 'x', deviceId: 'tab:1' }))).toMatchObject({
      error: expect.stringMatching(/^deviceId: must be 1–128/),
    });
    expect(
      parseFrame(
        JSON.stringify({ type: 'hello', token: 'x', deviceId: 'tab-1', modules: [{ module: 'a\u0000', entity: 'b' }] }),
      ),
    ).toEqual({ error: 'modules.0.module: must not contain NUL (\\u0000)' });
    expect(parseFrame('{"type":"register","module":"m","entity":"\\ud800"}')).toMatchObject({
      error: expect.stringMatching(/^entity: .*surrogate/),
    });
    expect(
      parseFrame(JSON.stringify({ type: 'hello', token: 'x', deviceId: 'jane@acme.com+tab.1_x-y' })),
    ).toHaveProperty('frame');
  });

  it('rejects such events in the receipt with the field named, and bounds data', () => {
    const now = 1_000;
    let deep: object = { v: 1 };
    for (let i = 0; i < 9; i++) deep = { d: deep };
    const { valid, rejected } = checkEvents(
      [
        { reqId: 'n1', type: 100, ts: now, channel: 'v\u0000' },
        { reqId: 'n2', type: 100, ts: now, data: { a: ['x', '\udc00'] } },
        { reqId: 'n3', type: 100, ts: now, data: deep },
        { reqId: 'n4', type: 100, ts: now, data: { s: 'x'.repeat(9000) } },
        { reqId: 'ok', type: 100, ts: now, data: { s: '🍕', n: [1, { k: null }] } },
      ],
      'tab-1',
      now,
    );
    expect(valid.map((e) => e.reqId)).toEqual(['ok']);
    expect(rejected.map((r) => r.message)).toEqual([
      'channel: must not contain NUL (\\u0000)',
      'data.a.1: must not contain a lone UTF-16 surrogate',
      expect.stringMatching(/^data\.d(\.d)*: nested deeper than 8 levels$/),
      expect.stringMatching(/^data: \d+ bytes as JSON, more than 8192$/),
    ]);
  });
});

describe('rate limits and origins', () => {
  it('a token bucket allows its burst, then its rate', () => {
    const b = new TokenBucket(10, 20, 0);
    expect(b.take(20, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(5, 500)).toBe(true);
    expect(b.take(1, 500)).toBe(false);
    const m = new BucketMap(1, 1);
    expect(m.take('x', 1, 0)).toBe(true);
    expect(m.take('x', 1, 0)).toBe(false);
    expect(m.take('y', 1, 0)).toBe(true);
  });

  it('browser origins pass the allowlist; without one only localhost pages', () => {
    expect(originAllowed(undefined, [])).toBe(true);
    expect(originAllowed('http://localhost:3000', [])).toBe(true);
    expect(originAllowed('https://evil.example', [])).toBe(false);
    expect(originAllowed('https://app.example', ['https://app.example'])).toBe(true);
    expect(originAllowed('http://localhost:3000', ['https://app.example'])).toBe(false);
  });
});
