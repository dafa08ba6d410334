-- Push delivery per device (README "The gateway", push): the newest push message each device of an
-- agent acknowledged. A device reconnecting is sent, in order, the agent's messages after it that
-- are still kept; a device seen for the first time starts from the agent's newest message.
CREATE TABLE push_device_acks (
  tenant     text NOT NULL,
  agent_id   text NOT NULL,
  device_id  text NOT NULL,
  acked_seq  bigint NOT NULL,
  acked_at   timestamptz,
  PRIMARY KEY (tenant, agent_id, device_id)
);
