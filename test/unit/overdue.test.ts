// The worker's overdue-deadline gauge (README "Engine metrics"): which estimated windows are due
// and how long ago the oldest fell due, per action (gateway/next-deadline.ts `overdueWindows`).
import { describe, expect, it } from 'vitest';
import type { AgentListRow } from '../../db/agents.ts';
import { overdueWindows } from '../../gateway/next-deadline.ts';
import { DEFAULT_RULE } from '../../workflows/model.ts';

const T0 = Date.parse('2026-01-01T10:00:00Z');

function agent(agentId: string, status: string, sinceMs: number, extra: Partial<AgentListRow> = {}): AgentListRow {
  return {
    agentId,
    tenant: 't',
    displayName: '',
    businessLine: '',
    status,
    statusCode: 0,
    cause: 'INITIAL',
    since: new Date(sinceMs).toISOString(),
    taskCount: 0,
    skillGroups: [],
    onApp: false,
    devices: [],
    lastSeenAt: null,
    deviceSessions: [],
    lastActionAt: null,
    version: 1,
    deadlineFacts: {
      channels: [],
      priorStatus: status === 'ABNORMAL' ? 'ONLINE' : null,
      offlineByWindow: false,
      lastReminderAt: null,
      createdAt: sinceMs,
      lastTaskClosedAt: null,
    },
    ...extra,
  };
}

describe('overdueWindows', () => {
  const now = T0 + 90_000;
  const rule = () => DEFAULT_RULE; // IDLE 30 s, reminder 480 s, ABNORMAL 600 s, OFFLINE 600 s

  it('reports the oldest due window per action and how many agents have one', () => {
    const out = overdueWindows(
      [
        agent('idle-late', 'ONLINE', T0), // IDLE due at T0+30 s: 60 s ago
        agent('idle-later', 'ONLINE', T0 + 40_000), // due at T0+70 s: 20 s ago
        agent('offline-late', 'ABNORMAL', T0 - 1_000_000), // OFFLINE due at T0−400 s: 490 s ago
        agent('busy', 'BUSY', T0, { lastActionAt: new Date(T0).toISOString() }), // reminder at T0+480 s
        agent('abnormal-fresh', 'ABNORMAL', T0), // OFFLINE at T0+600 s
      ],
      rule,
      now,
    );
    expect(out.IDLE).toEqual({ oldestSec: 60, agents: 2 });
    expect(out.OFFLINE).toEqual({ oldestSec: 490, agents: 1 });
    expect(out.REMIND).toEqual({ oldestSec: 0, agents: 0 });
    expect(out.ABNORMAL).toEqual({ oldestSec: 0, agents: 0 });
  });

  it('leaves out absence windows input health holds, and agents with a task (no IDLE window)', () => {
    const out = overdueWindows(
      [
        { ...agent('held', 'ABNORMAL', T0 - 1_000_000), held: true },
        agent('working', 'ONLINE', T0, { taskCount: 1, lastActionAt: new Date(T0).toISOString() }),
      ],
      rule,
      now,
    );
    expect(out.OFFLINE.agents).toBe(0);
    expect(out.IDLE.agents).toBe(0);
  });
});
