-- The gateway's durable state: instance leases, connected devices, accepted events not yet
-- signalled to their workflow, and the push messages each agent's workbench is owed.

-- A gateway instance renews its lease while alive; a sweeper acts for instances whose lease ran out.
CREATE TABLE gateway_leases (
  gateway_id  text PRIMARY KEY,
  started_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);

-- One row per connected device; a reconnect (to any gateway) takes the row over.
CREATE TABLE device_sessions (
  tenant        text NOT NULL,
  agent_id      text NOT NULL,
  device_id     text NOT NULL,
  session_id    text NOT NULL,
  gateway_id    text NOT NULL,
  connected_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, agent_id, device_id)
);
CREATE INDEX device_sessions_by_gateway ON device_sessions (gateway_id);

-- Accepted events are written here before their receipt goes out and deleted once the workflow
-- has them, so a gateway crash in between cannot lose them: the sweeper forwards what is left.
CREATE TABLE intake_pending (
  id          bigserial PRIMARY KEY,
  tenant      text NOT NULL,
  agent_id    text NOT NULL,
  gateway_id  text NOT NULL,
  events      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intake_pending_by_gateway ON intake_pending (gateway_id, id);

-- Status changes and reminders owed to an agent's workbench (written by the dispatcher's push
-- lane); msgId is 'm-' || seq. Kept for at least 10 minutes for GET /v1/messages.
CREATE TABLE push_messages (
  seq         bigserial PRIMARY KEY,
  tenant      text NOT NULL,
  agent_id    text NOT NULL,
  outbox_id   bigint NOT NULL UNIQUE,
  topic       text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_messages_by_agent ON push_messages (tenant, agent_id, seq);
CREATE INDEX push_messages_age ON push_messages (created_at);
