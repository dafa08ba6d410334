// The agent workflow's search attributes (docs/PROTOCOL.md "Temporal names"), defined once: the workflow
// upserts them, platform/temporal-server.ts registers them on the dev server, `npm run temporal:setup`
// (platform/temporal-setup.ts) on any other namespace, and the gateway's /readyz checks them there.
// Workflow-safe (only @temporalio/common).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const AGENT_SEARCH_ATTRIBUTES = {
  AgentStatus: defineSearchAttributeKey('AgentStatus', SearchAttributeType.KEYWORD),
  Tenant: defineSearchAttributeKey('Tenant', SearchAttributeType.KEYWORD),
  BusinessLine: defineSearchAttributeKey('BusinessLine', SearchAttributeType.KEYWORD),
  SkillGroups: defineSearchAttributeKey('SkillGroups', SearchAttributeType.KEYWORD_LIST),
} as const;
