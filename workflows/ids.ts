// Workflow ids: a tiny module with no dependencies, so a browser bundle (the operator console) can
// name an agent's workflow without pulling in @temporalio/workflow. workflows/contract.ts re-exports it.

/**
 * `agent:{tenant}:{agentId}`. Each part is escaped (`%` → `%25`, `:` → `%3A`), so distinct
 * (tenant, agentId) pairs always give distinct ids, whatever the id grammar allows; for ids of
 * the grammar (platform/ids.ts: no `%` or `:`) this changes nothing, so operators read plain ids.
 */
export function agentWorkflowId(tenant: string, agentId: string): string {
  return `agent:${escapeIdPart(tenant)}:${escapeIdPart(agentId)}`;
}

const escapeIdPart = (s: string) => s.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
