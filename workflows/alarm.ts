// The agent workflows' one durable timer (workflows/agent.ts, workflows/service.ts), kept while
// deadlines only move later: an agent who keeps acting (an instance that keeps beating) pushes its
// deadline on with every signal, and cancelling and restarting the timer each time would double
// the history per signal. A timer that fires early just re-arms for the real deadline.
import { CancellationScope, sleep } from '@temporalio/workflow';

export class Alarm {
  private armed: { at: number; scope: CancellationScope } | undefined;
  /** Set when the armed timer went off; the loop clears it. */
  fired = false;

  /** Aims the timer at `next` (null: nothing due, no timer). */
  aim(next: { at: number } | null): void {
    if (next && next.at > Date.now() && (!this.armed || this.armed.at > next.at)) this.arm(next.at);
    if (!next && this.armed) {
      this.armed.scope.cancel();
      this.armed = undefined;
    }
  }

  private arm(at: number): void {
    this.armed?.scope.cancel();
    const scope = new CancellationScope();
    this.armed = { at, scope };
    scope
      .run(() => sleep(Math.max(1, at - Date.now())))
      .then(
        () => {
          if (this.armed?.scope === scope) {
            this.armed = undefined;
            this.fired = true;
          }
        },
        () => {}, // cancelled for an earlier deadline
      );
  }
}
