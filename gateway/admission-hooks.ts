import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GW_ERRORS } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import type { Admission, CountedReason, ShedReason } from './admission.js';

/**
 * Admission's place in the HTTP server and Fastify (admission.ts holds the rules): the server
 * gate that sheds before Fastify routes a request, the hooks that admit and release ingest
 * requests, the shed answers and counts, and each connection's arrival stamp.
 */

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
  /** Called with ingest requests the acceptor shed for this process (acceptor.ts), `busy` of them while a process had room but a full channel: counted with reasons `acceptor` and `acceptor_busy`. */
  countAcceptorSheds(n: number, busy?: number): void;
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
    countAcceptorSheds(n, busy = 0) {
      const b = Math.min(n, busy);
      if (n > b) shedCounts.set('acceptor', (shedCounts.get('acceptor') ?? 0) + n - b);
      if (b > 0) shedCounts.set('acceptor_busy', (shedCounts.get('acceptor_busy') ?? 0) + b);
      const key = 'POST /v1/events';
      const counted = gateAnswers.get(key);
      if (counted) counted.n += n;
      else gateAnswers.set(key, { route: '/v1/events', method: 'POST', n });
    },
  };
}
