import { SignJWT, jwtVerify } from 'jose';
import { ID_RULE, isId } from './ids.ts';

/**
 * `agent`: a person's workbench; `instance`: an instance of a service or AI agent reporting its own
 * health (README "Fleet mode"); `supervisor`, `admin`: staff; `service`: a downstream reader.
 */
export type Role = 'agent' | 'instance' | 'supervisor' | 'admin' | 'service';
export const ROLES: readonly Role[] = ['agent', 'instance', 'supervisor', 'admin', 'service'];
/** The roles that connect as the agent they name (workbench connections, events, messages). */
export const SELF_ROLES: readonly Role[] = ['agent', 'instance'];

export interface Principal {
  sub: string;
  tenant: string;
  role: Role;
  /** Expiry (Unix seconds) of the token it came from. */
  exp?: number;
}

/** Default cap on an agent token's lifetime (README "Tokens"; `VIGIL_AGENT_TOKEN_MAX_SEC`). */
export const AGENT_TOKEN_MAX_SEC = 24 * 3600;

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(secret: string, p: Principal, ttlSec = 8 * 3600): Promise<string> {
  return new SignJWT({ tenant: p.tenant, role: p.role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(p.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec)
    .sign(key(secret));
}

export interface VerifyOptions {
  /** Longest lifetime of an agent token, from its `iat` (or now, whichever is earlier) to `exp`. */
  agentTokenMaxSec?: number;
  /** Unix seconds (tests). */
  now?: number;
}

/**
 * Throws on a bad signature, an expired token, a missing `exp`, missing or malformed claims
 * (`tenant` and `sub` must be ids of the grammar) and agent tokens that live too long.
 */
export async function verifyToken(secret: string, token: string, o: VerifyOptions = {}): Promise<Principal> {
  const { payload } = await jwtVerify(token, key(secret), {
    algorithms: ['HS256'],
    requiredClaims: ['exp'],
    ...(o.now !== undefined ? { currentDate: new Date(o.now * 1000) } : {}),
  });
  const role = payload.role as Role;
  if (typeof payload.sub !== 'string' || typeof payload.tenant !== 'string' || !ROLES.includes(role)) {
    throw new Error('token lacks sub, tenant or a valid role');
  }
  if (!isId(payload.tenant)) throw new Error(`token claim tenant must be ${ID_RULE}`);
  if (!isId(payload.sub)) throw new Error(`token claim sub must be ${ID_RULE}`);
  const exp = payload.exp!;
  if (SELF_ROLES.includes(role)) {
    const now = o.now ?? Math.floor(Date.now() / 1000);
    const max = o.agentTokenMaxSec ?? AGENT_TOKEN_MAX_SEC;
    const from = Math.min(typeof payload.iat === 'number' ? payload.iat : now, now);
    if (exp - from > max) throw new Error(`agent token lifetime exceeds ${max} s (exp - iat); sign a shorter one`);
  }
  return { sub: payload.sub, tenant: payload.tenant, role, exp };
}
