-- Every version of every rule, for the operator console's rule history (GET /v1/rules/:ruleId/versions).
-- db/rules.ts upsertRule writes a rule and its new version here in one statement, so each version a
-- workflow ran under (status_table.rule_version, unified_work_status_log.rule_version) can be read
-- back as it was. Rules are never deleted, and neither is their history.
CREATE TABLE rule_versions (
  tenant                       text NOT NULL,
  rule_id                      text NOT NULL,
  version                      integer NOT NULL,
  business_line                text,
  skill_groups                 text[],
  channels                     text[],
  idle_after_no_task_sec       integer NOT NULL,
  remind_after_no_action_sec   integer NOT NULL,
  abnormal_after_no_action_sec integer NOT NULL,
  offline_after_abnormal_sec   integer NOT NULL,
  reminder_lock_sec            integer NOT NULL,
  reconnect_grace_sec          integer NOT NULL,
  offline_recovery             text NOT NULL,
  enabled                      boolean NOT NULL,
  -- When this version was written (rules.updated_at at the time).
  updated_at                   timestamptz NOT NULL,
  PRIMARY KEY (tenant, rule_id, version)
);

-- Versions written before this migration are gone; the history of an existing rule starts with
-- the version it has now.
INSERT INTO rule_versions (tenant, rule_id, version, business_line, skill_groups, channels, idle_after_no_task_sec,
    remind_after_no_action_sec, abnormal_after_no_action_sec, offline_after_abnormal_sec, reminder_lock_sec,
    reconnect_grace_sec, offline_recovery, enabled, updated_at)
  SELECT tenant, rule_id, version, business_line, skill_groups, channels, idle_after_no_task_sec,
         remind_after_no_action_sec, abnormal_after_no_action_sec, offline_after_abnormal_sec, reminder_lock_sec,
         reconnect_grace_sec, offline_recovery, enabled, updated_at
    FROM rules;
