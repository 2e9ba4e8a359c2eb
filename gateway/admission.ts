import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GW_ERRORS } from './errors.js';
import type { LoopLag } from './loop-lag.js';
import type { GatewayMetrics } from './metrics.js';

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
/** Reasons in the shed metric: the gateway's own, and `acceptor` (shed by the acceptor process, acceptor.ts). */
type CountedReason = ShedReason | 'acceptor';

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

declare module 'fastify' {
  interface FastifyRequest {
    /** Admission state of an ingest request: the bytes it holds and its queue token, once admitted. */
    admission?: { bytes: number; token: number | null; done: boolean; waited: number };
  }
}

const OVERLOADED_MESSAGE = GW_ERRORS.GW_ERR_OVERLOADED.message;
/** Why, in the answer's message: the bound that was passed (fixed per reason, so each answer is one concatenation). */
const DETAIL: Record<ShedReason, (a: Admission) => string> = {
  loop_lag: (a) => `requests waited unread for more than the ${a.maxLoopLagMs} ms bound`,
  waited: (a) => `requests waited more than the ${Math.round(a.maxDelayMs)} ms bound before they were read`,
  queue_delay: (a) => `requests would wait more than the ${Math.round(a.maxDelayMs)} ms bound`,
  expected_delay: (a) => `requests would wait more than the ${Math.round(a.maxDelayMs)} ms bound`,
  requests: (a) => `${a.maxRequests} requests already in flight`,
  bytes: (a) => `${a.maxBytes} bytes of requests already held`,
};

/** What registerAdmission gives back. */
export interface AdmissionHooks {
  /**
   * Called by the HTTP server for every request, before Fastify sees it (app.ts's serverFactory):
   * true when the request was shed and answered here. Requests that reach Fastify another way
   * (inject() in tests) are judged by the onRequest hook instead, with the same rules.
   */
  gate(req: IncomingMessage, res: ServerResponse): boolean;
  /** Called before the metrics are serialised (GET /metrics): adds the counts kept as plain numbers. */
  flush(): void;
  /** Called with ingest requests the acceptor shed for this process (acceptor.ts): counted with reason `acceptor`. */
  countAcceptorSheds(n: number): void;
}

/** On a request the server gate admitted: how long it had waited before it was read (ms). */
const JUDGED = Symbol('admission judged');
type Judged = IncomingMessage & { [JUDGED]?: number };

/** On a connection until its first request is read: when it arrived (this process's performance.now() clock) and whether that is the moment its head was read. */
const ARRIVED = Symbol('connection arrived');
type Stamped = Socket & { [ARRIVED]?: { at: number; exact: boolean } };

/**
 * Called for every connection the server takes, before its first request is read: the moment it
 * arrived (accepted here, or accepted or read by the acceptor process), so that its first request's
 * clock starts there. A connection stamped already (by the hand-over) keeps its stamp.
 */
export function stampArrival(socket: Socket, at: number, exact = false): void {
  (socket as Stamped)[ARRIVED] ??= { at, exact };
}

/** The arrival stamp of a request's connection, once: a later request on it arrived when it was sent, which nobody knows. */
function takeArrival(socket: Socket | null): { at: number; exact: boolean } | undefined {
  const s = socket as Stamped | null;
  const a = s?.[ARRIVED];
  if (a) s![ARRIVED] = undefined;
  return a;
}

/**
 * Admission control on `routes` (the ingest routes). A shed request costs little, since under a
 * spike most requests are shed and what they cost is taken from the ones being served: the server
 * decides before Fastify routes the request (no request and reply objects, hooks, access checks,
 * error handler or serialiser), writes a short answer straight away and never parses the body
 * (Node reads and drops it); the shed counts are plain numbers until the next scrape. The
 * connection is kept alive: a browser's retry then costs no new TCP or TLS handshake;
 * GATEWAY_MAX_CONNECTIONS bounds the connections.
 *
 * CORS: the answer names the request's Origin as allowed, whatever the site's list says, so a
 * page can read the 503 and its Retry-After (a refusal tells nothing about the site).
 */
export interface AdmissionBehaviour {
  /**
   * Close the connection of every shed request (`connection: close`): behind the acceptor
   * (acceptor.ts), so the client's next request comes on a new connection, which the acceptor
   * sheds on its own core while this process is overloaded.
   */
  closeOnShed?: boolean;
  /** Called for every request shed here (after its answer is written). */
  onShed?: () => void;
}

export function registerAdmission(app: FastifyInstance, admission: Admission, metrics: GatewayMetrics, routes: readonly string[], behaviour: AdmissionBehaviour = {}): AdmissionHooks {
  const guarded = new Set(routes);
  const shedCounts = new Map<CountedReason, number>();
  /** Shed by the server gate (Fastify's onResponse never sees them), by route and method. */
  const gateAnswers = new Map<string, { route: string; method: string; n: number }>();
  let shedIds = 0;
  const bodyStart = Object.fromEntries(
    (Object.keys(DETAIL) as ShedReason[]).map((r) => [r, `{"error":{"code":"GW_ERR_OVERLOADED","message":${JSON.stringify(`${OVERLOADED_MESSAGE}: ${DETAIL[r](admission)}`)}},"request_id":`]),
  ) as Record<ShedReason, string>;
  // Which rule shed and on what inputs, at most once a second (with the count since): a shed without overload is a rule's bug.
  let loggedAt = -Infinity;
  let unlogged = 0;
  const shed = (res: ServerResponse, reason: ShedReason, requestId: string, origin: string | string[] | undefined) => {
    shedCounts.set(reason, (shedCounts.get(reason) ?? 0) + 1);
    const t = performance.now();
    if (t - loggedAt >= 1000) {
      app.log.warn({ reason, ...admission.inputs(), shedSinceLastLog: unlogged }, 'request shed');
      loggedAt = t;
      unlogged = 0;
    } else unlogged++;
    const body = `${bodyStart[reason]}${JSON.stringify(requestId)}}`;
    const headers: string[] = [
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(body)),
      'retry-after',
      String(admission.retryAfter()),
      'x-request-id',
      requestId,
      'cache-control',
      'no-store',
    ];
    if (typeof origin === 'string' && origin) headers.push('access-control-allow-origin', origin, 'access-control-expose-headers', 'retry-after, x-request-id', 'vary', 'Origin');
    if (behaviour.closeOnShed) headers.push('connection', 'close');
    res.writeHead(503, headers);
    res.end(body);
    behaviour.onShed?.();
  };
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
    let waited = (req.raw as Judged)[JUDGED];
    if (waited === undefined) {
      const arrived = takeArrival(req.raw.socket);
      const reason = admission.check(bytes, arrived?.at, arrived?.exact);
      if (reason) {
        reply.hijack();
        shed(reply.raw, reason, String(req.id), req.headers.origin);
        return;
      }
      waited = admission.waitedMs;
    }
    admission.hold(bytes);
    req.admission = { bytes, token: null, done: false, waited };
    // 'close' comes for every response, sent or cut off by the client (onResponse and
    // onRequestAbort both miss a connection destroyed while the answer is on its way).
    reply.raw.once('close', () => finish(req));
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.admission && !req.admission.done) req.admission.token = admission.enter(req.admission.waited);
    done();
  });
  return {
    gate(req, res) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const route = q < 0 ? url : url.slice(0, q);
      // The stamp is its connection's first request's, whatever that request is.
      const arrived = takeArrival(req.socket);
      if (!guarded.has(route) || req.method === 'OPTIONS') return false;
      const reason = admission.check(Number(req.headers['content-length']) || 0, arrived?.at, arrived?.exact);
      if (!reason) {
        (req as Judged)[JUDGED] = admission.waitedMs;
        return false;
      }
      const given = req.headers['x-request-id'];
      shed(res, reason, typeof given === 'string' && given.length <= 128 ? given : `shed-${(++shedIds).toString(36)}`, req.headers.origin);
      const key = `${req.method} ${route}`;
      const counted = gateAnswers.get(key);
      if (counted) counted.n++;
      else gateAnswers.set(key, { route, method: req.method ?? '', n: 1 });
      return true;
    },
    flush() {
      let total = 0;
      for (const [reason, n] of shedCounts) {
        metrics.shed.inc({ reason }, n);
        total += n;
      }
      shedCounts.clear();
      if (total) metrics.errors.inc({ code: 'GW_ERR_OVERLOADED' }, total);
      for (const { route, method, n } of gateAnswers.values()) metrics.requests.inc({ route, method, status: 503 }, n);
      gateAnswers.clear();
    },
    countAcceptorSheds(n) {
      shedCounts.set('acceptor', (shedCounts.get('acceptor') ?? 0) + n);
      const key = 'POST /v1/events';
      const counted = gateAnswers.get(key);
      if (counted) counted.n += n;
      else gateAnswers.set(key, { route: '/v1/events', method: 'POST', n });
    },
  };
}
