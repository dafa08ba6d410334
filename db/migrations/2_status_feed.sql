-- The tenant's status feed in commit order. Only the dispatcher's feed lane writes it, one
-- transaction at a time under an advisory lock, so seq order is the order rows became visible.
CREATE TABLE status_feed (
  seq           bigserial PRIMARY KEY,
  event_id      uuid NOT NULL UNIQUE,
  tenant        text NOT NULL,
  agent_id      text NOT NULL,
  from_status   text NOT NULL,
  to_status     text NOT NULL,
  cause         text NOT NULL,
  actor         text NOT NULL,
  version       bigint NOT NULL,
  committed_at  timestamptz NOT NULL
);
CREATE INDEX status_feed_by_tenant ON status_feed (tenant, seq);
