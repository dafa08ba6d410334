import { describe, expect, it } from 'vitest';
import { badString, badText } from '../../platform/text.ts';

describe('values Postgres refuses', () => {
  it('finds NUL and lone surrogates, not valid pairs', () => {
    expect(badString('fine 🍕 ü')).toBeUndefined();
    expect(badString('a\u0000b')).toMatch(/NUL/);
    expect(badString(JSON.parse('"a\\u0000"'))).toMatch(/NUL/);
    for (const s of ['\ud800', 'x\udbffy', '\udc00', 'a\udfff', '\ud83d', JSON.parse('"\\ud800"'), '\udc00\ud800'])
      expect(badString(s), escape(s)).toMatch(/surrogate/);
  });

  it('names the field, in keys and nested values, with the separator asked for', () => {
    expect(badText({ a: { b: ['ok', 'x\u0000'] } }, 'data')).toBe('data.a.b.1: must not contain NUL (\\u0000)');
    expect(badText({ reason: '\ud800' }, 'body', { sep: '/' })).toBe(
      'body/reason: must not contain a lone UTF-16 surrogate',
    );
    expect(badText({ modules: [{ module: 'm\u0000' }] }, '')).toMatch(/^modules\.0\.module: /);
    expect(badText({ 'k\u0000': 1 }, 'data')).toMatch(/^data: a key must not contain NUL/);
    expect(badText({ a: 1, b: [true, null, 2.5, 'ok'] }, 'body')).toBeUndefined();
    expect(badText(undefined, 'body')).toBeUndefined();
  });

  it('bounds depth', () => {
    const deep = JSON.parse(`${'{"d":'.repeat(10)}1${'}'.repeat(10)}`);
    expect(badText(deep, 'data', { maxDepth: 8 })).toMatch(/nested deeper than 8/);
    expect(badText(deep, 'data', { maxDepth: 10 })).toBeUndefined();
  });
});
