/**
 * An open-loop load generator for fixed rates: requests leave at evenly spaced times, whatever
 * the answers do, and each latency is measured from the time the request was due (so a stalled
 * server is not hidden by requests that were never sent: no coordinated omission). autocannon's
 * overallRate sends each connection's budget for a second at the start of that second, which
 * turns a steady load into one burst per second; its latencies then mostly measure the burst.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Body } from './bodies.js';
import { requestHops, type RequestHops } from './hops.js';

/** Wall-clock milliseconds (the clock the gateway's Server-Timing uses: shared by every process of the machine). */
const wall = (t: number) => performance.timeOrigin + t;

export interface PacedResult {
  seconds: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Milliseconds from due time to the end of the response, for every answered request. */
  latencies: number[];
  /** Milliseconds from the request's leaving this generator to the end of its response (order of `latencies`): the latency without the generator's lateness. */
  fromSend: number[];
  /** Due time (ms from the start) of each answered request, in the order of `latencies`. */
  dueAt: number[];
  /** Milliseconds from due time to the request's leaving this generator, for every request sent: its own lateness. */
  sendLags: number[];
  /** With `trace`: per answered request (order of `latencies`), where its time went (lib/hops.ts); null when the answer had no Server-Timing. */
  hops: (RequestHops | null)[];
  /** This generator's own event-loop delay over the run (p99, max; ms): late sends and late reads of answers both come from it. */
  loopDelayP99: number;
  loopDelayMax: number;
}

export async function pacedLoad(opts: {
  port: number;
  path: string;
  /** Requests per second. */
  rate: number;
  durationS: number;
  next: () => Body;
  /** Most sockets open at once (requests beyond wait for one: their latency counts the wait). */
  maxSockets?: number;
  /**
   * A fixed pool of this many connections, opened (and each answered once, GET /healthz) before the
   * first request is due, and never more (wrk2's model: its `-c` connections at a constant rate, each
   * latency from the request's due time, so a request waiting for a free connection counts that wait).
   * Without it, connections are opened on demand up to `maxSockets`: during a slow spell the generator
   * then opens dozens at once (up to 225 seen at 2,816 req/s), which browsers, each on its own kept
   * connection, do not.
   */
  connections?: number;
  /**
   * Without `connections`: this many connections opened (as for the pool) before the first request is
   * due, more still opened on demand up to `maxSockets`. A new run's generator otherwise opens every
   * connection it needs in its first milliseconds, all at once: a burst of new connections that no
   * steady stream of clients makes, and that the gateway's acceptor hands over one at a time.
   */
  warm?: number;
  /**
   * This share of the requests (0..1, evenly spread: with 0.1 every tenth) each on a new connection of
   * its own, closed after its answer: a visitor's first request. Browsers open new connections at the
   * pace visitors arrive, whatever the answers do; the pool's connections are the visitors who stay.
   */
  newConnectionShare?: number;
  /** Called with each answered request's status and due time (ms, performance.now()). */
  onResponse?: (status: number, dueAt: number) => void;
  /** Sends its send time (x-trace-sent) and keeps the gateway's hops of each answer (GATEWAY_TRACE_HOPS). */
  trace?: boolean;
}): Promise<PacedResult> {
  const maxSockets = opts.connections ?? opts.maxSockets ?? 256;
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const opened = opts.connections ?? Math.min(opts.warm ?? 0, maxSockets);
  if (opened > 0) await openPool(agent, opts.port, opened);
  const interval = 1000 / opts.rate;
  const t0 = performance.now();
  const end = t0 + opts.durationS * 1000;
  const res: PacedResult = { seconds: 0, sent: 0, ok: 0, non2xx: 0, errors: 0, latencies: [], fromSend: [], dueAt: [], sendLags: [], hops: [], loopDelayP99: NaN, loopDelayMax: NaN };
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  let pending = 0;
  let drained: () => void = () => {};

  const share = opts.newConnectionShare ?? 0;
  const send = (due: number, k: number) => {
    const b = opts.next();
    const fresh = Math.floor((k + 1) * share) > Math.floor(k * share);
    pending++;
    res.sent++;
    const sentAt = performance.now();
    res.sendLags.push(sentAt - due);
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b.body), 'user-agent': b.ua, 'x-forwarded-for': b.ip };
    if (opts.trace) headers['x-trace-sent'] = wall(sentAt).toFixed(3);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: 'POST',
        // agent: false: a socket of its own, sent with `connection: close`.
        agent: fresh ? false : agent,
        headers,
        timeout: 10_000,
      },
      (r) => {
        r.resume();
        r.on('end', () => {
          const end = performance.now();
          res.latencies.push(end - due);
          res.fromSend.push(end - sentAt);
          if (opts.trace) res.hops.push(requestHops(r.headers['server-timing'], wall(due), wall(sentAt), wall(end)));
          res.dueAt.push(due - t0);
          if (r.statusCode && r.statusCode < 300) res.ok++;
          else res.non2xx++;
          opts.onResponse?.(r.statusCode ?? 0, due);
          if (--pending === 0) drained();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      res.errors++;
      if (--pending === 0) drained();
    });
    req.end(b.body);
  };

  await new Promise<void>((resolve) => {
    let k = 0;
    const tick = () => {
      const now = performance.now();
      // Every request due by now leaves now (a late timer sends the ones it owes, with their due times).
      while (t0 + k * interval <= now && t0 + k * interval < end) send(t0 + k * interval, k++);
      if (t0 + k * interval >= end) return resolve();
      setTimeout(tick, Math.max(0, t0 + k * interval - performance.now()));
    };
    tick();
  });
  res.seconds = (performance.now() - t0) / 1000;
  loopDelay.disable();
  res.loopDelayP99 = loopDelay.percentile(99) / 1e6;
  res.loopDelayMax = loopDelay.max / 1e6;
  if (pending > 0) await new Promise<void>((resolve) => ((drained = resolve), setTimeout(resolve, 15_000)));
  agent.destroy();
  return res;
}

/** `n` connections of `agent`, each answered once (GET /healthz) and then kept free in its pool. */
async function openPool(agent: http.Agent, port: number, n: number): Promise<void> {
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/healthz', method: 'GET', agent, timeout: 10_000 }, (r) => {
        r.resume();
        r.on('end', () => (r.statusCode === 200 ? resolve() : reject(new Error(`GET /healthz answered ${r.statusCode} while opening the pool`))));
      });
      req.on('timeout', () => req.destroy(new Error('timeout opening the pool')));
      req.on('error', reject);
      req.end();
    });
  await Promise.all(Array.from({ length: n }, one));
}
