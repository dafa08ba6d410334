// Vigil's search attributes on a Temporal namespace (docs/PROTOCOL.md "Temporal names"): what is
// missing or registered with the wrong type (the gateway's /readyz asks), and registering what is
// missing (`npm run temporal:setup`, platform/temporal-setup-main.ts). `npm start`'s dev server gets
// them from flags at start (platform/temporal-server.ts); any other Temporal needs this once per
// namespace, or every agent workflow task fails on its first upsert.
import type { ConnectionLike } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributeType } from '@temporalio/common';
import { AGENT_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

/** Only the operator service is needed: a Connection, or a Client's `connection`. */
export type Operator = Pick<ConnectionLike, 'operatorService'>;

/** temporal.api.enums.v1.IndexedValueType: how the operator service names each type on the wire. */
const WIRE_TYPE: Record<SearchAttributeType, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/** gRPC status codes the operator service answers with here. */
const GRPC = { NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12 } as const;

/** A search attribute Vigil's workflow upserts that the namespace does not have as it needs it. */
export interface SearchAttributeProblem {
  name: string;
  /** The type the workflow upserts, as the CLI and the Cloud UI spell it (`Keyword`, `KeywordList`). */
  want: string;
  /** What the namespace has under that name; undefined = nothing. */
  found: string | undefined;
}

/** "AgentStatus (missing)", "SkillGroups (Keyword, needs KeywordList)". */
export function describeProblem(p: SearchAttributeProblem): string {
  return p.found === undefined ? `${p.name} (missing)` : `${p.name} (${p.found}, needs ${p.want})`;
}

export class SearchAttributeSetupError extends Error {}

const wanted = Object.values(AGENT_SEARCH_ATTRIBUTES).map((k) => ({
  name: k.name,
  type: k.type,
  wire: WIRE_TYPE[k.type],
  label: TypedSearchAttributes.toMetadataType(k.type),
}));

/** The CLI's name of a wire type; the number itself for a type this SDK does not know. */
function label(wire: unknown): string {
  const t = (Object.keys(WIRE_TYPE) as SearchAttributeType[]).find((k) => WIRE_TYPE[k] === Number(wire));
  return t ? TypedSearchAttributes.toMetadataType(t) : `type ${String(wire)}`;
}

/** Each wanted attribute with what the namespace has under its name (wire type; undefined = nothing). */
async function current(op: Operator, namespace: string) {
  const r = await op.operatorService.listSearchAttributes({ namespace });
  const custom: Record<string, unknown> = r.customAttributes ?? {};
  return wanted.map((w) => ({ ...w, found: custom[w.name] === undefined ? undefined : Number(custom[w.name]) }));
}

/**
 * Vigil's search attributes the namespace lacks or has with another type, in AGENT_SEARCH_ATTRIBUTES
 * order; empty when all are in place. Rejects when the operator service does (unreachable, unknown
 * namespace, no permission).
 */
export async function missingSearchAttributes(op: Operator, namespace: string): Promise<SearchAttributeProblem[]> {
  return (await current(op, namespace))
    .filter((a) => a.found !== a.wire)
    .map((a) => ({ name: a.name, want: a.label, found: a.found === undefined ? undefined : label(a.found) }));
}

export interface EnsureOptions {
  /** One line per attribute as it is handled: "AgentStatus: present", "Tenant: added". */
  onProgress?: (line: string) => void;
  /** How long to wait for added attributes to show in the namespace's list (default 30 s). */
  visibleWithinMs?: number;
}

export interface EnsureResult {
  present: string[];
  added: string[];
}

/**
 * Registers the search attributes the namespace lacks. Idempotent: a second run finds them all
 * present and adds nothing. An attribute registered with another type stops it before anything is
 * added (a type cannot change in place), as does a server that does not let this connection add
 * attributes (Temporal Cloud: they are added in its UI or with tcld). Resolves once the added
 * attributes are listed by the namespace, so a worker started next can upsert them.
 */
export async function ensureSearchAttributes(
  op: Operator,
  namespace: string,
  o: EnsureOptions = {},
): Promise<EnsureResult> {
  const say = o.onProgress ?? (() => {});
  const before = await current(op, namespace);
  const wrong = before.filter((a) => a.found !== undefined && a.found !== a.wire);
  if (wrong.length) {
    throw new SearchAttributeSetupError(
      `${wrong.map((a) => `${a.name} is registered as ${label(a.found)}, Vigil needs ${a.label}`).join('; ')}. ` +
        `A search attribute's type cannot be changed: remove it (temporal operator search-attribute remove) ` +
        `if nothing else uses it, or use another namespace.`,
    );
  }
  const result: EnsureResult = { present: [], added: [] };
  for (const a of before) {
    if (a.found !== undefined) {
      result.present.push(a.name);
      say(`${a.name}: present`);
      continue;
    }
    try {
      await op.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: { [a.name]: a.wire },
      });
      result.added.push(a.name);
      say(`${a.name}: added (${a.label})`);
    } catch (err) {
      const code = (err as { code?: number }).code;
      // Another setup run (a second replica, a second terminal) got there first.
      if (code === GRPC.ALREADY_EXISTS) {
        result.present.push(a.name);
        say(`${a.name}: present (registered meanwhile)`);
        continue;
      }
      if (code === GRPC.PERMISSION_DENIED || code === GRPC.UNIMPLEMENTED) {
        const missing = before.filter((m) => m.found === undefined);
        throw new SearchAttributeSetupError(
          `this Temporal does not let Vigil add search attributes (${(err as Error).message}). ` +
            `On Temporal Cloud add them in the Cloud UI or with ` +
            `tcld namespace search-attributes add -n ${namespace} ${missing.map((m) => `--sa ${m.name}=${m.label}`).join(' ')}; ` +
            `on a self-hosted cluster use a namespace admin's credentials.`,
        );
      }
      throw err;
    }
  }
  if (result.added.length) await untilListed(op, namespace, o.visibleWithinMs ?? 30_000);
  return result;
}

/** Waits until the namespace lists every attribute with its type (the namespace cache refreshes). */
async function untilListed(op: Operator, namespace: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const problems = await missingSearchAttributes(op, namespace);
    if (problems.length === 0) return;
    if (problems.some((p) => p.found !== undefined)) {
      throw new SearchAttributeSetupError(
        `registered with another type meanwhile: ${problems.map(describeProblem).join(', ')}`,
      );
    }
    if (Date.now() > deadline) {
      throw new SearchAttributeSetupError(
        `added, but still not listed by namespace ${namespace} after ${Math.round(withinMs / 1000)} s: ${problems.map(describeProblem).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** True when `err` says the namespace does not exist (as opposed to Temporal being unreachable). */
export function isNamespaceNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === GRPC.NOT_FOUND;
}
