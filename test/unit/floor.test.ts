import { describe, expect, it } from 'vitest';
import { FLOOR_HISTORY, floorView } from '../../gateway/floor.ts';

const AT = new Date('2026-01-01T12:00:00.000Z');
const counts = (o: Partial<Record<'ONLINE' | 'IDLE' | 'BUSY' | 'ABNORMAL' | 'OFFLINE', number>>) => ({
  ONLINE: 0,
  IDLE: 0,
  BUSY: 0,
  ABNORMAL: 0,
  OFFLINE: 0,
  ...o,
});

describe('floorView', () => {
  it('fills all five statuses, sorts groups by key and keeps the agents without a business line under ""', () => {
    const f = floorView({
      at: AT,
      byStatus: [
        { key: '', status: 'BUSY', n: 2 },
        { key: '', status: 'IDLE', n: 1 },
      ],
      byBusinessLine: [
        { key: 'sales', status: 'BUSY', n: 2 },
        { key: '', status: 'IDLE', n: 1 },
      ],
      bySkillGroup: [
        { key: 'sg-b', status: 'BUSY', n: 1 },
        { key: 'sg-a', status: 'BUSY', n: 2 },
        { key: 'sg-a', status: 'IDLE', n: 1 },
      ],
      moves: [],
    });
    expect(f).toMatchObject({
      at: AT.toISOString(),
      total: 3,
      byStatus: counts({ BUSY: 2, IDLE: 1 }),
      byBusinessLine: [
        { businessLine: '', total: 1, byStatus: counts({ IDLE: 1 }) },
        { businessLine: 'sales', total: 2, byStatus: counts({ BUSY: 2 }) },
      ],
      bySkillGroup: [
        { skillGroup: 'sg-a', total: 3, byStatus: counts({ BUSY: 2, IDLE: 1 }) },
        { skillGroup: 'sg-b', total: 1, byStatus: counts({ BUSY: 1 }) },
      ],
    });
    expect(f.history.stepSec).toBe(60);
    expect(f.history.points).toHaveLength(61);
    expect(f.history.points.every((p) => p.byStatus.BUSY === 2 && p.byStatus.IDLE === 1)).toBe(true);
  });

  it('walks the history back from now, undoing each point’s changes for the points before it', () => {
    const f = floorView({
      at: AT,
      byStatus: [
        { key: '', status: 'ABNORMAL', n: 1 },
        { key: '', status: 'BUSY', n: 1 },
      ],
      byBusinessLine: [],
      bySkillGroup: [],
      moves: [
        // 10 minutes ago one agent went ONLINE→IDLE, 5 minutes ago IDLE→ABNORMAL; 30 minutes ago the other ONLINE→BUSY.
        { point: 50, from: 'ONLINE', to: 'IDLE', n: 1 },
        { point: 55, from: 'IDLE', to: 'ABNORMAL', n: 1 },
        { point: 30, from: 'ONLINE', to: 'BUSY', n: 1 },
      ],
    });
    const at = (p: number) => f.history.points[p]!;
    expect(at(0).at).toBe('2026-01-01T11:00:00.000Z');
    expect(at(60).at).toBe(AT.toISOString());
    expect(at(60).byStatus).toEqual(counts({ ABNORMAL: 1, BUSY: 1 }));
    expect(at(55).byStatus).toEqual(counts({ ABNORMAL: 1, BUSY: 1 }));
    expect(at(54).byStatus).toEqual(counts({ IDLE: 1, BUSY: 1 }));
    expect(at(50).byStatus).toEqual(counts({ IDLE: 1, BUSY: 1 }));
    expect(at(49).byStatus).toEqual(counts({ ONLINE: 1, BUSY: 1 }));
    expect(at(30).byStatus).toEqual(counts({ ONLINE: 1, BUSY: 1 }));
    expect(at(29).byStatus).toEqual(counts({ ONLINE: 2 }));
    expect(at(0).byStatus).toEqual(counts({ ONLINE: 2 }));
    expect(f.history.points.every((p) => Object.values(p.byStatus).reduce((a, b) => a + b) === 2)).toBe(true);
    expect(FLOOR_HISTORY).toEqual({ stepSec: 60, points: 61 });
  });
});
