// HCM's recheck of a candidate against the facts it has just locked: guard clauses, each naming
// the reason a candidate no longer holds. Pure, so property tests drive it with a model of HCM.
import type { Candidate, Facts, Reminder } from '../workflows/model.ts';

/** Why a candidate no longer holds, or undefined when it does. */
export function recheck(c: Candidate, facts: Facts, owner: string, region: string): string | undefined {
  if (owner !== region) return 'REGION_NOT_OWNER';
  if (c.from !== facts.status) return 'STALE_STATUS';
  if (c.to === facts.status) return 'NO_CHANGE';
  if (c.actor.kind !== 'system') return undefined;
  if (c.ruleId !== facts.rule.ruleId || c.ruleVersion !== facts.rule.version) return 'RULE_CHANGED';
  if (c.to === 'IDLE' && facts.taskCount > 0) return 'HAS_OPEN_TASKS';
  if (c.cause === 'TASK_ASSIGNED' && facts.taskCount === 0) return 'NO_OPEN_TASKS';
  // A resume needs an action after the status it leaves (a replayed old event is not one).
  if (c.cause === 'ACTIVITY_RESUMED' && c.windowStart < facts.since - 1000) return 'ACTION_BEFORE_STATUS';
  // Both times are the gateway's (engine 2): the margin only absorbs timestamptz rounding.
  if ((c.to === 'ABNORMAL' || c.to === 'OFFLINE') && (facts.lastActionAt ?? 0) > c.windowStart + 0.5)
    return 'ACTIVITY_SINCE';
  return undefined;
}

/** Why a reminder is not sent, or undefined when it is due. */
export function recheckReminder(
  r: Pick<Reminder, 'lastActionAt' | 'lockSec' | 'ruleId' | 'ruleVersion'>,
  facts: Facts,
  now: number,
): string | undefined {
  if (r.ruleId !== undefined && (r.ruleId !== facts.rule.ruleId || r.ruleVersion !== facts.rule.version))
    return 'RULE_CHANGED';
  if ((facts.lastActionAt ?? 0) > r.lastActionAt + 0.5) return 'ACTIVITY_SINCE';
  if (facts.lastReminderAt != null && now - facts.lastReminderAt < r.lockSec * 1000) return 'REMINDER_LOCK';
  return undefined;
}
