/**
 * Open-loop load at a fixed rate, spread over several threads (open-loop-worker.ts), for rates one
 * Node thread cannot pace with http.request (13,000 requests/s and more): each thread sends its
 * share at evenly spaced due times over raw keep-alive sockets. Latencies are measured from the
 * due time (no coordinated omission), and the generator reports its own lateness (send time minus
 * due time) and CPU, so a run where the generator, not the server, fell behind shows as such.
 * Requests not answered within the client timeout are given up (socket closed, as a browser's
 * aborted fetch) and counted apart from errors (connections refused, reset or closed).
 */
import { Worker } from 'node:worker_threads';
import type { WorkerParams, WorkerResult } from './open-loop-worker.js';
import { percentile } from './stats.js';

export interface OpenLoopResult {
  /** Requests due (sent or given up waiting for a connection). */
  sent: number;
  /** ms from due time to the whole answer, by HTTP status. */
  latencies: Map<number, number[]>;
  /** ms from the request's first byte written to the whole answer, by HTTP status: the gateway's part. */
  serverLatencies: Map<number, number[]>;
  /** ms from due time to the first byte written, by HTTP status: the generator's part (its timer, a connection, the handshake). */
  clientLatencies: Map<number, number[]>;
  /** Due time to answer of the 200s sent on a connection of their own (opened for them). */
  acceptedFresh: number[];
  /** The same for the 200s sent on a kept-alive connection (taken idle, or opened because none was). */
  acceptedKept: number[];
  /** TCP handshakes of the connections opened while sending (ms). */
  connectMs: number[];
  timeoutsBy: { queued: number; connecting: number; sent: number };
  /** Due time to the generator's timer tick that sent it (ms): the generator's own lateness. */
  tickLag: number[];
  /** Completion times (ms after the start) of the 200s. */
  acceptedAt: number[];
  /** Due time (ms after the start) of each 503, in the order of `latencies.get(503)`. */
  shedDueAt: number[];
  /** Whether each 503 (same order) was answered by a gateway process (1) rather than the acceptor (0). */
  shedByProcess: number[];
  /** The generator's tick lag p99 (ms) of the requests due in each second: its own cold start shows here. */
  tickLagP99PerS: number[];
  timeouts: number;
  errors: number;
  /** Send time minus due time (ms), every request sent. */
  sendLag: number[];
  connectionsOpened: number;
  /** Cores the generator's threads used while sending. */
  cores: number;
  /** The generator's CPU per request sent (µs, all threads): what it takes from the gateway's cores. */
  cpuUsPerRequest: number;
  durationS: number;
}

export async function openLoopLoad(opts: {
  port: number;
  path: string;
  rate: number;
  durationS: number;
  threads: number;
  /** Request numbers used: offset .. offset + rate x duration (ids unique across phases). */
  offset: number;
  pool: { size: number; seed: number; tag: string; eventsPerBody: number };
  maxConnections?: number;
  warmConnections?: number;
  /** Share of requests sent on a new connection of their own (closed after the answer). */
  newConnectionShare?: number;
  timeoutMs?: number;
  /** Niceness of the generator's threads (0: the bench's own priority). */
  nice?: number;
}): Promise<OpenLoopResult> {
  const threads = Math.max(1, opts.threads);
  // Building each thread's body pool takes a moment: the shared start is set after that.
  const startAt = performance.timeOrigin + performance.now() + 3000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const results = await Promise.all(
    Array.from({ length: threads }, (_, i) => {
      const params: WorkerParams = {
        port: opts.port,
        path: opts.path,
        rate: opts.rate / threads,
        // Thread i's requests sit between thread i-1's: together, evenly spaced at the full rate.
        startAt: startAt + (i * 1000) / opts.rate,
        durationS: opts.durationS,
        offset: opts.offset + i * Math.ceil(opts.rate * (opts.durationS + 1)),
        maxConnections: Math.ceil((opts.maxConnections ?? 4096) / threads),
        warmConnections: Math.ceil((opts.warmConnections ?? 0) / threads),
        newConnectionShare: opts.newConnectionShare ?? 0,
        timeoutMs,
        drainMs: timeoutMs + 1000,
        pool: opts.pool,
        nice: opts.nice ?? 0,
      };
      const w = new Worker(new URL('./open-loop-worker.ts', import.meta.url), { workerData: params });
      return new Promise<WorkerResult>((resolve, reject) => {
        w.once('message', (m: WorkerResult) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`load thread exited (${code}) before its result`)));
      });
    }),
  );
  const out: OpenLoopResult = {
    sent: 0,
    latencies: new Map(),
    serverLatencies: new Map(),
    clientLatencies: new Map(),
    acceptedFresh: [],
    acceptedKept: [],
    connectMs: [],
    timeoutsBy: { queued: 0, connecting: 0, sent: 0 },
    tickLag: [],
    acceptedAt: [],
    shedDueAt: [],
    shedByProcess: [],
    tickLagP99PerS: [],
    timeouts: 0,
    errors: 0,
    sendLag: [],
    connectionsOpened: 0,
    cores: 0,
    cpuUsPerRequest: NaN,
    durationS: opts.durationS,
  };
  let cpuMs = 0;
  const merge = (into: Map<number, number[]>, from: Record<string, number[]>) => {
    for (const [status, xs] of Object.entries(from)) {
      const list = into.get(Number(status)) ?? [];
      for (const x of xs) list.push(x);
      into.set(Number(status), list);
    }
  };
  const lagPerS: number[][] = Array.from({ length: opts.durationS }, () => []);
  for (const r of results) {
    // A thread sends its k-th request due k / (its rate) s after its start, in due order.
    r.tickLag.forEach((x, k) => lagPerS[Math.min(opts.durationS - 1, Math.floor((k * threads) / opts.rate))]?.push(x));
    for (const x of r.shedDueAt) out.shedDueAt.push(x);
    for (const x of r.shedByProcess) out.shedByProcess.push(x);
    out.sent += r.sent;
    out.timeouts += r.timeouts;
    out.errors += r.errors;
    out.connectionsOpened += r.connectionsOpened;
    out.cores += r.cpuMs / 1000 / opts.durationS;
    cpuMs += r.cpuMs;
    merge(out.latencies, r.latencies);
    merge(out.serverLatencies, r.serverLatencies);
    merge(out.clientLatencies, r.clientLatencies);
    for (const x of r.acceptedFresh) out.acceptedFresh.push(x);
    for (const x of r.acceptedKept) out.acceptedKept.push(x);
    for (const x of r.connectMs) out.connectMs.push(x);
    for (const x of r.tickLag) out.tickLag.push(x);
    out.timeoutsBy.queued += r.timeoutsBy.queued;
    out.timeoutsBy.connecting += r.timeoutsBy.connecting;
    out.timeoutsBy.sent += r.timeoutsBy.sent;
    for (const x of r.acceptedAt) out.acceptedAt.push(x);
    for (const x of r.sendLag) out.sendLag.push(x);
  }
  out.cpuUsPerRequest = (cpuMs * 1000) / Math.max(1, out.sent);
  out.tickLagP99PerS = lagPerS.map((xs) => percentile(xs, 99));
  return out;
}
