-- Device liveness: when each device was last heard from, and whether it speaks over the websocket
-- or only over HTTP (POST /v1/events). HTTP devices have no socket whose close says they left, so
-- the sweeper expires them by last_seen_at.
ALTER TABLE device_sessions
  ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN via text NOT NULL DEFAULT 'ws' CHECK (via IN ('ws', 'http'));

-- last_seen_at is rewritten every second or two for each active device and is in no index: free
-- space in each page lets those updates stay HOT (no index writes). Applies to pages written from now on.
ALTER TABLE device_sessions SET (fillfactor = 80);
