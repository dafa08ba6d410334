-- Input health (README "Input health and degrade"): what each gateway's intake saw, the verdict per
-- scope, operators' overrides, and the ABNORMAL/OFFLINE candidates HCM held while a scope's input
-- looked broken.

-- Each gateway writes one row per bucket (its flush interval) and scope: events and actions
-- accepted, client-to-gateway lag, rejects and intake commits that failed. Pruned after an hour.
CREATE TABLE intake_stats (
  bucket         timestamptz NOT NULL,
  gateway_id     text NOT NULL,
  tenant         text NOT NULL,
  business_line  text NOT NULL,
  region         text NOT NULL,
  channel        text NOT NULL,   -- '' when the events named none
  events         integer NOT NULL,
  actions        integer NOT NULL,
  lag_ms_sum     double precision NOT NULL,
  lag_n          integer NOT NULL,
  rejects        integer NOT NULL,
  store_errors   integer NOT NULL,
  PRIMARY KEY (bucket, gateway_id, tenant, business_line, region, channel)
);

-- The verdict per scope: (tenant, business line), or (tenant, '*') for the whole tenant (only
-- operators force that one). The automatic part is rewritten by the evaluator; `forced` is the
-- operator's override ('on' holds, 'off' never holds, NULL follows the evaluator).
CREATE TABLE input_health (
  tenant              text NOT NULL,
  business_line       text NOT NULL,
  degraded            boolean NOT NULL DEFAULT false,
  reason              text,
  degraded_since      timestamptz,
  recovered_at        timestamptz,
  forced              text CHECK (forced IN ('on', 'off')),
  forced_by           text,
  forced_reason       text,
  forced_at           timestamptz,
  -- The latest sample and the baseline it was judged against.
  actions_window      double precision NOT NULL DEFAULT 0,
  baseline_actions    double precision,
  connected           integer NOT NULL DEFAULT 0,
  baseline_connected  double precision,
  heard               integer NOT NULL DEFAULT 0,
  acted               integer NOT NULL DEFAULT 0,
  lag_ms              double precision,
  rejects_window      integer NOT NULL DEFAULT 0,
  store_errors_window integer NOT NULL DEFAULT 0,
  samples             integer NOT NULL DEFAULT 0,
  -- From the scope's thresholds, for HCM: how long a hold lasts before the window is asked again,
  -- and how long holds go on after the scope recovered.
  hold_recheck_sec    integer NOT NULL DEFAULT 30,
  recovery_grace_sec  integer NOT NULL DEFAULT 60,
  evaluated_at        timestamptz,
  PRIMARY KEY (tenant, business_line)
);

-- Every change of a verdict or an override, with who and why.
CREATE TABLE input_health_log (
  id             bigserial PRIMARY KEY,
  tenant         text NOT NULL,
  business_line  text NOT NULL,
  at             timestamptz NOT NULL DEFAULT now(),
  change         text NOT NULL CHECK (change IN ('degraded', 'recovered', 'forced on', 'forced off', 'automatic')),
  actor          text NOT NULL,
  reason         text,
  detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX input_health_log_by_scope ON input_health_log (tenant, business_line, id);

-- System ABNORMAL/OFFLINE candidates HCM held (rejected with INPUT_DEGRADED), one row per window:
-- when first and last held, how often, and how the hold ended (committed, or released because
-- the facts moved the window).
CREATE TABLE held_candidates (
  tenant         text NOT NULL,
  agent_id       text NOT NULL,
  dedupe_key     text NOT NULL,
  to_status      text NOT NULL,
  cause          text NOT NULL,
  business_line  text NOT NULL,
  window_start   timestamptz NOT NULL,
  -- When the window would have closed had the input been healthy.
  due_at         timestamptz NOT NULL,
  first_held_at  timestamptz NOT NULL DEFAULT now(),
  last_held_at   timestamptz NOT NULL DEFAULT now(),
  holds          integer NOT NULL DEFAULT 1,
  resolved_at    timestamptz,
  outcome        text CHECK (outcome IN ('committed', 'released')),
  PRIMARY KEY (tenant, agent_id, dedupe_key)
);
CREATE INDEX held_candidates_open ON held_candidates (tenant, business_line) WHERE resolved_at IS NULL;

-- Per-scope thresholds live with the rules (a rule scoped to a business line, or tenant-wide).
ALTER TABLE rules ADD COLUMN input_health jsonb NOT NULL DEFAULT '{}';
ALTER TABLE rule_versions ADD COLUMN input_health jsonb NOT NULL DEFAULT '{}';
