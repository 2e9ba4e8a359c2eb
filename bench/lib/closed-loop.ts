/**
 * The closed loop of the maximum-load runs: `connections` keep-alive sockets, each sending its next
 * request as soon as the previous one is answered (as autocannon does with pipelining 1), for
 * `duration` seconds. It shares the 2 cores with the gateway and the broker, so it sends bytes
 * encoded once (lib/raw-http.ts) instead of building each request with a general HTTP client:
 * autocannon took 31-33 µs of CPU per request here against this loop's 19-25 (bench/README.md), CPU
 * taken from what it measures. Latency is from the request's first byte written to the whole answer.
 *
 * A connection answered 503 or 429 with a Retry-After waits those seconds before its next request
 * (on the same connection, or on a new one when the answer closed it), as the SDK does
 * (sdk/src/core.ts): a loop that sent again at once turned one shed into thousands a second,
 * answered by the acceptor while the gateway processes had no room, CPU taken from the gateway.
 */
import net from 'node:net';
import type { BodyPool } from './bodies.js';
import { parseAnswer, requestBytes, requestTemplates, type Template } from './raw-http.js';
import { percentile } from './stats.js';
import type { LoadResult } from './measure.js';

/** Templates per pool and port, built once; request numbers go on across runs (ids unique per run of the bench). */
const built = new Map<string, Template[]>();
const runTag = `${Date.now().toString(36)}c`;
let next = 0;

export async function closedLoopRun(pool: BodyPool, opts: { port: number; path: string; duration: number; connections: number; timeoutMs?: number }): Promise<LoadResult> {
  const key = `${opts.port} ${opts.path}`;
  let templates = built.get(key);
  if (!templates) built.set(key, (templates = requestTemplates(pool, { path: opts.path, port: opts.port, tag: runTag })));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const latencies: number[] = [];
  const codes = new Map<number, number>();
  let errors = 0;
  let running = true;
  const t0 = performance.now();
  const end = t0 + opts.duration * 1000;
  const sockets = new Set<net.Socket>();
  /** Connections waiting out a Retry-After (their timers, cleared at the end). */
  const parked = new Set<NodeJS.Timeout>();
  let retryWaits = 0;
  /** Runs `f` after `ms`, or ends the connection's part in the run now when the run is over by then. */
  const after = (ms: number, f: () => void, otherwise: () => void) => {
    if (performance.now() + ms >= end) return otherwise();
    const t = setTimeout(() => {
      parked.delete(t);
      f();
    }, ms);
    parked.add(t);
  };

  const conn = (): void => {
    if (!running || performance.now() >= end) return;
    const sock = net.connect(opts.port, '127.0.0.1');
    sock.setNoDelay(true);
    sockets.add(sock);
    let buf: Buffer | null = null;
    let sentAt = NaN;
    let timer: NodeJS.Timeout | undefined;
    /** The Retry-After (ms) of the answer that closed this connection: the next one opens after it. */
    let reopenAfter = 0;
    /** Its Retry-After outlasts the run: no new connection takes its place. */
    let done = false;
    const send = () => {
      if (!running || performance.now() >= end) return void sock.end();
      buf = null;
      sentAt = performance.now();
      timer = setTimeout(() => sock.destroy(new Error('timeout')), timeoutMs);
      sock.write(requestBytes(templates, next++, false));
    };
    sock.on('connect', send);
    sock.on('data', (d: Buffer) => {
      buf = buf ? Buffer.concat([buf, d]) : d;
      const answer = parseAnswer(buf);
      if (!answer) return;
      clearTimeout(timer);
      latencies.push(performance.now() - sentAt);
      codes.set(answer.status, (codes.get(answer.status) ?? 0) + 1);
      sentAt = NaN;
      const wait = (answer.status === 503 || answer.status === 429) && answer.retryAfterS > 0 ? answer.retryAfterS * 1000 : 0;
      if (wait) retryWaits++;
      if (answer.close) {
        reopenAfter = wait;
        sock.end();
      } else if (wait)
        after(wait, send, () => {
          done = true;
          sock.end();
        });
      else send();
    });
    const gone = (err?: Error) => {
      clearTimeout(timer);
      if (!sockets.delete(sock)) return;
      sock.destroy();
      // A request still on it failed (refused, reset, closed, timed out); a new connection takes its place.
      if (!Number.isNaN(sentAt) || err) errors++;
      if (done || !running || performance.now() >= end) return;
      if (reopenAfter) after(reopenAfter, conn, () => undefined);
      else conn();
    };
    sock.on('error', gone);
    sock.on('close', () => gone());
  };
  for (let i = 0; i < opts.connections; i++) conn();
  await new Promise((r) => setTimeout(r, opts.duration * 1000));
  // The last answers of requests sent before the end still count (their latency is part of the run).
  const drainUntil = performance.now() + timeoutMs;
  while (sockets.size && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  running = false;
  for (const t of parked) clearTimeout(t);
  for (const s of sockets) s.destroy();
  const seconds = (performance.now() - t0) / 1000;
  let ok = 0;
  let non2xx = 0;
  for (const [status, n] of codes) {
    if (status >= 200 && status < 300) ok += n;
    else non2xx += n;
  }
  return {
    seconds,
    ok,
    non2xx,
    errors,
    total: ok + non2xx,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    codes: [...codes].map(([c, n]) => `${c}:${n}`).join(' '),
    retryWaits,
  };
}
