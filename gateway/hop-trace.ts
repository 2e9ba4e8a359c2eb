import { AsyncLocalStorage } from 'node:async_hooks';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Per-request hop timestamps (GATEWAY_TRACE_HOPS): where an ingest request's time went inside the
 * gateway process, sent back in its answer's `Server-Timing` header so that a load generator can
 * join them with its own send and receive times (bench:gateway-half --trace). Off by default: then
 * nothing is allocated or read per request (app.ts registers no hook, the producer finds no store).
 *
 * The hops, in this process's performance.now() clock: `read` (Fastify's first hook: the request's
 * head was read), `body` (the handler starts: the body is parsed), `queued` (its records reach the
 * group commit, coalescing-producer.ts), `flushed` (the send carrying them leaves for the Kafka
 * client), `acked` (Kafka acknowledged that send, acks=all), `reply` (the answer is written). The
 * header gives each hop's duration and `read` as wall-clock milliseconds (performance.timeOrigin
 * based: the same clock in every process of the machine), plus the GC pauses of this process that
 * overlapped the request, from the client's `x-trace-sent` (wall ms) when given, else from `read`;
 * on a connection's first request, `conn`: when this process got the connection (wall ms; behind the
 * acceptor, when its hand-over arrived), which splits the wait before `read` into the connection's
 * set-up and hand-over, and this process's own delay in reading it.
 */
export interface Hops {
  read: number;
  body: number;
  queued: number;
  flushed: number;
  acked: number;
  /** Requests and records of the send that carried this one; requests waiting or in flight ahead of it when it was queued. */
  group: number;
  records: number;
  ahead: number;
  /** Wall ms the client says it sent the request (x-trace-sent), NaN when not given. */
  sentWall: number;
  /** The first request of a connection: when this process got the connection (accepted, or handed over by the acceptor); NaN for a later one. */
  connAt: number;
}

/** The current request's hops while its ingest runs (set by app.ts only when tracing). */
export const hopStore = new AsyncLocalStorage<Hops>();
/** Whether tracing is on in this process: the producer looks for a store only then. */
export const hopTrace = { on: false };

export function newHops(read: number, sentHeader: string | string[] | undefined): Hops {
  const sent = typeof sentHeader === 'string' ? Number(sentHeader) : NaN;
  return { read, body: NaN, queued: NaN, flushed: NaN, acked: NaN, group: 0, records: 0, ahead: 0, sentWall: sent, connAt: NaN };
}

/** Recent GC pauses (start, end; performance.now() ms) of this process, kept while tracing. */
const pauses: number[] = [];
let observer: PerformanceObserver | null = null;

/** Called once when tracing: starts recording this process's GC pauses. */
export function startGcRecording(): void {
  if (observer) return;
  observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.startTime, e.startTime + e.duration);
    // A few seconds of pauses are plenty for requests answered within the produce timeout.
    if (pauses.length > 4096) pauses.splice(0, pauses.length - 2048);
  });
  observer.observe({ entryTypes: ['gc'] });
}

export function stopGcRecording(): void {
  observer?.disconnect();
  observer = null;
  pauses.length = 0;
}

/** Milliseconds of GC pause within [from, to] (performance.now() clock). */
function gcWithin(from: number, to: number): number {
  let sum = 0;
  for (let i = pauses.length - 2; i >= 0; i -= 2) {
    const s = pauses[i];
    const e = pauses[i + 1];
    if (e < from) break;
    sum += Math.max(0, Math.min(e, to) - Math.max(s, from));
  }
  return sum;
}

const d = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? (b - a).toFixed(3) : 'NaN');

/** The Server-Timing value of a request answered at `reply` (performance.now()). */
export function serverTiming(h: Hops, reply: number): string {
  const origin = performance.timeOrigin;
  const from = Number.isFinite(h.sentWall) ? Math.min(h.read, h.sentWall - origin) : h.read;
  return (
    `read;desc="${(origin + h.read).toFixed(3)}", parse;dur=${d(h.read, h.body)}, work;dur=${d(h.body, h.queued)}, ` +
    `group;dur=${d(h.queued, h.flushed)}, kafka;dur=${d(h.flushed, h.acked)}, resume;dur=${d(h.acked, reply)}, ` +
    `gc;dur=${gcWithin(from, reply).toFixed(3)}, send;desc="${h.group}/${h.records}/${h.ahead}"` +
    (Number.isFinite(h.connAt) ? `, conn;desc="${(origin + h.connAt).toFixed(3)}"` : '')
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** GATEWAY_TRACE_HOPS only: this request's hop timestamps. */
    hops?: Hops;
  }
}

/**
 * Called once by app.ts when GATEWAY_TRACE_HOPS is on: the hooks that time `routes`' requests and
 * put their hops in the answer's Server-Timing header.
 */
export function registerHopTrace(app: FastifyInstance, routes: readonly string[]): void {
  const traced = new Set(routes);
  hopTrace.on = true;
  startGcRecording();
  // Behind the acceptor a connection is 'connection'-emitted when its hand-over arrives (server.ts).
  const CONN_AT = Symbol('connection taken');
  type Marked = Socket & { [CONN_AT]?: number };
  app.server.on('connection', (socket: Marked) => (socket[CONN_AT] = performance.now()));
  app.addHook('onRequest', (req, _reply, done) => {
    if (traced.has(req.routeOptions.url ?? '')) {
      const h = (req.hops = newHops(performance.now(), req.headers['x-trace-sent']));
      const socket = req.raw.socket as Marked | null;
      if (socket?.[CONN_AT] !== undefined) {
        h.connAt = socket[CONN_AT];
        socket[CONN_AT] = undefined;
      }
    }
    done();
  });
  // The handler runs right after this hook, in the same synchronous call: the store is its own.
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.hops) {
      req.hops.body = performance.now();
      hopStore.enterWith(req.hops);
    }
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    if (req.hops) reply.header('server-timing', serverTiming(req.hops, performance.now()));
    done(null, payload);
  });
  app.addHook('onClose', (_app, done) => {
    hopTrace.on = false;
    stopGcRecording();
    done();
  });
}
