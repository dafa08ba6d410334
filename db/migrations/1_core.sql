-- Agents, rules, committed status, the status log and the outbox (DESIGN.md "The boundary that
-- matters most"). Constraints make a duplicate commit impossible, not just unlikely.

CREATE TABLE skill_groups (
  tenant          text NOT NULL,
  skill_group_id  text NOT NULL,
  name            text NOT NULL DEFAULT '',
  PRIMARY KEY (tenant, skill_group_id)
);

CREATE TABLE agents (
  tenant         text NOT NULL,
  agent_id       text NOT NULL,
  display_name   text NOT NULL DEFAULT '',
  business_line  text NOT NULL DEFAULT '',
  skill_groups   text[] NOT NULL DEFAULT '{}',
  channels       text[] NOT NULL DEFAULT '{}',
  -- Only workers of this region may commit this agent's status.
  region         text NOT NULL DEFAULT 'local',
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, agent_id)
);

CREATE TABLE rules (
  tenant                       text NOT NULL,
  rule_id                      text NOT NULL,
  version                      integer NOT NULL DEFAULT 1 CHECK (version > 0),
  business_line                text,
  skill_groups                 text[],
  channels                     text[],
  idle_after_no_task_sec       integer NOT NULL DEFAULT 30 CHECK (idle_after_no_task_sec > 0),
  remind_after_no_action_sec   integer NOT NULL DEFAULT 480 CHECK (remind_after_no_action_sec > 0),
  abnormal_after_no_action_sec integer NOT NULL DEFAULT 600 CHECK (abnormal_after_no_action_sec > 0),
  offline_after_abnormal_sec   integer NOT NULL DEFAULT 600 CHECK (offline_after_abnormal_sec > 0),
  reminder_lock_sec            integer NOT NULL DEFAULT 840 CHECK (reminder_lock_sec >= 0),
  reconnect_grace_sec          integer NOT NULL DEFAULT 60 CHECK (reconnect_grace_sec >= 0),
  offline_recovery             text NOT NULL DEFAULT 'manual' CHECK (offline_recovery IN ('manual', 'onActivity')),
  enabled                      boolean NOT NULL DEFAULT true,
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, rule_id),
  CHECK (remind_after_no_action_sec <= abnormal_after_no_action_sec)
);

CREATE TABLE status_table (
  tenant             text NOT NULL,
  agent_id           text NOT NULL,
  status             text NOT NULL CHECK (status IN ('ONLINE', 'IDLE', 'BUSY', 'ABNORMAL', 'OFFLINE')),
  status_code        integer NOT NULL,
  cause              text NOT NULL,
  actor              text NOT NULL,
  since              timestamptz NOT NULL,
  version            bigint NOT NULL DEFAULT 0,
  prior_status       text CHECK (prior_status IN ('ONLINE', 'IDLE', 'BUSY', 'ABNORMAL', 'OFFLINE')),
  offline_by_window  boolean NOT NULL DEFAULT false,
  last_action_at     timestamptz,
  last_reminder_at   timestamptz,
  rule_id            text,
  rule_version       integer,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, agent_id),
  FOREIGN KEY (tenant, agent_id) REFERENCES agents ON DELETE CASCADE
);
CREATE INDEX status_table_by_status ON status_table (tenant, status);

-- Open tasks are HCM facts: written when the gateway accepts a ticket event.
CREATE TABLE tasks (
  tenant           text NOT NULL,
  agent_id         text NOT NULL,
  ticket_id        text NOT NULL,
  state            text NOT NULL CHECK (state IN ('open', 'closed')),
  last_event_type  integer NOT NULL,
  opened_at        timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, agent_id, ticket_id)
);
CREATE INDEX tasks_open ON tasks (tenant, agent_id) WHERE state = 'open';

CREATE TABLE unified_work_status_log (
  id            bigserial PRIMARY KEY,
  tenant        text NOT NULL,
  agent_id      text NOT NULL,
  version       bigint NOT NULL,
  from_status   text NOT NULL,
  to_status     text NOT NULL,
  cause         text NOT NULL,
  actor         text NOT NULL,
  reason        text,
  rule_id       text,
  rule_version  integer,
  window_start  timestamptz NOT NULL,
  -- agent + rule + window start (+ target): the same transition can be committed once only.
  dedupe_key    text NOT NULL,
  basis         jsonb NOT NULL DEFAULT '{}',
  committed_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, agent_id, version),
  UNIQUE (tenant, agent_id, dedupe_key)
);
CREATE INDEX status_log_by_agent ON unified_work_status_log (tenant, agent_id, id DESC);

CREATE TABLE status_change_outbox (
  id          bigserial PRIMARY KEY,
  event_id    uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  tenant      text NOT NULL,
  agent_id    text NOT NULL,
  topic       text NOT NULL CHECK (topic IN ('status', 'reminder')),
  version     bigint NOT NULL,
  dedupe_key  text NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, agent_id, topic, dedupe_key)
);

-- One row per (outbox row, lane): each handler has its own progress, retries and dead letters.
-- Rows are created in the committing transaction, so no lane can skip a late commit.
CREATE TABLE outbox_deliveries (
  lane             text NOT NULL,
  outbox_id        bigint NOT NULL REFERENCES status_change_outbox ON DELETE CASCADE,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  delivered_at     timestamptz,
  PRIMARY KEY (lane, outbox_id)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (lane, next_attempt_at) WHERE state = 'pending';

CREATE FUNCTION outbox_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.topic = 'status' THEN
    INSERT INTO outbox_deliveries (lane, outbox_id) VALUES ('feed', NEW.id);
  END IF;
  INSERT INTO outbox_deliveries (lane, outbox_id) VALUES ('push', NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER status_change_outbox_lanes AFTER INSERT ON status_change_outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_lanes();

-- Per-agent reqId dedupe for accepted client events.
CREATE TABLE event_dedupe (
  tenant       text NOT NULL,
  agent_id     text NOT NULL,
  req_id       text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, agent_id, req_id)
);
CREATE INDEX event_dedupe_age ON event_dedupe (received_at);
