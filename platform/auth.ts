import { SignJWT, jwtVerify } from 'jose';

export type Role = 'agent' | 'supervisor' | 'admin' | 'service';
export const ROLES: readonly Role[] = ['agent', 'supervisor', 'admin', 'service'];

export interface Principal {
  sub: string;
  tenant: string;
  role: Role;
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(secret: string, p: Principal, ttlSec = 8 * 3600): Promise<string> {
  return new SignJWT({ tenant: p.tenant, role: p.role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(p.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec)
    .sign(key(secret));
}

/** Throws on a bad signature, an expired token or missing claims. */
export async function verifyToken(secret: string, token: string): Promise<Principal> {
  const { payload } = await jwtVerify(token, key(secret), { algorithms: ['HS256'] });
  const role = payload.role as Role;
  if (typeof payload.sub !== 'string' || typeof payload.tenant !== 'string' || !ROLES.includes(role)) {
    throw new Error('token lacks sub, tenant or a valid role');
  }
  return { sub: payload.sub, tenant: payload.tenant, role };
}
