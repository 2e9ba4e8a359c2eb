import type { LoopLag } from './loop-lag.js';

/**
 * Admission control for the ingest routes: refuse early (503 GW_ERR_OVERLOADED, jittered
 * Retry-After) when a new request would wait too long, instead of letting a spike queue up
 * (seconds of latency, client timeouts, retries into the same queue, memory growth).
 *
 * What a request would wait is judged three ways, all cheap:
 * - how long a request read now has at least waited unread, in the socket, behind the requests
 *   the event loop was already busy with (loop-lag.ts): the queue of a saturated gateway thread,
 *   which the process cannot count, since it sits in the kernel. Past `maxLoopLagMs`, while the
 *   loop is busy, the request is refused as soon as it is read;
 * - the age of the oldest request admitted and not yet answered (its body was read, it waits for
 *   validation, the CPU, the next Kafka send or the acknowledgement): past `maxDelayMs` the queue is
 *   not draining in time;
 * - the expected delay: events waiting for Kafka divided by the rate Kafka acknowledged them at
 *   over the last second, so a burst is refused before anyone has waited that long.
 * A request is also refused when `maxRequests` are admitted and unanswered, or when the request
 * bodies held in memory (admitted, not yet answered; by Content-Length, before the body is read)
 * would pass `maxBytes`.
 *
 * The clock of a request starts when it is known to have arrived, not when the gateway got to it:
 * a saturated gateway's requests wait in the kernel (accept queue, socket buffers) and, behind the
 * acceptor, in the hand-over between processes, where its own bookkeeping never sees them. What it
 * can tell is a lower bound (`check`'s `since`): the loop's unread estimate above, the moment its
 * connection was accepted (for the first request on it) or the moment the acceptor read its head.
 * A request that has already waited past `maxDelayMs` when it is read is refused ('waited'): it
 * could only be answered late, and serving it would make every request behind it later still.
 * An admitted request's clock then runs from that arrival, less the time its body took to upload
 * (a client uploading slowly delays nobody but itself).
 */
export interface AdmissionOptions {
  /** The bound on queueing delay (GATEWAY_MAX_QUEUE_DELAY_MS); 0 disables delay-based shedding. */
  maxDelayMs: number;
  /** The bound on request bytes held (GATEWAY_MAX_QUEUED_BYTES). */
  maxBytes: number;
  /** Retry-After of a shed request is drawn uniformly from 1..retryAfterMaxS seconds (spreads the retries). */
  retryAfterMaxS: number;
  /** Most admitted, unanswered requests (GATEWAY_MAX_REQUESTS_IN_FLIGHT); 0: no bound. */
  maxRequests?: number;
  /** The bound on the wait of a request before it is read (GATEWAY_MAX_LOOP_LAG_MS); 0 disables it. */
  maxLoopLagMs?: number;
  /** The loop's busy share (0..1) from which `maxLoopLagMs` applies (GATEWAY_SHED_MIN_LOOP_BUSY_PCT / 100). */
  minLoopBusy?: number;
}

/**
 * The loop signal sheds only in a batch of more than this many requests: a queue. A few requests in
 * a long turn (a busy process that is not busy with requests) are left to the other bounds.
 */
export const MIN_QUEUE = 16;

export type ShedReason = 'loop_lag' | 'waited' | 'queue_delay' | 'expected_delay' | 'requests' | 'bytes';
/**
 * Reasons in the shed metric: the gateway's own; `acceptor`, shed by the acceptor process while every
 * gateway process was overloaded or saturated (or none was ready yet); `acceptor_busy`, shed by it while
 * one had room but its hand-over channel could not take the new connection in time (acceptor.ts).
 */
export type CountedReason = ShedReason | 'acceptor' | 'acceptor_busy';

/** The inputs of the rules at a shed (logged, see `registerAdmission`). */
export interface ShedInputs {
  waitedMs: number;
  unreadMs: number;
  batchReads: number;
  /** Percent. */
  runShare: number;
  oldestAgeMs: number;
  eventsWaiting: number;
  ackRate: number;
  requestsHeld: number;
  bytesHeld: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export class Admission {
  /** Start times of admitted requests, in admission order; answered ones are marked NaN and skipped from the head. */
  private starts: number[] = [];
  private head = 0;
  /** Absolute index of starts[0] (the array is compacted now and then). */
  private offset = 0;
  private bytes = 0;
  private held = 0;
  /** Events Kafka acknowledged per second of busy time (while events waited for it), a moving average over about a second of it; 0: unknown. */
  private ackRate = 0;
  private ackedSince = 0;
  /** Busy time (ms) `ackedSince` took, counted up to `busyAt`. */
  private busyMs = 0;
  private busyAt = 0;
  /** Nothing was left waiting for Kafka at the last acknowledgement: the time since is idle until a send begins. */
  private drained = true;
  private waited = 0;

  constructor(
    private readonly opts: AdmissionOptions,
    private readonly eventsWaiting: () => number,
    private readonly now: () => number = () => performance.now(),
    private readonly loop: LoopLag | null = null,
  ) {}

  /**
   * Called when a request's head is read, before its body: why it must be refused, or null (then
   * `hold` its bytes). `since`: the earliest moment (this clock) the request is known to have been
   * waiting, NaN when unknown; `exact` when it is the moment its head was read (by the acceptor),
   * otherwise the moment its connection was accepted, which counts only while the loop is busy (an
   * idle gateway reads at once, so the time since accept is the client's own, e.g. a preconnect).
   */
  check(contentLength: number, since = NaN, exact = false): ShedReason | null {
    // Every read is shown to the loop monitor, whatever the answer: it marks the loop's turns.
    const unread = this.loop ? this.loop.read() : 0;
    // Busy with its own work (run share, loop-lag.ts), not waiting for a core: shedding cannot shorten a wait the machine imposes.
    const busy = !this.loop || this.loop.runShare >= (this.opts.minLoopBusy ?? 0);
    this.waited = Number.isNaN(since) || !(exact || busy) ? unread : Math.max(unread, this.now() - since);
    const maxLag = this.opts.maxLoopLagMs ?? 0;
    if (maxLag > 0 && unread > maxLag && this.loop!.batchReads > MIN_QUEUE && busy) return 'loop_lag';
    const maxRequests = this.opts.maxRequests ?? 0;
    if (maxRequests > 0 && this.held >= maxRequests) return 'requests';
    if (this.bytes + contentLength > this.opts.maxBytes && this.bytes > 0) return 'bytes';
    if (this.opts.maxDelayMs <= 0) return null;
    if (this.waited > this.opts.maxDelayMs) return 'waited';
    if (this.oldestAgeMs() > this.opts.maxDelayMs) return 'queue_delay';
    if (this.expectedDelayMs() > this.opts.maxDelayMs) return 'expected_delay';
    return null;
  }

  /** Called for an admitted request in onRequest: its body's bytes count until `release`. */
  hold(contentLength: number): void {
    this.bytes += contentLength;
    this.held++;
  }

  /** Called once per admitted request when its response is sent or it is aborted. */
  release(contentLength: number): void {
    this.bytes = Math.max(0, this.bytes - contentLength);
    this.held = Math.max(0, this.held - 1);
  }

  /** How long the request last passed to `check` had waited before it was read (ms, a lower bound). */
  get waitedMs(): number {
    return this.waited;
  }

  /**
   * Called when an admitted request's body is in (preHandler), with how long it had waited before
   * its head was read (`waitedMs` then): its clock starts that long before now. Returns the token for `leave`.
   */
  enter(waitedMs = 0): number {
    this.starts.push(this.now() - waitedMs);
    return this.offset + this.starts.length - 1;
  }

  /** Called once per entered request, when it is answered or aborted; returns how long it waited (ms). */
  leave(token: number): number {
    const i = token - this.offset;
    const waited = this.now() - this.starts[i];
    this.starts[i] = NaN;
    while (this.head < this.starts.length && Number.isNaN(this.starts[this.head])) this.head++;
    if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.offset += this.head;
      this.head = 0;
    }
    return waited;
  }

  /**
   * Called with each Kafka acknowledgement (`events` of one request, whose send took `tookMs`):
   * feeds the drain rate behind the expected delay. The rate counts only busy time, while something
   * waited for Kafka: over wall time, the first acknowledgement after an idle pause was divided by
   * the whole pause, the rate fell to nearly nothing, and a Kafka hiccup then read as seconds of
   * expected delay (a few 503s without overload). After a pause, the busy time starts when the send
   * acknowledged began.
   */
  acked(events: number, tookMs: number): void {
    const t = this.now();
    const from = this.drained ? Math.max(this.busyAt, t - tookMs) : this.busyAt;
    this.busyMs += Math.max(0, t - from);
    this.busyAt = t;
    this.ackedSince += events;
    this.drained = this.eventsWaiting() <= events;
    this.updateRate();
  }

  private updateRate(): void {
    const t = this.now();
    // Events waiting and no acknowledgement yet (a stalled Kafka): that time is busy too, and the rate falls.
    const busy = this.busyMs + (this.drained ? 0 : t - this.busyAt);
    if (busy < 100) return;
    const instant = (this.ackedSince * 1000) / busy;
    // Weight of the new sample grows with its span: about a second's memory; the first sample is taken whole (an average with 0 would start at a tenth of it).
    const w = this.ackRate > 0 ? Math.min(1, busy / 1000) : 1;
    this.ackRate = this.ackRate * (1 - w) + instant * w;
    this.ackedSince = 0;
    this.busyMs = 0;
    this.busyAt = t;
  }

  /** Age of the oldest admitted request not yet answered, in ms (0 when none). */
  oldestAgeMs(): number {
    return this.head < this.starts.length ? this.now() - this.starts[this.head] : 0;
  }

  /** Events waiting for Kafka over the recent acknowledgement rate, in ms (0 while little waits or the rate is unknown). */
  expectedDelayMs(): number {
    const waiting = this.eventsWaiting();
    // A few batches always wait for the next send: only a queue worth judging is judged.
    if (waiting < 2000 || this.ackRate <= 0) return 0;
    this.updateRate();
    return (waiting * 1000) / Math.max(1, this.ackRate);
  }

  /** What the rules judged at the last `check` (for the shed log: which input tripped which rule). */
  inputs(): ShedInputs {
    return {
      waitedMs: round1(this.waited),
      unreadMs: round1(this.loop ? this.loop.lastReadWaitMs : 0),
      batchReads: this.loop ? this.loop.batchReads : 0,
      runShare: round1(this.loop ? this.loop.runShare * 100 : 100),
      oldestAgeMs: round1(this.oldestAgeMs()),
      eventsWaiting: this.eventsWaiting(),
      ackRate: Math.round(this.ackRate),
      requestsHeld: this.held,
      bytesHeld: this.bytes,
    };
  }

  get maxDelayMs(): number {
    return this.opts.maxDelayMs;
  }

  get maxLoopLagMs(): number {
    return this.opts.maxLoopLagMs ?? 0;
  }

  get maxRequests(): number {
    return this.opts.maxRequests ?? 0;
  }

  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  get bytesHeld(): number {
    return this.bytes;
  }

  /** Admitted ingest requests not yet answered. */
  get requestsHeld(): number {
    return this.held;
  }

  /** Retry-After seconds for a shed request: uniform in 1..retryAfterMaxS, so retries do not return together. */
  retryAfter(): number {
    return 1 + Math.floor(Math.random() * Math.max(1, this.opts.retryAfterMaxS));
  }
}
