// Retention on real Postgres and the Temporal dev server: one run of retentionWorkflow deletes what
// is older than its retention and keeps younger rows, pending deliveries, young dead letters and
// each agent's newest status rows; batches are bounded; the schedule is created once.
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention } from '../../db/retention.ts';
import { loadConfig } from '../../platform/config.ts';
import { ensureRetentionSchedule, RETENTION_SCHEDULE_ID } from '../../workers/schedules.ts';
import { retentionWorkflow } from '../../workflows/retention.ts';
import { createHarness, type Harness, type RunningWorker } from '../harness.ts';

const DEFAULTS = loadConfig({}).retention;

describe('retention', () => {
  let h: Harness;
  let w: RunningWorker;
  beforeAll(async () => {
    h = await createHarness('retention');
    w = await h.startWorker();
  });
  afterAll(async () => {
    await w?.stop();
    await h?.close();
  });

  const q = (sql: string, params: unknown[] = []) => h.pool.query(sql, params);

  /** An outbox row committed `ageSec` ago (the trigger adds its feed and push deliveries). */
  async function outbox(
    agentId: string,
    version: number,
    ageSec: number,
    topic: 'status' | 'reminder' = 'status',
  ): Promise<number> {
    const { rows } = await q(
      `INSERT INTO status_change_outbox (tenant, agent_id, topic, version, dedupe_key, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, '{}', now() - make_interval(secs => $6)) RETURNING id`,
      [h.tenant, agentId, topic, version, randomUUID(), ageSec],
    );
    return Number(rows[0].id);
  }
  const deliveries = (id: number, set: string) => q(`UPDATE outbox_deliveries SET ${set} WHERE outbox_id = $1`, [id]);
  const DAY = 86_400;

  it('one run of retentionWorkflow deletes only what is past its retention', async () => {
    const t = h.tenant;
    // Outbox (7 days; dead letters 30 days; the newest status row of an agent always stays).
    const done = await outbox('r1', 1, 8 * DAY);
    await deliveries(done, `state = 'done', delivered_at = now() - interval '8 days'`);
    const pending = await outbox('r1', 2, 8 * DAY);
    await deliveries(pending, `state = 'done'`);
    await q(`UPDATE outbox_deliveries SET state = 'pending' WHERE outbox_id = $1 AND lane = 'push'`, [pending]);
    const youngDead = await outbox('r1', 3, 8 * DAY);
    await deliveries(youngDead, `state = 'done'`);
    await q(
      `UPDATE outbox_deliveries SET state = 'dead', next_attempt_at = now() - interval '2 days' WHERE outbox_id = $1 AND lane = 'feed'`,
      [youngDead],
    );
    const oldDead = await outbox('r1', 4, 40 * DAY);
    await deliveries(oldDead, `state = 'dead', next_attempt_at = now() - interval '39 days'`);
    const reminder = await outbox('r1', 4, 8 * DAY, 'reminder');
    await deliveries(reminder, `state = 'done'`);
    const newest = await outbox('r1', 5, 8 * DAY);
    await deliveries(newest, `state = 'done'`);
    const young = await outbox('r2', 1, 1 * DAY);
    await deliveries(young, `state = 'done'`);
    await deliveries(await outbox('r2', 2, 60), `state = 'done'`);

    // Status log (90 days; the newest row of an agent always stays).
    for (const [agent, version, ageDays] of [
      ['r1', 1, 100],
      ['r1', 2, 100],
      ['r1', 3, 100],
      ['r2', 1, 10],
    ] as const) {
      await q(
        `INSERT INTO unified_work_status_log (tenant, agent_id, version, from_status, to_status, cause, actor, window_start, dedupe_key, committed_at)
         VALUES ($1, $2, $3, 'ONLINE', 'IDLE', 'NO_TASK', 'system:vigil', now(), $4, now() - make_interval(days => $5))`,
        [t, agent, version, randomUUID(), ageDays],
      );
    }
    // Feed (7 days).
    for (const ageDays of [8, 8, 1]) {
      await q(
        `INSERT INTO status_feed (event_id, tenant, agent_id, from_status, to_status, cause, actor, version, committed_at)
         VALUES (gen_random_uuid(), $1, 'r1', 'ONLINE', 'IDLE', 'NO_TASK', 'system:vigil', 1, now() - make_interval(days => $2))`,
        [t, ageDays],
      );
    }
    // Push messages (15 minutes).
    for (const ageMin of [20, 5]) {
      await q(
        `INSERT INTO push_messages (tenant, agent_id, outbox_id, topic, data, created_at)
         VALUES ($1, 'r1', $2, 'status', '{}', now() - make_interval(mins => $3))`,
        [t, 1e12 + Math.floor(Math.random() * 1e9), ageMin],
      );
    }
    // reqId dedupe (1 day).
    for (const [reqId, ageHours] of [
      ['old', 25],
      ['new', 1],
    ] as const) {
      await q(
        `INSERT INTO event_dedupe (tenant, agent_id, req_id, received_at) VALUES ($1, 'r1', $2, now() - make_interval(hours => $3))`,
        [t, reqId, ageHours],
      );
    }
    // Tasks (closed ones 30 days; open ones are facts).
    for (const [ticket, state, ageDays] of [
      ['closed-old', 'closed', 31],
      ['open-old', 'open', 31],
      ['closed-new', 'closed', 1],
    ] as const) {
      await q(
        `INSERT INTO tasks (tenant, agent_id, ticket_id, state, last_event_type, updated_at) VALUES ($1, 'r1', $2, $3, 3, now() - make_interval(days => $4))`,
        [t, ticket, state, ageDays],
      );
    }

    // Held windows (as the status log, once resolved; an open hold always stays).
    for (const [key, resolvedDays] of [
      ['held-old', 100],
      ['held-new', 1],
      ['held-open', null],
    ] as const) {
      await q(
        `INSERT INTO held_candidates (tenant, agent_id, dedupe_key, to_status, cause, business_line, window_start,
            due_at, first_held_at, resolved_at, outcome)
         VALUES ($1, 'r1', $2, 'ABNORMAL', 'NO_ACTION', '', now() - interval '101 days', now() - interval '101 days',
            now() - interval '101 days', now() - make_interval(days => $3::int),
            CASE WHEN $3::int IS NOT NULL THEN 'committed' END)`,
        [t, key, resolvedDays],
      );
    }

    // Recovery steps of fleet mode (as the status log).
    for (const ageDays of [100, 1]) {
      await q(
        `INSERT INTO fleet_recovery_steps (tenant, agent_id, incident, step, outcome, at)
         VALUES ($1, 'r1', $2, 'restart', 'done', now() - make_interval(days => $3))`,
        [t, `inc-${ageDays}`, ageDays],
      );
    }

    // The activity record (14 days): a day 30 days ago has its two partitions, dropped whole.
    await q(`SELECT vigil_record_partitions(current_date - 30, current_date - 30)`, []);

    const result = await h.client.workflow.execute(retentionWorkflow, {
      taskQueue: h.taskQueue,
      workflowId: `retention-${t}`,
      workflowExecutionTimeout: '2 minutes',
    });
    expect(result.more).toBe(false);
    // Other test files' rows are all younger than any retention: every deletion counted is one of ours.
    expect(result.deleted).toEqual({
      outbox: 3,
      statusLog: 2,
      feed: 2,
      push: 1,
      dedupe: 1,
      closedTasks: 1,
      heldWindows: 1,
      recoverySteps: 1,
      recordDays: 2,
    });

    const { rows: left } = await q(`SELECT id FROM status_change_outbox WHERE tenant = $1 ORDER BY id`, [t]);
    const ids = left.map((r) => Number(r.id));
    expect(ids).not.toContain(done);
    expect(ids).not.toContain(oldDead);
    expect(ids).not.toContain(reminder);
    for (const kept of [pending, youngDead, newest, young]) expect(ids).toContain(kept);
    // Their deliveries went with them; the pending one and the young dead letter are untouched.
    const { rows: orphans } = await q(
      `SELECT count(*)::int AS n FROM outbox_deliveries WHERE outbox_id = ANY($1::bigint[])`,
      [[done, oldDead, reminder]],
    );
    expect(orphans[0].n).toBe(0);
    const { rows: kept } = await q(
      `SELECT outbox_id, lane, state FROM outbox_deliveries WHERE outbox_id = ANY($1::bigint[]) AND state <> 'done'`,
      [[pending, youngDead]],
    );
    expect(kept.map((r) => [Number(r.outbox_id), r.lane, r.state]).sort()).toEqual(
      [
        [pending, 'push', 'pending'],
        [youngDead, 'feed', 'dead'],
      ].sort(),
    );

    const { rows: log } = await q(
      `SELECT agent_id, version FROM unified_work_status_log WHERE tenant = $1 ORDER BY agent_id, version`,
      [t],
    );
    expect(log.map((r) => `${r.agent_id}:${r.version}`)).toEqual(['r1:3', 'r2:1']);
    const { rows: feed } = await q(`SELECT count(*)::int AS n FROM status_feed WHERE tenant = $1`, [t]);
    expect(feed[0].n).toBe(1);
    const { rows: push } = await q(`SELECT count(*)::int AS n FROM push_messages WHERE tenant = $1`, [t]);
    expect(push[0].n).toBe(1);
    const { rows: dedupe } = await q(`SELECT req_id FROM event_dedupe WHERE tenant = $1`, [t]);
    expect(dedupe.map((r) => r.req_id)).toEqual(['new']);
    const { rows: tasks } = await q(`SELECT ticket_id FROM tasks WHERE tenant = $1 ORDER BY ticket_id`, [t]);
    expect(tasks.map((r) => r.ticket_id)).toEqual(['closed-new', 'open-old']);
  });

  it('deletes in bounded batches and stops when its time budget is spent', async () => {
    const t = `${h.tenant}-batch`;
    const insertFeed = (n: number) =>
      q(
        `INSERT INTO status_feed (event_id, tenant, agent_id, from_status, to_status, cause, actor, version, committed_at)
       SELECT gen_random_uuid(), $1, 'b', 'ONLINE', 'IDLE', 'NO_TASK', 'system:vigil', g, now() - interval '30 days'
         FROM generate_series(1, $2) g`,
        [t, n],
      );
    const count = async () =>
      Number((await q(`SELECT count(*)::int AS n FROM status_feed WHERE tenant = $1`, [t])).rows[0].n);
    await insertFeed(23);
    // No budget: not one statement is started.
    const none = await applyRetention(h.pool, { ...DEFAULTS, budgetMs: 0 });
    expect(none).toMatchObject({ statements: 0, more: true });
    expect(await count()).toBe(23);
    // Batches of 5: 23 rows take 5 feed statements (5, 5, 5, 5, 3).
    const batches: number[] = [];
    const r = await applyRetention(
      h.pool,
      { ...DEFAULTS, batch: 5 },
      { onBatch: (table, n) => table === 'feed' && batches.push(n) },
    );
    expect(batches).toEqual([5, 5, 5, 5, 3]);
    expect(r.deleted.feed).toBe(23);
    expect(r.more).toBe(false);
    expect(await count()).toBe(0);
  });

  it('the schedule is created once, with overlapping runs skipped', async () => {
    expect(await ensureRetentionSchedule(h.client, { taskQueue: h.taskQueue, everySec: 3600 })).toBe(true);
    try {
      expect(await ensureRetentionSchedule(h.client, { taskQueue: h.taskQueue, everySec: 3600 })).toBe(false);
      const s = await h.client.schedule.getHandle(RETENTION_SCHEDULE_ID).describe();
      expect(s.action.type === 'startWorkflow' && s.action.workflowType).toBe('retentionWorkflow');
      expect(s.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    } finally {
      await h.client.schedule.getHandle(RETENTION_SCHEDULE_ID).delete();
    }
  });
});
