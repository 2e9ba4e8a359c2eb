import type { FastifyBaseLogger } from 'fastify';
import { GatewayError } from './errors.js';
import type { EventProducer, OutRecord } from './event-producer.js';
import type { GatewayMetrics } from './metrics.js';

export interface DeliveryOptions {
  timeoutMs: number;
  maxInFlight: number;
  retryAfterS: number;
  /** Called with the number of records of each acknowledged send (admission control's drain rate). */
  onAcked?: (records: number) => void;
}

/**
 * Between a request and Kafka: refuses at once (503) when Kafka is known to be down or when
 * too many events already wait for an acknowledgement (bounded memory), and stops waiting
 * after `timeoutMs` (503) without forgetting the send: the records stay counted as in flight
 * until Kafka settles them, `onSettled` still learns the outcome (so dedup remembers a late
 * success), and shutdown waits for them.
 */
export class Delivery {
  private inFlight = 0;
  private readonly pending = new Set<Promise<void>>();

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
  async send(records: OutRecord[], log: FastifyBaseLogger, onSettled?: (ok: boolean) => void): Promise<void> {
    try {
      this.check(records.length);
    } catch (err) {
      onSettled?.(false);
      throw err;
    }
    const n = records.length;
    this.inFlight += n;
    this.metrics.inFlight.set(this.inFlight);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const settled: Promise<void> = this.producer.send(records).then(
      () => {
        this.metrics.produceSeconds.observe({ outcome: 'ack' }, seconds());
        this.opts.onAcked?.(n);
        onSettled?.(true);
      },
      (err: unknown) => {
        this.metrics.produceSeconds.observe({ outcome: 'error' }, seconds());
        onSettled?.(false);
        throw err;
      },
    );
    const tracked = settled
      .catch(() => undefined)
      .finally(() => {
        this.inFlight -= n;
        this.metrics.inFlight.set(this.inFlight);
        this.pending.delete(tracked);
      });
    this.pending.add(tracked);

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.timeoutMs);
    });
    try {
      const r = await Promise.race([settled, timeout]);
      if (r === 'timeout') {
        log.warn({ records: n, timeoutMs: this.opts.timeoutMs }, 'no acknowledgement from Kafka in time; answering 503');
        throw this.unavailable('timeout', `no acknowledgement within ${this.opts.timeoutMs} ms`);
      }
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      log.warn({ err: (err as Error).message, records: n }, 'produce failed; answering 503');
      throw this.unavailable('error');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits (at most `timeoutMs`) for every send still in flight, e.g. at shutdown. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      Promise.allSettled([...this.pending]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }
}
