import type { FastifyBaseLogger } from 'fastify';
import { GatewayError } from './errors.js';
import type { EventProducer, OutRecord } from './event-producer.js';
import type { GatewayMetrics } from './metrics.js';

export interface DeliveryOptions {
  timeoutMs: number;
  maxInFlight: number;
  retryAfterS: number;
  /** Called with the number of records of each acknowledged send and how long it took (ms): admission control's drain rate. */
  onAcked?: (records: number, tookMs: number) => void;
}

/**
 * Between a request and Kafka: refuses at once (503) when Kafka is known to be down or when
 * too many events already wait for an acknowledgement (bounded memory), and stops waiting
 * after `timeoutMs` (503) without forgetting the send: the records stay counted as in flight
 * until Kafka settles them, `onSettled` still learns the outcome (so dedup remembers a late
 * success), and shutdown waits for them.
 */
/** A request waiting for Kafka's answer to its send, until its deadline. */
interface Waiter {
  deadline: number;
  records: number;
  log: FastifyBaseLogger;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Answered already (acknowledged, failed or timed out). */
  done: boolean;
}

export class Delivery {
  private inFlight = 0;
  /** Sends Kafka has not answered yet (shutdown waits for them). */
  private unsettled = 0;
  private drained: (() => void)[] = [];
  /**
   * Requests waiting for an answer, in the order they were sent: with one timeout for all, that is
   * the order of their deadlines, so one timer armed for the oldest one times them all out (a timer
   * per request cost a Timeout object, a timer-list insertion and its removal per request: 2 % of
   * the stubbed gateway's CPU, profile of 2 Dec 2026). Answered ones leave from the front.
   */
  private waiting: Waiter[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly producer: EventProducer,
    private readonly opts: DeliveryOptions,
    private readonly metrics: GatewayMetrics,
  ) {}

  get eventsInFlight(): number {
    return this.inFlight;
  }

  isAvailable(): boolean {
    return this.producer.isAvailable();
  }

  private unavailable(reason: 'unavailable' | 'overloaded' | 'timeout' | 'error', detail?: string): GatewayError {
    this.metrics.produceFailures.inc({ reason });
    if (reason === 'overloaded') return new GatewayError('GW_ERR_OVERLOADED', detail, 1);
    return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', detail, this.opts.retryAfterS);
  }

  /** The 503 for a request that cannot be decided yet (e.g. its events' originals are still in flight). */
  retryLater(detail: string): GatewayError {
    return this.unavailable('timeout', detail);
  }

  /** Throws the 503 a request would get, without sending anything. */
  check(events: number): void {
    if (!this.producer.isAvailable()) throw this.unavailable('unavailable');
    if (this.inFlight + events > this.opts.maxInFlight) throw this.unavailable('overloaded', `${this.inFlight} events already waiting for Kafka`);
  }

  /**
   * Resolves once Kafka has acknowledged every record; throws a 503 GatewayError otherwise.
   * `onSettled(ok)` runs when Kafka's answer comes, even if the caller stopped waiting.
   */
  send(records: OutRecord[], log: FastifyBaseLogger, onSettled?: (ok: boolean) => void): Promise<void> {
    try {
      this.check(records.length);
    } catch (err) {
      onSettled?.(false);
      return Promise.reject(err);
    }
    const n = records.length;
    this.inFlight += n;
    this.unsettled++;
    this.metrics.inFlight.set(this.inFlight);
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { deadline: started + this.opts.timeoutMs, records: n, log, resolve, reject, done: false };
      this.waiting.push(w);
      this.arm(w.deadline);
      let sent: Promise<void>;
      try {
        sent = this.producer.send(records);
      } catch (err) {
        sent = Promise.reject(err);
      }
      sent.then(
        () => {
          try {
            const took = performance.now() - started;
            this.metrics.produceSeconds.observe({ outcome: 'ack' }, took / 1000);
            this.opts.onAcked?.(n, took);
          } finally {
            this.settled(n, onSettled, true);
          }
          this.answer(w, null);
        },
        (err: unknown) => {
          try {
            this.metrics.produceSeconds.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
          } finally {
            this.settled(n, onSettled, false);
          }
          this.failed(w, err);
        },
      ).catch((err: unknown) => this.failed(w, err));
    });
  }

  /**
   * A send failed (or answering its success threw): 503 to its request, unless already answered.
   * A method, not a named closure per send: run from source, each named closure cost a
   * defineProperty of its name per request (about 2 µs, profile of 5 Dec 2026).
   */
  private failed(w: Waiter, err: unknown): void {
    if (w.done) return;
    w.log.warn({ err: (err as Error).message, records: w.records }, 'produce failed; answering 503');
    this.answer(w, this.unavailable('error'));
  }

  /** Kafka answered a send: it counts as in flight no more, and `onSettled` learns the outcome. */
  private settled(n: number, onSettled: ((ok: boolean) => void) | undefined, ok: boolean): void {
    this.inFlight -= n;
    this.unsettled--;
    this.metrics.inFlight.set(this.inFlight);
    try {
      onSettled?.(ok);
    } finally {
      if (this.unsettled === 0 && this.drained.length > 0) for (const done of this.drained.splice(0)) done();
    }
  }

  /** Answers a waiting request once (an ack after its timeout changes nothing), and drops answered ones from the front. */
  private answer(w: Waiter, err: unknown): void {
    if (!w.done) {
      w.done = true;
      if (err === null) w.resolve();
      else w.reject(err);
    }
    const q = this.waiting;
    while (this.head < q.length && q[this.head].done) this.head++;
    if (this.head === q.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.waiting = q.slice(this.head);
      this.head = 0;
    }
  }

  /** The timer for the oldest deadline (one for every waiting request). */
  private arm(deadline: number): void {
    if (this.timer !== undefined && this.timerAt <= deadline) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = deadline;
    // Unref'd: it outlives the last answered request until its deadline, which must not hold a
    // process open (a request still waiting has its connection, which does).
    this.timer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now())).unref();
  }

  /** Answers 503 to every request past its deadline, and re-arms for the next one. */
  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    const q = this.waiting;
    while (this.head < q.length) {
      const w = q[this.head];
      if (!w.done) {
        // A timer may fire a little early by the monotonic clock: wait again for the rest.
        if (w.deadline > now) {
          this.arm(w.deadline);
          return;
        }
        w.log.warn({ records: w.records, timeoutMs: this.opts.timeoutMs }, 'no acknowledgement from Kafka in time; answering 503');
        w.done = true;
        w.reject(this.unavailable('timeout', `no acknowledgement within ${this.opts.timeoutMs} ms`));
      }
      this.head++;
    }
    this.waiting = [];
    this.head = 0;
  }

  /** Waits (at most `timeoutMs`) for every send still in flight, e.g. at shutdown. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.unsettled === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let done!: () => void;
    const all = new Promise<true>((resolve) => (done = () => resolve(true)));
    this.drained.push(done);
    const ok = await Promise.race([
      all,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!ok) this.drained = this.drained.filter((d) => d !== done);
    return ok;
  }
}
