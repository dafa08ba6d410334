import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../../platform/auth.ts';

const SECRET = 'unit-test-secret-0123456789abcdef';
const now = 1_800_000_000;
const raw = (claims: Record<string, unknown>, o: { sub?: string; iat?: number; exp?: number } = {}) => {
  let j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(o.sub ?? 'a1');
  if (o.iat !== undefined) j = j.setIssuedAt(o.iat);
  if (o.exp !== undefined) j = j.setExpirationTime(o.exp);
  return j.sign(new TextEncoder().encode(SECRET));
};

describe('tokens', () => {
  it('signToken makes tokens verifyToken accepts, with their expiry', async () => {
    const t = await signToken(SECRET, { tenant: 't1', sub: 'a1', role: 'agent' });
    const p = await verifyToken(SECRET, t);
    expect(p).toMatchObject({ tenant: 't1', sub: 'a1', role: 'agent' });
    expect(p.exp! - Date.now() / 1000).toBeGreaterThan(8 * 3600 - 5);
  });

  it('requires exp', async () => {
    await expect(
      verifyToken(SECRET, await raw({ tenant: 't1', role: 'supervisor' }, { iat: now }), { now }),
    ).rejects.toThrow(/exp/);
  });

  it('caps agent tokens at 24 h by default, from iat or now (whichever is earlier), and not staff tokens', async () => {
    const agent = { tenant: 't1', role: 'agent' };
    await expect(
      verifyToken(SECRET, await raw(agent, { iat: now, exp: now + 24 * 3600 }), { now }),
    ).resolves.toMatchObject({ sub: 'a1' });
    await expect(
      verifyToken(SECRET, await raw(agent, { iat: now, exp: now + 24 * 3600 + 1 }), { now }),
    ).rejects.toThrow(/lifetime/);
    await expect(verifyToken(SECRET, await raw(agent, { exp: now + 25 * 3600 }), { now })).rejects.toThrow(/lifetime/);
    await expect(
      verifyToken(SECRET, await raw(agent, { iat: now - 48 * 3600, exp: now + 60 }), { now }),
    ).rejects.toThrow(/lifetime/);
    await expect(
      verifyToken(SECRET, await raw(agent, { iat: now + 3600, exp: now + 25 * 3600 }), { now }),
    ).rejects.toThrow(/lifetime/);
    await expect(
      verifyToken(SECRET, await raw(agent, { iat: now, exp: now + 3600 }), { now, agentTokenMaxSec: 600 }),
    ).rejects.toThrow(/600/);
    await expect(
      verifyToken(SECRET, await raw({ tenant: 't1', role: 'service' }, { iat: now, exp: now + 365 * 86_400 }), { now }),
    ).resolves.toMatchObject({ role: 'service' });
  });

  it('refuses tenant and sub outside the id grammar', async () => {
    for (const [claims, sub, why] of [
      [{ tenant: 't1:x', role: 'agent' }, 'a1', /tenant/],
      [{ tenant: 't1', role: 'agent' }, 'a/1', /sub/],
      [{ tenant: '', role: 'admin' }, 'a1', /tenant/],
    ] as const) {
      await expect(verifyToken(SECRET, await raw(claims, { sub, iat: now, exp: now + 60 }), { now })).rejects.toThrow(
        why,
      );
    }
  });
});
