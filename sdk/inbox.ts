// Pushes coming in, over the websocket or from the fallback's polling: which msgIds were already
// delivered, which acks the gateway is still owed, and the last msgId, where polling resumes.
import { RecentIds } from './recent.ts';

const RECENT_MSG_IDS = 1000;
const MAX_PENDING_ACKS = 1000;

export class Inbox {
  private readonly seen = new RecentIds(RECENT_MSG_IDS);
  private acks: string[] = [];
  private last: string | undefined;

  /** The newest msgId delivered; `GET /v1/messages?after=` starts after it. */
  get lastMsgId(): string | undefined {
    return this.last;
  }

  /** Owes the gateway an ack for msgId; true the first time it arrives, false for a repeat. */
  receive(msgId: string): boolean {
    // Ack repeats too: the gateway re-sent because it never saw our ack.
    this.acks.push(msgId);
    if (this.acks.length > MAX_PENDING_ACKS) this.acks.splice(0, this.acks.length - MAX_PENDING_ACKS);
    if (!this.seen.add(msgId)) return false;
    this.last = msgId;
    return true;
  }

  /** Hands the owed acks to `send`; they are forgotten once it reports them sent. */
  sendAcks(send: (msgIds: string[]) => boolean): void {
    if (this.acks.length > 0 && send(this.acks)) this.acks = [];
  }
}
