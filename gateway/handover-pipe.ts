/**
 * The hand-over channel from the acceptor (acceptor.ts) to one gateway process, as the acceptor
 * sees it. Node passes one socket at a time over a process's IPC channel: after each, the next
 * waits until the receiving process has read it and acknowledged it (NODE_HANDLE_ACK), that is for
 * that process's next event-loop turn. A process busy with 20 ms turns takes about 35 connections a
 * second that way (200 connections handed to such a process took 5.8 s, the median one 2.9 s), and
 * every connection beyond waits in the acceptor's queue for the channel, where nobody sees it: its
 * request, sent already, then reaches the process seconds old and is shed there (on its own thread,
 * seconds late) or served seconds late. So a connection is handed over only while the channel
 * would deliver it within HANDOVER_MAX_WAIT_MS at its recent pace; beyond, it stays with the
 * acceptor, which reads its request and hands it over with it if the channel frees within that
 * bound (a burst of connections at an idle process), or sheds it.
 */

/** The longest a connection may wait in the acceptor for its hand-over (ms). */
export const HANDOVER_MAX_WAIT_MS = 20;
/**
 * Most connections waiting for one process's channel at once: an idle process takes them in a
 * fraction of a millisecond each, and when it turns busy at once, those already waiting wait its turns.
 */
export const HANDOVER_MAX_QUEUED = 32;

export class HandoverPipe {
  /** Send times (ms) of the hand-overs not yet delivered, oldest first (deliveries come in order). */
  private waiting: number[] = [];
  private lastDelivered = -Infinity;
  /** Moving average of the time one delivery took once it was next (ms); 0 until the first. */
  private perDelivery = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Hand-overs sent and not yet delivered. */
  get queued(): number {
    return this.waiting.length;
  }

  /** How many may wait at once: what the channel delivers within the bound at its recent pace (at least one). */
  get allowed(): number {
    if (this.perDelivery <= 0) return HANDOVER_MAX_QUEUED;
    return Math.max(1, Math.min(HANDOVER_MAX_QUEUED, Math.floor(HANDOVER_MAX_WAIT_MS / this.perDelivery)));
  }

  /**
   * Whether one more connection handed over now would reach the process within the bound: fewer
   * wait than the pace allows, and the oldest has not waited the bound already (the pace is old news).
   */
  get open(): boolean {
    const n = this.waiting.length;
    return n === 0 || (n < this.allowed && this.now() - this.waiting[0] < HANDOVER_MAX_WAIT_MS);
  }

  /** Called when a connection is handed over (sent on the channel). */
  sent(): void {
    this.waiting.push(this.now());
  }

  /** Called when a hand-over is delivered (the send's callback; also on error). */
  delivered(): void {
    const sentAt = this.waiting.shift();
    if (sentAt === undefined) return;
    const t = this.now();
    // Its own time: from when it became next (the previous one delivered, or its send).
    const took = t - Math.max(sentAt, this.lastDelivered);
    this.lastDelivered = t;
    this.perDelivery = this.perDelivery > 0 ? this.perDelivery * 0.8 + took * 0.2 : Math.max(took, 1e-3);
  }
}
