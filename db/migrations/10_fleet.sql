-- Fleet mode (README "Fleet mode"): instances of services and AI agents, whose health Vigil decides
-- from their heartbeats and commits through HCM like a person's status.

-- 'service' agents are instances; everyone else is a person (the default).
ALTER TABLE agents ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));

-- Health states share the status row, log, outbox and feed with people's statuses.
ALTER TABLE status_table DROP CONSTRAINT status_table_status_check;
ALTER TABLE status_table ADD CONSTRAINT status_table_status_check CHECK (status IN ('ONLINE', 'IDLE', 'BUSY',
  'ABNORMAL', 'OFFLINE', 'HEALTHY', 'DEGRADED', 'MISSING', 'RECOVERING', 'FAILED', 'DEREGISTERED'));
ALTER TABLE status_table DROP CONSTRAINT status_table_prior_status_check;
ALTER TABLE status_table ADD CONSTRAINT status_table_prior_status_check CHECK (prior_status IN ('ONLINE', 'IDLE',
  'BUSY', 'ABNORMAL', 'OFFLINE', 'HEALTHY', 'DEGRADED', 'MISSING', 'RECOVERING', 'FAILED', 'DEREGISTERED'));

-- An instance's latest heartbeat as the gateway received it (its clock), with the sequence number
-- and metrics it carried: the fact HCM rechecks MISSING against.
CREATE TABLE service_beats (
  tenant    text NOT NULL,
  agent_id  text NOT NULL,
  beat_at   timestamptz NOT NULL,
  seq       bigint,
  metrics   jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant, agent_id)
);

-- The recovery ladder's hooks, per tenant and step: a signed POST like a webhook.
CREATE TABLE fleet_hooks (
  tenant      text NOT NULL,
  step        text NOT NULL CHECK (step IN ('restart', 'replace', 'alert')),
  url         text NOT NULL,
  secret      text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, step)
);

-- Every step of every recovery, with its outcome.
CREATE TABLE fleet_recovery_steps (
  id         bigserial PRIMARY KEY,
  tenant     text NOT NULL,
  agent_id   text NOT NULL,
  incident   text NOT NULL,
  step       text NOT NULL CHECK (step IN ('restart', 'replace', 'alert')),
  outcome    text NOT NULL CHECK (outcome IN ('done', 'failed', 'no hook', 'abandoned')),
  detail     text,
  at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, agent_id, incident, step, outcome)
);
CREATE INDEX fleet_recovery_steps_by_agent ON fleet_recovery_steps (tenant, agent_id, id);

-- What healthy means, per rule scope: heartbeat interval, MISSING after, metric limits, the ladder.
ALTER TABLE rules ADD COLUMN fleet jsonb NOT NULL DEFAULT '{}';
ALTER TABLE rule_versions ADD COLUMN fleet jsonb NOT NULL DEFAULT '{}';
