-- The sweeper holds no lock while it signals Temporal: it claims a dead gateway's leftovers in a
-- short transaction, signals, then deletes what it delivered in another. A claim lapses on its own,
-- so the leftovers of a sweeper that died mid-way are claimed again by the next one.
-- swept_at: a sweeper is reporting this device gone; a reconnect that takes the row over clears it
-- (and re-asserts its connect once that report has landed). In no index, so updates stay HOT.
ALTER TABLE device_sessions ADD COLUMN swept_at timestamptz;
ALTER TABLE intake_pending ADD COLUMN claimed_until timestamptz;
