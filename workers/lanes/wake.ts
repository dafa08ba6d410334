// Wakes the lanes. Cold: LISTEN 'vigil_outbox' (commits notify) with a safety-net poll. Hot
// (work keeps coming): the dispatcher extends outbox_wake_gate so commits skip their NOTIFY
// (migration 4), and one "scout" query every `hotPollMs` finds which lanes have due rows and
// wakes only those — an idle webhook lane costs nothing while the feed is busy. Hot mode outlives
// the gate by a grace period, so a commit that saw the gate open just before it lapsed is still
// found by the scout.
import pg from 'pg';
import { closeWakeGate, extendWakeGate, lanesWithDueRows, OUTBOX_CHANNEL } from '../../db/deliveries.ts';
import type { Pool } from '../../db/pool.ts';
import { WEBHOOKS_CHANNEL } from '../../db/webhooks.ts';

export interface WakeOptions {
  /** Safety-net poll per lane (a lost notification costs at most this). */
  idlePollMs: number;
  /** The scout's interval while hot. */
  hotPollMs: number;
  /** How far ahead each extension of the gate reaches. */
  gateMs: number;
  /** Stay hot this long after the last work seen. */
  coolMs: number;
}

export const DEFAULT_WAKE: WakeOptions = { idlePollMs: 500, hotPollMs: 20, gateMs: 1_000, coolMs: 1_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Wake {
  private client: pg.Client | undefined;
  private waiters = new Map<string, Set<() => void>>();
  private lastWorkAt = 0;
  private hotUntil = 0;
  private extending = false;
  private scouting = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Called on 'vigil_webhooks' (subscriptions changed). */
  onSubscriptionsChanged: () => void = () => {};

  constructor(
    private pool: Pool,
    private databaseUrl: string,
    readonly o: WakeOptions = DEFAULT_WAKE,
    private onError: (e: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.listen();
    this.timer = setInterval(
      () => {
        if (Date.now() - this.lastWorkAt < this.o.coolMs) void this.extend();
      },
      Math.max(50, this.o.gateMs / 4),
    );
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.databaseUrl });
    const retry = () => setTimeout(() => void this.listen().catch(this.onError), 1_000);
    client.on('notification', (n) => {
      if (n.channel === WEBHOOKS_CHANNEL) this.onSubscriptionsChanged();
      this.wakeAll();
    });
    client.on('error', (err) => {
      this.onError(err);
      this.client = undefined;
      client.end().catch(() => {});
      retry();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      await client.query(`LISTEN ${WEBHOOKS_CHANNEL}`);
      this.client = client;
      // Whatever was committed while nobody listened.
      this.wakeAll();
    } catch (err) {
      this.onError(err);
      await client.end().catch(() => {});
      retry();
    }
  }

  get hot(): boolean {
    return Date.now() < this.hotUntil;
  }

  /** A lane found work: become (or stay) hot. */
  noteWork(): void {
    this.lastWorkAt = Date.now();
    if (this.hotUntil - Date.now() >= this.o.gateMs / 2) return;
    // Scout at once; until the gate row is written, commits still notify, so nothing waits.
    this.hotUntil = Math.max(this.hotUntil, Date.now() + this.o.coolMs);
    void this.extend();
    void this.scout();
  }

  private async extend(): Promise<void> {
    if (this.extending || this.stopped) return;
    this.extending = true;
    try {
      await extendWakeGate(this.pool, this.o.gateMs);
      this.hotUntil = Date.now() + this.o.gateMs + this.o.coolMs / 2;
    } catch (err) {
      this.onError(err);
    } finally {
      this.extending = false;
    }
  }

  /** While hot: which lanes have due rows? Wake those. */
  private async scout(): Promise<void> {
    if (this.scouting) return;
    this.scouting = true;
    try {
      while (this.hot && !this.stopped) {
        await sleep(this.o.hotPollMs);
        try {
          for (const lane of await lanesWithDueRows(this.pool)) this.wakeLane(lane);
        } catch (err) {
          this.onError(err);
        }
      }
    } finally {
      this.scouting = false;
    }
  }

  /** Resolves after `ms`, or earlier on a notification, the scout finding work for `lane`, or `wakeAll`. */
  wait(lane: string, ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    let set = this.waiters.get(lane);
    if (!set) this.waiters.set(lane, (set = new Set()));
    const waiting = set;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        waiting.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      waiting.add(done);
    });
  }

  private wakeLane(lane: string): void {
    for (const w of [...(this.waiters.get(lane) ?? [])]) w();
  }

  wakeAll(): void {
    for (const lane of this.waiters.keys()) this.wakeLane(lane);
  }

  /** Closes the gate it may hold open (another hot dispatcher re-opens it within a tick). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.wakeAll();
    if (this.hotUntil > 0) await closeWakeGate(this.pool).catch(this.onError);
    await this.client?.end().catch(() => {});
  }
}

/** A lane's own loop: a full round is followed at once by the next; otherwise it waits for a wake-up. */
export function runLaneLoop(
  wake: Wake,
  lane: string,
  full: number,
  pass: () => Promise<number>,
  onError: (e: unknown) => void,
): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      let n: number;
      try {
        n = await pass();
      } catch (err) {
        onError(err);
        await sleep(Math.max(wake.o.idlePollMs, 1_000));
        continue;
      }
      if (n > 0) wake.noteWork();
      if (n >= full) continue;
      await wake.wait(lane, wake.o.idlePollMs);
    }
  })();
  return {
    async stop() {
      running = false;
      wake.wakeAll();
      await loop;
    },
  };
}
