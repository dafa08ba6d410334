import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEvents, parseFrame } from '../../gateway/frames.ts';
import { PROTOCOL_VERSION } from '../../sdk/protocol.ts';
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
    // An unknown field is dropped and counted, never used: the agent is the token's (see "versions" below).
    expect(parseFrame('{"type":"events","events":[{}],"agentId":"someone-else"}')).toEqual({
      frame: { type: 'events', events: [{}] },
      ignored: 1,
    });
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
    // The gateway's own pages (same host and port as the request's Host header) need no list entry.
    expect(originAllowed('https://vigil.example', ['https://app.example'], 'vigil.example')).toBe(true);
    expect(originAllowed('https://vigil.example:8443', [], 'vigil.example:8443')).toBe(true);
    expect(originAllowed('https://vigil.example:8443', [], 'vigil.example')).toBe(false);
    expect(originAllowed('https://evil.example', ['https://app.example'], 'vigil.example')).toBe(false);
    expect(originAllowed('null', [], 'vigil.example')).toBe(false);
  });
});

describe('versions: within major 1 a newer client is understood as far as this gateway can', () => {
  const hello = { type: 'hello', token: 'x', deviceId: 'tab-1' };

  it('reads hello.v, refuses another major before looking at the rest, and keeps v a "MAJOR.MINOR"', () => {
    expect(parseFrame(JSON.stringify(hello))).toMatchObject({ frame: { type: 'hello' }, ignored: 0 });
    expect(parseFrame(JSON.stringify({ ...hello, v: '1.0' }))).toMatchObject({ frame: { v: '1.0' } });
    expect(parseFrame(JSON.stringify({ ...hello, v: '1.42' }))).toMatchObject({ frame: { v: '1.42' } });
    // A 2.x hello may look different altogether: the version is what it is told.
    expect(parseFrame(JSON.stringify({ type: 'hello', v: '2.0', credentials: {} }))).toEqual({
      unsupported: `protocol 2.0 is not supported: this gateway speaks 1.x (up to ${PROTOCOL_VERSION})`,
    });
    expect(parseFrame(JSON.stringify({ ...hello, v: '0.9' }))).toHaveProperty('unsupported');
    for (const v of [2, '2', '1.0.1', 'x.y', '', '1234.0'])
      expect(parseFrame(JSON.stringify({ ...hello, v })), String(v)).toMatchObject({
        error: expect.stringMatching(/^v: /),
      });
  });

  it('drops and counts unknown fields at any depth; a known field of the wrong type is still an error', () => {
    expect(
      parseFrame(
        JSON.stringify({
          ...hello,
          v: '1.3',
          capabilities: ['x'],
          modules: [{ module: 'm', entity: 'e', layout: { w: 1 } }],
        }),
      ),
    ).toEqual({
      frame: { type: 'hello', v: '1.3', token: 'x', deviceId: 'tab-1', modules: [{ module: 'm', entity: 'e' }] },
      ignored: 2,
    });
    expect(parseFrame('{"type":"ack","msgIds":["m-1"],"upTo":"m-9","note":"x\\u0000"}')).toEqual({
      frame: { type: 'ack', msgIds: ['m-1'] },
      ignored: 2,
    });
    expect(parseFrame('{"type":"register","module":"m","entity":4,"extra":1}')).toEqual({
      error: 'entity: Invalid input: expected string, received number',
    });
    expect(parseFrame(JSON.stringify({ ...hello, deviceId: 'tab:1', extra: 1 }))).toMatchObject({
      error: expect.stringMatching(/^deviceId: /),
    });
    expect(parseFrame(JSON.stringify({ ...hello, modules: [{ module: 'a\u0000', entity: 'b', x: 1 }] }))).toEqual({
      error: 'modules.0.module: must not contain NUL (\\u0000)',
    });
  });

  it('names a frame type it does not know instead of failing it; a type that is no name is still bad', () => {
    expect(parseFrame('{"type":"subscribe","topics":["floor"]}')).toEqual({ unknownType: 'subscribe' });
    expect(parseFrame('{"type":"Subscribe!"}')).toMatchObject({ error: expect.stringMatching(/^type: /) });
    expect(parseFrame('{"type":7}')).toMatchObject({ error: expect.stringMatching(/^type: /) });
    expect(parseFrame('{}')).toMatchObject({ error: expect.stringMatching(/^type: /) });
    expect(parseFrame('[1]')).toEqual({ error: 'frame: must be an object' });
  });

  it('drops unknown fields of an event, rejects an unknown event type alone, and an internal one as BAD_EVENT', () => {
    const now = 5_000;
    const { valid, rejected, ignored } = checkEvents(
      [
        { reqId: 'a', type: 100, ts: now, priority: 'high', trace: { id: 'x\u0000' } },
        { reqId: 'b', type: 106, ts: now },
        { reqId: 'c', type: 3001, ts: now },
        { reqId: 'd', type: 101, ts: now, channel: 7, extra: 1 },
        { reqId: 'e', type: 1, ts: now },
      ],
      'tab-1',
      now,
    );
    expect(valid).toEqual([
      { reqId: 'a', type: 100, ts: now, deviceId: 'tab-1' },
      { reqId: 'e', type: 1, ts: now, deviceId: 'tab-1' },
    ]);
    expect(ignored).toBe(2);
    expect(rejected).toEqual([
      { reqId: 'b', code: 'UNKNOWN_TYPE', message: `type: 106 is not an event type of protocol ${PROTOCOL_VERSION}` },
      { reqId: 'c', code: 'BAD_EVENT', message: 'type: 3001 is not an event type a client may send' },
      { reqId: 'd', code: 'BAD_EVENT', message: 'channel: Invalid input: expected string, received number' },
    ]);
  });

  it('property: extra fields never change what an event becomes, nor whether it is accepted', () => {
    const known = new Set(['reqId', 'type', 'ts', 'channel', 'ticketId', 'index', 'data']);
    const event = fc.record(
      {
        reqId: fc.string({ minLength: 1, maxLength: 8 }),
        type: fc.constantFrom(1, 2, 3, 4, 5, 100, 105, 106, 999, 3001),
        ts: fc.nat(),
        channel: fc.string({ maxLength: 70 }),
        ticketId: fc.string({ minLength: 1, maxLength: 8 }),
        data: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      },
      { requiredKeys: ['reqId', 'type', 'ts'] },
    );
    const extras = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k) && k !== '__proto__'),
      fc.jsonValue({ maxDepth: 2 }),
      { minKeys: 1, maxKeys: 4 },
    );
    fc.assert(
      fc.property(event, extras, (e, x) => {
        const plain = checkEvents([e], 'tab-1', 10_000);
        const more = checkEvents([{ ...x, ...e }], 'tab-1', 10_000);
        expect(more.valid).toEqual(plain.valid);
        expect(more.rejected).toEqual(plain.rejected);
        expect(more.ignored).toBe(plain.valid.length === 1 ? Object.keys(x).length : 0);
      }),
      { numRuns: 300 },
    );
  });
});
