-- Region ownership switches (docs/DESIGN.md "Regions and business lines"). agents.region says which
-- region's workers may commit an agent; an operator moves agents between regions through the admin
-- API (db/agents.ts switchRegions), and every move is kept here with who did it and why.
CREATE TABLE agent_region_log (
  id           bigserial PRIMARY KEY,
  tenant       text NOT NULL,
  agent_id     text NOT NULL,
  from_region  text NOT NULL,
  to_region    text NOT NULL,
  -- `role:sub` of the admin who switched.
  actor        text NOT NULL,
  reason       text NOT NULL,
  switched_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant, agent_id) REFERENCES agents ON DELETE CASCADE
);
CREATE INDEX agent_region_log_by_agent ON agent_region_log (tenant, agent_id, id DESC);

-- The region of the worker that committed a change (the owner then); null for rows written before.
ALTER TABLE unified_work_status_log ADD COLUMN region text;
