-- Propagation (DESIGN.md "Propagation"): webhook subscriptions with their own delivery lanes,
-- the versions each subscription has acknowledged per agent, and a batched wake-up for the dispatcher.

-- Lane of a subscription's deliveries: 'webhook:<tenant>:<id>' (ids are unique per tenant only).
CREATE TABLE webhook_subscriptions (
  tenant          text NOT NULL,
  id              text NOT NULL,
  url             text NOT NULL,
  secret          text NOT NULL,
  -- NULL = no filter on that dimension.
  business_lines  text[],
  statuses        text[],
  topics          text[],
  enabled         boolean NOT NULL DEFAULT true,
  lane            text GENERATED ALWAYS AS ('webhook:' || tenant || ':' || id) STORED UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, id)
);

-- The newest status version a subscription answered 2xx for, per agent (read by reconciliation).
CREATE TABLE webhook_acks (
  tenant           text NOT NULL,
  subscription_id  text NOT NULL,
  agent_id         text NOT NULL,
  acked_version    bigint NOT NULL,
  acked_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, subscription_id, agent_id),
  FOREIGN KEY (tenant, subscription_id) REFERENCES webhook_subscriptions ON DELETE CASCADE
);

CREATE INDEX status_change_outbox_latest ON status_change_outbox (tenant, agent_id, topic, version DESC);
CREATE INDEX outbox_deliveries_dead ON outbox_deliveries (lane, outbox_id) WHERE state = 'dead';
-- Claims take a lane's pending rows in outbox order: an ordered scan, not a sort of the backlog.
CREATE INDEX outbox_deliveries_pending ON outbox_deliveries (lane, outbox_id) WHERE state = 'pending';

-- Delivery rows for every lane are still created in the committing transaction (late-commit safe).
CREATE OR REPLACE FUNCTION outbox_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.topic = 'status' THEN
    INSERT INTO outbox_deliveries (lane, outbox_id) VALUES ('feed', NEW.id);
  END IF;
  INSERT INTO outbox_deliveries (lane, outbox_id) VALUES ('push', NEW.id);
  INSERT INTO outbox_deliveries (lane, outbox_id)
  SELECT s.lane, NEW.id
    FROM webhook_subscriptions s
   WHERE s.tenant = NEW.tenant AND s.enabled
     AND (s.topics IS NULL OR NEW.topic = ANY (s.topics))
     AND (s.statuses IS NULL OR NEW.payload->>'status' = ANY (s.statuses))
     AND (s.business_lines IS NULL OR EXISTS (
           SELECT 1 FROM agents a
            WHERE a.tenant = NEW.tenant AND a.agent_id = NEW.agent_id AND a.business_line = ANY (s.business_lines)));
  RETURN NEW;
END $$;

-- Wake-up: a NOTIFY per commit would put every HCM commit through Postgres's global notify queue,
-- so commits skip it while a dispatcher says it is "hot" (polling fast because work keeps coming):
-- it extends `hot_until` a few times a second and lets it lapse when idle. Readers of the gate row
-- never block on the dispatcher (MVCC). Cold, the statement-level trigger notifies, and Postgres
-- folds identical notifications of one transaction into one.
CREATE TABLE outbox_wake_gate (
  id         integer PRIMARY KEY CHECK (id = 1),
  hot_until  timestamptz NOT NULL
);
INSERT INTO outbox_wake_gate VALUES (1, '-infinity');

CREATE FUNCTION outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outbox_wake_gate WHERE hot_until > clock_timestamp()) THEN
    PERFORM pg_notify('vigil_outbox', '');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER status_change_outbox_wake AFTER INSERT ON status_change_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();
