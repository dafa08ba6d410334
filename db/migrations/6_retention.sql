-- Retention (README "Limits and retention"): the `vigil-retention` schedule deletes old rows in
-- bounded batches. These indexes let each batch find its rows without scanning the table.

-- Deleting an outbox row cascades to its deliveries, and retention asks whether any delivery of a
-- row is still pending: both look deliveries up by outbox id (the primary key leads with the lane).
CREATE INDEX outbox_deliveries_by_outbox ON outbox_deliveries (outbox_id);
CREATE INDEX status_change_outbox_age ON status_change_outbox (created_at);
CREATE INDEX status_log_age ON unified_work_status_log (committed_at);
CREATE INDEX status_feed_age ON status_feed (committed_at);
-- Closed tasks are history, not facts: only open ones count.
CREATE INDEX tasks_closed_age ON tasks (updated_at) WHERE state = 'closed';
