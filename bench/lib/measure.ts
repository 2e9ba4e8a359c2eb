/**
 * One measured load run against one HTTP target: a closed loop for the maximum (lib/closed-loop.ts
 * over raw sockets, or autocannon's with `closedLoop: 'autocannon'`), or
 * evenly paced open-loop requests (lib/paced.ts) for a fixed rate, with the CPU the server (and
 * the Kafka broker, and this load generator) used during it.
 */
import autocannon from 'autocannon';
import type { parseArgs } from './args.js';
import type { BodyPool } from './bodies.js';
import { cpuSecondsOf } from './child.js';
import type { RequestHops } from './hops.js';
import { closedLoopRun } from './closed-loop.js';
import { writeBack } from './writeback.js';
import { openLoopLoad } from './open-loop.js';
import { pacedLoad } from './paced.js';
import { loadAverage, percentile } from './stats.js';

/** The path every gateway bench request is sent to. */
export const EVENTS_PATH = '/v1/events?site=bench';

/** The closed loop's client: raw sockets with requests encoded once (the default), or autocannon (the earlier figures'). */
export type ClosedLoop = 'raw' | 'autocannon';

/**
 * The paced runs' client: raw sockets with requests encoded once (lib/open-loop.ts, the overload
 * phases' generator, on one thread; the default), or Node's HTTP client (lib/paced.ts; what --trace
 * needs for its hops). The raw one takes about half the CPU, on the same two cores as the gateway
 * and the broker, where a deployment's clients take none.
 */
export type PacedClient = 'http' | 'raw';

/** --paced-client's value, checked: raw when not given, http with --trace (its hops are Node's client's). */
export function pacedClient(v: string, trace = false): PacedClient {
  if (v === '') return trace ? 'http' : 'raw';
  if (v !== 'http' && v !== 'raw') throw new Error(`--paced-client takes http or raw, got ${v}`);
  if (v === 'raw' && trace) throw new Error('--trace needs --paced-client http (the raw client reports no hops)');
  return v;
}

/**
 * How the paced runs connect, from the command line, as measure() takes it: bench:gateway's and
 * bench:gateway-half's --paced-connections, --paced-warm, --paced-new and --paced-client.
 */
export function pacedOptions(a: ReturnType<typeof parseArgs>) {
  return {
    pacedConnections: a.num('paced-connections', 0) || undefined,
    pacedWarm: a.num('paced-warm', 32),
    pacedNew: a.num('paced-new', 0),
    pacedClient: pacedClient(a.str('paced-client', ''), a.flag('trace')),
  };
}

/** Something whose CPU use is measured: one process, or a process and its workers. */
export interface CpuSource {
  /** Called before and after a run: CPU seconds used so far (NaN when unknown). */
  cpuSeconds(): number;
}

export interface Measured {
  what: string;
  seconds: number;
  reqPerS: number;
  eventsPerS: number;
  p50: number;
  /** Paced runs only (autocannon has no p95). */
  p95?: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  codes: string;
  /** The closed loop only: how many times a connection waited out a Retry-After (lib/closed-loop.ts). */
  retryWaits?: number;
  /** Cores used during the run: server process, Kafka broker, this load generator. */
  cpu: { server: number; kafka: number; loadgen: number };
  /** CPU milliseconds the server process (and the broker) spent per answered request: robust to a busy machine. */
  cpuMsPerReq: { server: number; kafka: number };
  load: string;
  /** Paced runs only: where the slow requests came from. */
  tail?: TailDetail;
  /** Paced runs with `trace` only: each answered request's hops (lib/hops.ts). */
  hops?: (RequestHops | null)[];
}

export interface LoadResult {
  seconds: number;
  ok: number;
  non2xx: number;
  errors: number;
  total: number;
  p50: number;
  p95?: number;
  p99: number;
  codes: string;
  /** The closed loop only: how many times a connection waited out a Retry-After. */
  retryWaits?: number;
  /** Paced runs only: where the slow requests came from (the generator's lateness, their spread in time). */
  tail?: TailDetail;
  hops?: (RequestHops | null)[];
  /** Seconds the load was on, when the run also spent time before it (the raw client builds its requests first): the cores' divisor. */
  loadSeconds?: number;
  /** The generator's CPU while sending (cores), when it runs on threads of its own. */
  loadgenCores?: number;
}

/** What the slowest requests of a paced run have in common, to tell stalls from steady queueing. */
export interface TailDetail {
  /** The generator's own lateness (send time minus due time), p99 and max, ms. */
  sendLagP99: number;
  /** p99 of the latency counted from the send instead of the due time (the generator's lateness left out), ms. */
  fromSendP99?: number;
  sendLagMax: number;
  /** The generator's own event-loop delay over the run, p99 and max, ms (it also delays reading answers). */
  loopDelayP99?: number;
  loopDelayMax?: number;
  /** Requests slower than `slowMs`, and in how many distinct 100 ms windows (by due time) they fall. */
  slowMs: number;
  slow: number;
  slowWindows: number;
  /** The longest run of consecutive slow requests by due time, in ms of due time (a stall's length). */
  longestStallMs: number;
  /** Slow requests per second of the run (by due time; seconds with none left out): when in the run the tail came, to set beside the machine's own samples. */
  slowBySecond: Map<number, number>;
}

/** `slowMs`: requests slower than it count as slow (the p99 target, 25 ms). */
export function tailDetail(latencies: number[], dueAt: number[], sendLags: number[], slowMs: number): TailDetail {
  const order = dueAt.map((_, i) => i).sort((a, b) => dueAt[a] - dueAt[b]);
  const windows = new Set<number>();
  const slowBySecond = new Map<number, number>();
  let slow = 0;
  let longest = 0;
  let runStart = -1;
  for (const i of order) {
    if (latencies[i] > slowMs) {
      slow++;
      windows.add(Math.floor(dueAt[i] / 100));
      const second = Math.floor(dueAt[i] / 1000);
      slowBySecond.set(second, (slowBySecond.get(second) ?? 0) + 1);
      if (runStart < 0) runStart = dueAt[i];
      longest = Math.max(longest, dueAt[i] - runStart + latencies[i]);
    } else runStart = -1;
  }
  return { sendLagP99: percentile(sendLags, 99), sendLagMax: sendLags.reduce((a, b) => Math.max(a, b), 0), slowMs, slow, slowWindows: windows.size, longestStallMs: longest, slowBySecond };
}

export async function measure(
  what: string,
  server: CpuSource,
  kafkaPid: number | undefined,
  pool: BodyPool,
  opts: { port: number; duration: number; connections: number; rate?: number; trace?: boolean; closedLoop?: ClosedLoop; pacedConnections?: number; pacedWarm?: number; pacedNew?: number; pacedClient?: PacedClient },
): Promise<Measured> {
  writeBack();
  const load = await loadAverage();
  const cpu0 = { server: server.cpuSeconds(), kafka: cpuSecondsOf(kafkaPid), loadgen: process.cpuUsage() };
  const t0 = performance.now();
  const paced = { connections: opts.pacedConnections, warm: opts.pacedWarm, newConnectionShare: opts.pacedNew };
  const r = opts.rate
    ? opts.pacedClient === 'raw'
      ? await rawPacedRun(pool, opts.port, opts.rate, opts.duration, paced)
      : await pacedRun(pool, opts.port, opts.rate, opts.duration, { ...paced, trace: opts.trace })
    : opts.closedLoop === 'autocannon'
      ? await autocannonRun(pool, opts.port, opts.duration, opts.connections)
      : await closedLoopRun(pool, { port: opts.port, path: EVENTS_PATH, duration: opts.duration, connections: opts.connections });
  const wall = r.loadSeconds ?? (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0.loadgen);
  const serverCpu = server.cpuSeconds() - cpu0.server;
  const kafkaCpu = cpuSecondsOf(kafkaPid) - cpu0.kafka;
  return {
    what,
    seconds: r.seconds,
    reqPerS: r.ok / r.seconds,
    eventsPerS: (r.ok * pool.eventsPerBody) / r.seconds,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    codes: r.codes,
    retryWaits: r.retryWaits,
    cpu: {
      server: serverCpu / wall,
      kafka: kafkaCpu / wall,
      loadgen: r.loadgenCores ?? (used.user + used.system) / 1e6 / wall,
    },
    cpuMsPerReq: { server: (serverCpu * 1000) / Math.max(1, r.total), kafka: (kafkaCpu * 1000) / Math.max(1, r.total) },
    load,
    tail: r.tail,
    hops: r.hops,
  };
}

export async function autocannonRun(pool: BodyPool, port: number, duration: number, connections: number): Promise<LoadResult> {
  const res = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: EVENTS_PATH,
        setupRequest: (req) => {
          const b = pool.next();
          req.body = b.body;
          req.headers = { 'content-type': 'application/json', 'user-agent': b.ua, 'x-forwarded-for': b.ip };
          return req;
        },
      },
    ],
  });
  return {
    seconds: res.duration,
    ok: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    total: res.requests.total,
    p50: res.latency.p50,
    p99: res.latency.p99,
    codes: Object.entries(res.statusCodeStats ?? {})
      .map(([c, v]) => `${c}:${v.count ?? 0}`)
      .join(' '),
  };
}

export async function pacedRun(pool: BodyPool, port: number, rate: number, duration: number, o: { trace?: boolean; connections?: number; warm?: number; newConnectionShare?: number } = {}): Promise<LoadResult> {
  const codes = new Map<number, number>();
  const res = await pacedLoad({ port, path: EVENTS_PATH, rate, durationS: duration, next: () => pool.next(), trace: o.trace, connections: o.connections, warm: o.warm, newConnectionShare: o.newConnectionShare, onResponse: (status) => codes.set(status, (codes.get(status) ?? 0) + 1) });
  return {
    seconds: res.seconds,
    ok: res.ok,
    non2xx: res.non2xx,
    errors: res.errors,
    total: res.ok + res.non2xx,
    p50: percentile(res.latencies, 50),
    p95: percentile(res.latencies, 95),
    p99: percentile(res.latencies, 99),
    codes: [...codes].map(([c, n]) => `${c}:${n}`).join(' '),
    tail: { ...tailDetail(res.latencies, res.dueAt, res.sendLags, 25), fromSendP99: percentile(res.fromSend, 99), loopDelayP99: res.loopDelayP99, loopDelayMax: res.loopDelayMax },
    hops: o.trace ? res.hops : undefined,
  };
}

/**
 * A paced run with the raw client (lib/open-loop.ts on one thread): requests encoded once over raw
 * keep-alive sockets, `connections` at most (256 when not given), `warm` opened first (32), more on
 * demand, `newConnectionShare` each on a connection of its own. Its bodies are built by its thread,
 * like the pool's (20 events, ids of their own), before the run starts. No hops (`trace`).
 */
export async function rawPacedRun(pool: BodyPool, port: number, rate: number, duration: number, o: { connections?: number; warm?: number; newConnectionShare?: number } = {}): Promise<LoadResult> {
  const max = o.connections ?? 256;
  const r = await openLoopLoad({
    port,
    path: EVENTS_PATH,
    rate,
    durationS: duration,
    threads: 1,
    offset: 0,
    pool: { size: Math.min(2000, pool.size), seed: 42, tag: `half${Date.now().toString(36)}`, eventsPerBody: pool.eventsPerBody },
    maxConnections: max,
    warmConnections: Math.min(max, o.connections ?? o.warm ?? 32),
    newConnectionShare: o.newConnectionShare ?? 0,
  });
  const latencies: number[] = [];
  const dueAt: number[] = [];
  const ok = r.latencies.get(200) ?? [];
  // The 200s' answers came in the order of their completion times: due = completion - latency.
  ok.forEach((x, i) => (latencies.push(x), dueAt.push(r.acceptedAt[i] - x)));
  (r.latencies.get(503) ?? []).forEach((x, i) => (latencies.push(x), dueAt.push(r.shedDueAt[i])));
  const codes = [...r.latencies].map(([c, xs]) => `${c}:${xs.length}`).join(' ');
  // Other answers (none expected) count in the percentiles; their due times are not kept, so not in the tail's seconds.
  const all = [...r.latencies.values()].flat();
  const fromSend = [...r.serverLatencies.values()].flat();
  return {
    seconds: r.durationS,
    ok: ok.length,
    non2xx: all.length - ok.length,
    errors: r.errors + r.timeouts,
    total: all.length,
    p50: percentile(all, 50),
    p95: percentile(all, 95),
    p99: percentile(all, 99),
    codes,
    // The generator's tick lag stands for its loop delay: a late tick is a late send.
    tail: { ...tailDetail(latencies, dueAt, r.sendLag, 25), fromSendP99: percentile(fromSend, 99), loopDelayP99: percentile(r.tickLag, 99), loopDelayMax: r.tickLag.reduce((a, b) => Math.max(a, b), 0) },
    loadSeconds: r.durationS,
    loadgenCores: r.cores,
  };
}
