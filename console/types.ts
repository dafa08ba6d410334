// What the gateway answers, as the console reads it (docs/openapi.json has the full schemas). Types
// only: the ones the server side declares are taken from there, and esbuild drops these imports.
export type { DeadLetter } from '../db/deliveries.ts';
export type { Floor, StatusCounts as Counts } from '../gateway/floor.ts';
import type { AgentStateRow } from '../db/agents.ts';
import type { RuleRow } from '../db/rules.ts';
import type { Status } from '../workflows/model.ts';

export interface ConsoleConfig {
  tenant: string;
  sub: string;
  role: 'agent' | 'supervisor' | 'admin' | 'service';
  namespace: string;
  temporalUiUrl: string;
}

/** A row of `GET /v1/agents`: the committed state with the profile and an estimated next deadline. */
export type AgentRow = Omit<AgentStateRow, 'status'> & {
  status: Status;
  nextDeadline: { at: string; action: 'IDLE' | 'REMIND' | 'ABNORMAL' | 'OFFLINE' } | null;
};

export interface TimelineEntry {
  at: string;
  source: 'workflow' | 'hcm' | 'delivery';
  kind: string;
  detail: string;
}

export type Rule = Omit<RuleRow, 'tenant'>;

export interface Webhook {
  id: string;
  url: string;
  lane: string;
  enabled: boolean;
  filter: { businessLines?: string[]; statuses?: Status[]; topics?: ('status' | 'reminder')[] };
  createdAt: string;
  updatedAt: string;
}
