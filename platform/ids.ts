// The one id grammar of the public contract (README "Ids"): tenants, agent ids (the JWT `sub`
// and every `:agentId`), device ids, rule and webhook ids are 1–128 characters from
// `A–Z a–z 0–9 . _ - @ +`. No `:` or `/`: ids are joined into workflow ids, lanes and paths.
import { z } from 'zod';

export const ID_MAX = 128;
/** The characters, as a regex character class (for patterns that embed an id, e.g. lanes). */
export const ID_CHARS = '[A-Za-z0-9._@+-]';
export const ID_PATTERN = `^${ID_CHARS}{1,${ID_MAX}}$`;
export const ID_RE = new RegExp(ID_PATTERN);
export const ID_RULE = `1–${ID_MAX} characters from A–Z a–z 0–9 . _ - @ +`;

export const isId = (s: unknown): s is string => typeof s === 'string' && ID_RE.test(s);

/** For fastify route schemas (params, body fields). */
export const ID_SCHEMA = { type: 'string', minLength: 1, maxLength: ID_MAX, pattern: ID_PATTERN } as const;

/** For zod (websocket frames). */
export const Id = z.string().regex(ID_RE, `must be ${ID_RULE}`);

/**
 * A map key for a tuple of ids (tenant, agent, device, reqId…): joined with NUL, which no id and
 * no text Postgres stores can contain, so two different tuples never share a key.
 */
export const idKey = (...parts: string[]): string => parts.join('\u0000');
