// Wakes the lanes: LISTEN 'vigil_outbox' (commits while the dispatcher is cold) with polling as
// the safety net. While work keeps coming the dispatcher is "hot": it extends outbox_wake_gate
// so commits skip their NOTIFY (migration 4), and lanes poll every `hotPollMs` instead. Hot mode
// outlives the gate by a grace period, so a commit that saw the gate open just before it lapsed
// is still picked up by a fast poll.
import pg from 'pg';
import type { Pool } from '../../db/pool.ts';

export interface WakeOptions {
  /** Safety-net poll while cold (a lost notification costs at most this). */
  idlePollMs: number;
  hotPollMs: number;
  /** How far ahead each extension of the gate reaches. */
  gateMs: number;
  /** Stay hot this long after the last work seen. */
  coolMs: number;
}

export const DEFAULT_WAKE: WakeOptions = { idlePollMs: 500, hotPollMs: 20, gateMs: 1_000, coolMs: 1_000 };

export class Wake {
  private client: pg.Client | undefined;
  private waiters = new Set<() => void>();
  private lastWorkAt = 0;
  private hotUntil = 0;
  private extending = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Called on 'vigil_webhooks' (subscriptions changed). */
  onSubscriptionsChanged: () => void = () => {};

  constructor(private pool: Pool, private databaseUrl: string, readonly o: WakeOptions = DEFAULT_WAKE, private onError: (e: unknown) => void = () => {}) {}

  async start(): Promise<void> {
    await this.listen();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastWorkAt < this.o.coolMs) void this.extend();
    }, Math.max(50, this.o.gateMs / 4));
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === 'vigil_webhooks') this.onSubscriptionsChanged();
      this.wakeAll();
    });
    client.on('error', (err) => {
      this.onError(err);
      this.client = undefined;
      client.end().catch(() => {});
      setTimeout(() => void this.listen().catch(this.onError), 1_000);
    });
    try {
      await client.connect();
      await client.query('LISTEN vigil_outbox');
      await client.query('LISTEN vigil_webhooks');
      this.client = client;
      // Whatever was committed while nobody listened.
      this.wakeAll();
    } catch (err) {
      this.onError(err);
      await client.end().catch(() => {});
      setTimeout(() => void this.listen().catch(this.onError), 1_000);
    }
  }

  get hot(): boolean {
    return Date.now() < this.hotUntil;
  }

  pollMs(): number {
    return this.hot ? this.o.hotPollMs : this.o.idlePollMs;
  }

  /** A lane found work: become (or stay) hot. */
  noteWork(): void {
    this.lastWorkAt = Date.now();
    if (this.hotUntil - Date.now() >= this.o.gateMs / 2) return;
    // Poll fast at once; until the gate row is written, commits still notify, so nothing waits.
    this.hotUntil = Math.max(this.hotUntil, Date.now() + this.o.coolMs);
    void this.extend();
  }

  private async extend(): Promise<void> {
    if (this.extending || this.stopped) return;
    this.extending = true;
    try {
      await this.pool.query(
        `UPDATE outbox_wake_gate SET hot_until = GREATEST(hot_until, clock_timestamp() + $1 * interval '1 millisecond')`,
        [this.o.gateMs],
      );
      this.hotUntil = Date.now() + this.o.gateMs + this.o.coolMs / 2;
    } catch (err) {
      this.onError(err);
    } finally {
      this.extending = false;
    }
  }

  /** Resolves after `ms`, or earlier on a notification or `wakeAll`. */
  wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Closes the gate it may hold open (another hot dispatcher re-opens it within a tick). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.wakeAll();
    if (this.hotUntil > 0) await this.pool.query(`UPDATE outbox_wake_gate SET hot_until = '-infinity'`).catch(this.onError);
    await this.client?.end().catch(() => {});
  }
}

/** A lane's own loop: a full round is followed at once by the next; otherwise it waits for a wake-up. */
export function runLaneLoop(wake: Wake, full: number, pass: () => Promise<number>, onError: (e: unknown) => void): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      let n = 0;
      try {
        n = await pass();
      } catch (err) {
        onError(err);
        await wake.wait(Math.max(wake.o.idlePollMs, 1_000));
        continue;
      }
      if (n > 0) wake.noteWork();
      if (n >= full) continue;
      await wake.wait(wake.pollMs());
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
