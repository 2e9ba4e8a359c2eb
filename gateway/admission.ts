import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

/**
 * Admission control for the ingest routes: refuse early (503 GW_ERR_OVERLOADED, jittered
 * Retry-After) when a new request would wait too long, instead of letting a spike queue up
 * (seconds of latency, client timeouts, retries into the same queue, memory growth).
 *
 * What a request would wait is judged two ways, both cheap:
 * - the age of the oldest request admitted and not yet answered (its body was read, it waits for
 *   validation, the CPU, the next Kafka send or the acknowledgement): past `maxDelayMs` the queue is
 *   not draining in time;
 * - the expected delay: events waiting for Kafka divided by the rate Kafka acknowledged them at
 *   over the last second, so a burst is refused before anyone has waited that long.
 * A request is also refused when the request bodies held in memory (admitted, not yet answered;
 * by Content-Length, before the body is read) would pass `maxBytes`.
 *
 * The clock of a request starts once its body is in (preHandler), so a client uploading slowly
 * delays nobody but itself.
 */
export interface AdmissionOptions {
  /** The bound on queueing delay (GATEWAY_MAX_QUEUE_DELAY_MS); 0 disables delay-based shedding. */
  maxDelayMs: number;
  /** The bound on request bytes held (GATEWAY_MAX_QUEUED_BYTES). */
  maxBytes: number;
  /** Retry-After of a shed request is drawn uniformly from 1..retryAfterMaxS seconds (spreads the retries). */
  retryAfterMaxS: number;
}

export type ShedReason = 'queue_delay' | 'expected_delay' | 'bytes';

export class Admission {
  /** Start times of admitted requests, in admission order; answered ones are marked NaN and skipped from the head. */
  private starts: number[] = [];
  private head = 0;
  /** Absolute index of starts[0] (the array is compacted now and then). */
  private offset = 0;
  private bytes = 0;
  /** Events acknowledged per second, as a moving average over about a second. */
  private ackRate = 0;
  private ackedSince = 0;
  private rateAt = 0;

  constructor(
    private readonly opts: AdmissionOptions,
    private readonly eventsWaiting: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Called in onRequest, before the body is read: why the request must be refused, or null (then `hold` its bytes). */
  check(contentLength: number): ShedReason | null {
    if (this.bytes + contentLength > this.opts.maxBytes && this.bytes > 0) return 'bytes';
    if (this.opts.maxDelayMs <= 0) return null;
    if (this.oldestAgeMs() > this.opts.maxDelayMs) return 'queue_delay';
    if (this.expectedDelayMs() > this.opts.maxDelayMs) return 'expected_delay';
    return null;
  }

  /** Called for an admitted request in onRequest: its body's bytes count until `release`. */
  hold(contentLength: number): void {
    this.bytes += contentLength;
  }

  /** Called once per admitted request when its response is sent or it is aborted. */
  release(contentLength: number): void {
    this.bytes = Math.max(0, this.bytes - contentLength);
  }

  /** Called when an admitted request's body is in (preHandler): returns the token for `leave`. */
  enter(): number {
    this.starts.push(this.now());
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

  /** Called with each Kafka acknowledgement: feeds the drain rate behind the expected delay. */
  acked(events: number): void {
    this.ackedSince += events;
    this.updateRate();
  }

  private updateRate(): void {
    const t = this.now();
    const dt = t - this.rateAt;
    if (dt < 100) return;
    const instant = (this.ackedSince * 1000) / dt;
    // Weight of the new sample grows with its span: about a one-second memory.
    const w = Math.min(1, dt / 1000);
    this.ackRate = this.ackRate * (1 - w) + instant * w;
    this.ackedSince = 0;
    this.rateAt = t;
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

  get maxDelayMs(): number {
    return this.opts.maxDelayMs;
  }

  get bytesHeld(): number {
    return this.bytes;
  }

  /** Retry-After seconds for a shed request: uniform in 1..retryAfterMaxS, so retries do not return together. */
  retryAfter(): number {
    return 1 + Math.floor(Math.random() * Math.max(1, this.opts.retryAfterMaxS));
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Admission state of an ingest request: the bytes it holds and its queue token, once admitted. */
    admission?: { bytes: number; token: number | null; done: boolean };
  }
}

/**
 * Admission control on `routes` (the ingest routes), as app-level hooks so they run first, before
 * access checks and before the body is read: a shed request costs only its headers.
 */
export function registerAdmission(app: FastifyInstance, admission: Admission, metrics: GatewayMetrics, routes: readonly string[]): void {
  const guarded = new Set(routes);
  const finish = (req: FastifyRequest) => {
    const a = req.admission;
    if (!a || a.done) return;
    a.done = true;
    admission.release(a.bytes);
    if (a.token !== null) metrics.queueSeconds.observe(admission.leave(a.token) / 1000);
  };
  app.addHook('onRequest', (req, reply, done) => {
    if (!guarded.has(req.routeOptions.url ?? '')) return done();
    const bytes = Number(req.headers['content-length']) || 0;
    const reason = admission.check(bytes);
    if (reason) {
      metrics.shed.inc({ reason });
      const detail =
        reason === 'bytes'
          ? `${admission.bytesHeld} bytes of requests already held`
          : `requests would wait more than the ${Math.round(admission.maxDelayMs)} ms bound`;
      return done(new GatewayError('GW_ERR_OVERLOADED', detail, admission.retryAfter()));
    }
    admission.hold(bytes);
    req.admission = { bytes, token: null, done: false };
    // 'close' comes for every response, sent or cut off by the client (onResponse and
    // onRequestAbort both miss a connection destroyed while the answer is on its way).
    reply.raw.once('close', () => finish(req));
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.admission && !req.admission.done) req.admission.token = admission.enter();
    done();
  });
}
