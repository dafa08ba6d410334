-- Push lane reconciliation (README "Propagation", **Reconciliation**): per agent, the newest status
-- version one of its workbenches acknowledged (an `ack` frame naming that status push's msgId), and
-- what reconciliation last re-pushed, so a workbench that never acks is re-pushed a bounded number
-- of times per version rather than forever. One row per agent that ever acked or was re-pushed.
CREATE TABLE push_acks (
  tenant            text NOT NULL,
  agent_id          text NOT NULL,
  acked_version     bigint NOT NULL DEFAULT 0,
  acked_at          timestamptz,
  repushed_version  bigint NOT NULL DEFAULT 0,
  repushes          integer NOT NULL DEFAULT 0,
  repushed_at       timestamptz,
  PRIMARY KEY (tenant, agent_id),
  FOREIGN KEY (tenant, agent_id) REFERENCES agents ON DELETE CASCADE
);
