import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Id, ID_RE, isId } from '../../platform/ids.ts';
import * as contract from '../../workflows/contract.ts';
import { agentWorkflowId } from '../../workflows/ids.ts';

const GRAMMAR = 'ABCXYZabcxyz0189._-@+';
const validId = fc.string({ unit: fc.constantFrom(...GRAMMAR.split('')), minLength: 1, maxLength: 128 });

describe('the id grammar', () => {
  it('accepts 1–128 characters of A–Z a–z 0–9 . _ - @ + and nothing else', () => {
    for (const ok of ['a', 'A1', 'agent.one_two-three', 'jane@acme.com', 'a+b', 'x'.repeat(128), '...', '-'])
      expect(isId(ok), ok).toBe(true);
    for (const bad of [
      '',
      'x'.repeat(129),
      'a:b',
      'a/b',
      'a b',
      'a\u0000b',
      'café',
      'a%3Ab',
      'a\nb',
      'a#b',
      'a?b',
      '\ud800',
      7,
      null,
      undefined,
    ]) {
      expect(isId(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(Id.safeParse('tab:1').success).toBe(false);
    expect(Id.safeParse('tab-1').success).toBe(true);
    fc.assert(fc.property(validId, (s) => ID_RE.test(s)));
  });
});

describe('agentWorkflowId', () => {
  it('lives in workflows/ids.ts, which imports nothing (a browser bundle takes it), and contract.ts re-exports it', () => {
    expect(contract.agentWorkflowId).toBe(agentWorkflowId);
    const text = fs.readFileSync(new URL('../../workflows/ids.ts', import.meta.url), 'utf8');
    expect(text).not.toMatch(/^\s*(import|export .* from)\b/m);
  });

  it('is agent:{tenant}:{agentId} for ids of the grammar (existing workflow ids are unchanged)', () => {
    expect(agentWorkflowId('acme', 'a1')).toBe('agent:acme:a1');
    expect(agentWorkflowId('t-1.x', 'jane@acme.com')).toBe('agent:t-1.x:jane@acme.com');
    fc.assert(fc.property(validId, validId, (t, a) => agentWorkflowId(t, a) === `agent:${t}:${a}`));
  });

  it('escapes % and : so the pair can always be read back', () => {
    expect(agentWorkflowId('acme', 'z:c')).toBe('agent:acme:z%3Ac');
    expect(agentWorkflowId('acme:z', 'c')).toBe('agent:acme%3Az:c');
    expect(agentWorkflowId('a%3Ab', 'c')).toBe('agent:a%253Ab:c');
  });

  it('gives distinct ids to distinct (tenant, agentId) pairs, whatever the strings', () => {
    const part = fc.oneof(fc.string({ unit: fc.constantFrom('a', ':', '%', '3', 'A', 'b') }), fc.string());
    fc.assert(
      fc.property(part, part, part, part, (t1, a1, t2, a2) => {
        fc.pre(t1 !== t2 || a1 !== a2);
        return agentWorkflowId(t1, a1) !== agentWorkflowId(t2, a2);
      }),
      { numRuns: 5_000 },
    );
  });
});
