-- The activity record (README "Rule simulator"): what an agent's workflow needs to decide again,
-- kept per day so the rule simulator (and the timeline) can replay any range in the retention.
-- Written by the intake transaction (events) and the presence statements (devices), at the
-- gateway's clock. Partitioned by day; retention drops whole days (VIGIL_RETENTION_ACTIVITY_DAYS).

-- Pure activity as a bitmap: bit s of `bits` is set when the agent acted in second s (0–59) of
-- `minute`; `last_at` is the minute's last action to the millisecond (where a silence begins).
CREATE TABLE activity_seconds (
  day       date NOT NULL,
  tenant    text NOT NULL,
  agent_id  text NOT NULL,
  minute    timestamptz NOT NULL,
  bits      bigint NOT NULL,
  last_at   timestamptz NOT NULL,
  PRIMARY KEY (day, tenant, agent_id, minute)
) PARTITION BY RANGE (day);

-- Business events (work status, tickets) and device connects/disconnects, one row each.
CREATE TABLE agent_record (
  day        date NOT NULL,
  id         bigserial,
  tenant     text NOT NULL,
  agent_id   text NOT NULL,
  at         timestamptz NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('event', 'device')),
  type       integer,
  client_ts  bigint,
  ticket_id  text,
  device_id  text,
  connected  boolean,
  data       jsonb,
  PRIMARY KEY (day, id)
) PARTITION BY RANGE (day);
CREATE INDEX agent_record_by_agent ON agent_record (tenant, agent_id, at);

-- Rows of a day without its partition (a gateway running across days it did not prepare) land
-- here; creating the day's partition moves them in.
CREATE TABLE activity_seconds_default PARTITION OF activity_seconds DEFAULT;
CREATE TABLE agent_record_default PARTITION OF agent_record DEFAULT;

-- Creates the partitions of days [first, last] that do not exist yet (idempotent; takes a lock so
-- two gateways preparing at once do not collide).
CREATE FUNCTION vigil_record_partitions(first date, last date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d date := first;
  made integer := 0;
  t text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('vigil:record-partitions'));
  WHILE d <= last LOOP
    FOREACH t IN ARRAY ARRAY['activity_seconds', 'agent_record'] LOOP
      IF to_regclass(format('%s_%s', t, to_char(d, 'YYYYMMDD'))) IS NULL THEN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', t || '_' || to_char(d, 'YYYYMMDD'), t);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE day = %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                       t || '_default', d, t || '_' || to_char(d, 'YYYYMMDD'));
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       t, t || '_' || to_char(d, 'YYYYMMDD'), d, d + 1);
        made := made + 1;
      END IF;
    END LOOP;
    d := d + 1;
  END LOOP;
  RETURN made;
END $$;

-- Drops the partitions of days before `keep_from` (and clears such days from the default ones).
CREATE FUNCTION vigil_drop_record_before(keep_from date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r record;
  dropped integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('vigil:record-partitions'));
  FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname IN ('activity_seconds', 'agent_record') AND c.relname ~ '_[0-9]{8}$'
             AND to_date(right(c.relname, 8), 'YYYYMMDD') < keep_from LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM activity_seconds_default WHERE day < keep_from;
  DELETE FROM agent_record_default WHERE day < keep_from;
  RETURN dropped;
END $$;

SELECT vigil_record_partitions(current_date - 1, current_date + 2);
