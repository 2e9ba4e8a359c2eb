/**
 * bench:gateway's overload phases (issue 17): open-loop load at multiples of the gateway's measured
 * maximum (open-loop.ts: several threads, raw keep-alive sockets, a browser-like client timeout).
 * What is accepted must stay fast and near the maximum (shedding, gateway/admission.ts); what is
 * refused must be refused at once; memory bounded. Each phase reports the generator's own
 * lateness and CPU next to the gateway's, so the latencies can be told to be the gateway's.
 */
import { readFileSync } from 'node:fs';
import type { BodyPool } from './bodies.js';
import { cpuSecondsOf, jitCpuSecondsOf } from './child.js';
import { phaseCeiling, type PhaseCeiling } from './cpu-ceiling.js';
import { EVENTS_PATH } from './measure.js';
import { openLoopLoad } from './open-loop.js';
import { describeOverloadRun, LOADGEN_ON_TIME_MS } from './overload-report.js';
import { histogramDelta } from './histograms.js';
import { promSum } from './prom-scrape.js';
import { log } from './run.js';
import { int, percentile } from './stats.js';
import { writeBack } from './writeback.js';


export interface OverloadRun {
  factor: number;
  rate: number;
  sent: number;
  /** Events/s of the 200s completed within the phase (answers after its end are not counted). */
  acceptedEventsPerS: number;
  /** All 200s, also after the phase: what the gateway acknowledged (checked against Kafka). */
  acceptedRequests: number;
  shedShare: number;
  acceptedP50: number;
  acceptedP99: number;
  shedP50: number;
  shedP99: number;
  shedMax: number;
  timeouts: number;
  /** Connections refused, reset or closed before an answer, and answers other than 200 and 503. */
  otherFailures: number;
  otherCodes: string;
  rssBeforeMb: number;
  peakRssMb: number;
  gatewayCores: number;
  /** Estimated gateway CPU per shed request (µs). */
  shedCpuUs: number;
  loadgenCores: number;
  /** The generator's CPU per request (µs): taken from the cores the gateway runs on. */
  loadgenUsPerRequest: number;
  loadgenLagP99: number;
  loadgenLagMax: number;
  connections: number;
  /** The generator's own lateness (due time to the tick that sent it), p99 ms: its CPU, not its connections. */
  tickLagP99: number;
  /** The gateway's part of the latency (first byte written to the answer), p99 ms, accepted and shed. */
  serverAcceptedP99: number;
  serverShedP99: number;
  /** The generator's part of an accepted request's latency (due time to first byte written: its timer, a connection, the handshake), p99 ms. */
  clientAcceptedP99: number;
  /** Accepted p99 (from due time) of requests on kept-alive connections and on connections opened for them, and how many of the latter. */
  acceptedKeptP99: number;
  acceptedFreshP99: number;
  acceptedFresh: number;
  /** Cores of the whole machine busy over the sending window, and of the broker (NaN without its pid). */
  machineCores: number;
  brokerCores: number;
  /** Of which its JIT compiler threads (a broker started for the bench warms up under the first load). */
  brokerJitCores: number;
  /** What the machine's cores allow to be accepted at this phase's rate (cpu-ceiling.ts). */
  ceiling: PhaseCeiling;
  /** TCP handshakes of the connections opened during the phase: count, p50 and p99 ms (a full accept queue shows here). */
  connectCount: number;
  connectP50: number;
  connectP99: number;
  /**
   * New connections the kernel dropped over the sending window because an accept queue was full
   * (TcpExt ListenOverflows, machine-wide: other listeners count too): each waits for the client's
   * SYN retransmit (1, 3, 7 s), which the handshake p99 then shows.
   */
  listenOverflows: number;
  timeoutsBy: { queued: number; connecting: number; sent: number };
  /** From the gateway's /metrics over the phase: shed counts by reason, and p99 bucket bounds (ms) of its own histograms. */
  gw: { shedBy: string; queueP99Ms: number; produceP99Ms: number; loopTurnP99Ms: number; handoverP99Ms: number; acceptorLoopP99Ms: number; shedOnThread: number; shedByAcceptor: number } | null;
  /** The gateway process's own memory at its highest RSS among the phase's once-a-second scrapes of /metrics (MB), or null. */
  mem: MemorySample | null;
  /** 200s completed in each second of the sending window (req/s), and the gateway's loop busy share at each once-a-second scrape: where in a phase it admits less. */
  acceptedPerS: number[];
  loopBusyPerS: number[];
  /** Shed requests due in each second of the sending window, their p99 (ms), and the generator's tick lag p99 (ms): a phase's cold start. */
  shedPerS: number[];
  shedP99PerS: number[];
  /** The same sheds' p99 on the wire (first byte written to the answer: without the generator's own lateness in sending), ms. */
  wireShedP99PerS: number[];
  /**
   * Shed p99 from due time over the seconds whose generator tick lag p99 stayed within
   * LOADGEN_ON_TIME_MS (the generator on time: the latency is the gateway's and the wire's), and how
   * many such seconds: a generator short of CPU makes the due-time figure its own.
   */
  shedP99OnTime: number;
  /** Sheds answered by a gateway process (a connection it held) and by the acceptor: count and p99 from due time (ms) each. */
  shedByProcess: { n: number; p99: number };
  shedByAcceptor: { n: number; p99: number };
  onTimeSeconds: number;
  tickLagP99PerS: number[];
  label: string;
}

/** What the gateway's memory is made of, from its /metrics (MB; connections: open client connections): of several processes, their sum (one page is the whole gateway's: gateway/cluster-metrics.ts). */
export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  connections: number;
  inFlightEvents: number;
  queuedBytes: number;
}

function memorySample(text: string): MemorySample {
  const mb = (name: string) => promSum(text, name) / 1048576;
  return {
    rss: mb('gateway_process_resident_memory_bytes'),
    heapTotal: mb('gateway_nodejs_heap_size_total_bytes'),
    heapUsed: mb('gateway_nodejs_heap_size_used_bytes'),
    external: mb('gateway_nodejs_external_memory_bytes'),
    connections: promSum(text, 'gateway_connections'),
    inFlightEvents: promSum(text, 'gateway_events_in_flight'),
    queuedBytes: promSum(text, 'gateway_queued_bytes') / 1048576,
  };
}

/** Scrapes the gateway's /metrics once a second (never two at once) and keeps the sample of highest RSS; loop busy: the busiest process's. */
function memoryWatch(port: number): { stop(): MemorySample | null; loopBusy: number[] } {
  let best: MemorySample | null = null;
  const loopBusy: number[] = [];
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void scrape(port)
      .then((t) => {
        if (!t) return;
        const s = memorySample(t);
        if (!best || s.rss > best.rss) best = s;
        loopBusy.push(promSum(t, 'gateway_event_loop_busy_ratio'));
      })
      .finally(() => (busy = false));
  }, 1000);
  return {
    loopBusy,
    stop() {
      clearInterval(timer);
      return best;
    },
  };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface OverloadOptions {
  /** The gateway's process: its RSS and CPU are sampled. */
  pid: number;
  port: number;
  pool: BodyPool;
  maxReqPerS: number;
  factors: number[];
  durationS: number;
  /** Threads of the load generator (open-loop.ts). */
  threads: number;
  /** Most connections the generator opens (beyond, requests wait for one, counted in their latency). */
  maxConnections: number;
  /** Connections opened before the phase starts (an audience already connected; the rest are opened as needed). */
  warmConnections: number;
  /** The client timeout: requests unanswered after it are given up and counted as timeouts. */
  timeoutMs: number;
  /** Gateway CPU ms per accepted request, from the maximum-load runs: splits a phase's CPU into accepted and shed work. */
  acceptedCpuMs: number;
  /** Broker CPU ms per accepted request at the maximum: with the gateway's, what an accepted request costs the machine (the phase's CPU ceiling). */
  acceptedBrokerCpuMs?: number;
  /** Share of requests sent on a new connection of their own (browsers arriving during the spike). */
  newConnectionShare: number;
  /** Which gateway, in the report (e.g. "1 process", "2 processes"). */
  label: string;
  /** The gateway's CPU seconds so far (the whole process tree for several processes). */
  cpuSeconds?: () => number;
  /** Sum of the RSS of the gateway's processes (MB); the pid's own RSS when absent. */
  rssMb?: () => number;
  /** The Kafka broker's pid: its cores are shown beside the gateway's and the generator's. */
  kafkaPid?: number;
  /** Niceness of the generator's threads (open-loop-worker.ts). */
  loadgenNice?: number;
}

/** CPU seconds the whole machine has been busy (all cores, /proc/stat: all but idle and iowait). */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return (total - f[3] - (f[4] ?? 0)) / 100;
  } catch {
    return NaN;
  }
}

/** The kernel's count of connections dropped for a full accept queue (TcpExt ListenOverflows), NaN where unreadable. */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}

const SHED_REASONS = ['loop_lag', 'waited', 'queue_delay', 'expected_delay', 'requests', 'bytes', 'connections', 'acceptor', 'acceptor_busy'];
const BY_ACCEPTOR = (r: string) => r === 'acceptor' || r === 'acceptor_busy';

async function scrape(port: number): Promise<string | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.text() : null;
  } catch {
    return null;
  }
}

function gatewayFigures(before: string | null, after: string | null): OverloadRun['gw'] {
  if (!before || !after) return null;
  const p99 = (name: string) => {
    const h = histogramDelta(before, after, name);
    return h.count > 0 ? h.quantile(0.99) * 1000 : NaN;
  };
  const counts = SHED_REASONS.map((r) => [r, promSum(after, 'gateway_shed_requests_total', [`reason="${r}"`]) - promSum(before, 'gateway_shed_requests_total', [`reason="${r}"`])] as const);
  // The acceptor's sheds cost the gateway processes nothing; every other reason is a shed on a gateway process's own thread.
  const shedByAcceptor = counts.reduce((n, [r, c]) => (BY_ACCEPTOR(r) ? n + c : n), 0);
  const shedOnThread = counts.reduce((n, [r, c]) => (BY_ACCEPTOR(r) ? n : n + c), 0);
  const shedBy = counts
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} ${int(n)}`)
    .join(', ');
  return { shedBy: shedBy || 'none', shedOnThread, shedByAcceptor, queueP99Ms: p99('gateway_queue_seconds'), produceP99Ms: p99('gateway_produce_seconds'), loopTurnP99Ms: p99('gateway_loop_turn_seconds'),
    // Behind the acceptor (NaN otherwise): the wait for the IPC channel, and the acceptor's own loop delay (one sample a second: its worst second).
    handoverP99Ms: p99('gateway_handover_seconds'),
    acceptorLoopP99Ms: p99('gateway_acceptor_loop_delay_seconds'),
  };
}

/** Runs one phase per factor against the gateway on `port`. */
export async function overloadPhases(opts: OverloadOptions): Promise<OverloadRun[]> {
  const runs: OverloadRun[] = [];
  // Nothing to multiply when the gateway took nothing (a broken run): the phases would send nothing.
  for (const factor of opts.maxReqPerS >= 1 ? opts.factors : []) {
    const o = await overloadPhase(opts, factor);
    runs.push(o);
    log(describeOverloadRun(o));
    // Let the queue drain and the clients' sockets close before the next phase.
    await new Promise((res) => setTimeout(res, 3000));
  }
  return runs;
}

async function overloadPhase(opts: OverloadOptions, factor: number): Promise<OverloadRun> {
  const rate = Math.round(opts.maxReqPerS * factor);
  const rssOf = opts.rssMb ?? (() => rssMb(opts.pid));
  const cpuOf = opts.cpuSeconds ?? (() => cpuSecondsOf(opts.pid));
  writeBack();
  const rssBefore = rssOf();
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf())), 100);
  const metricsBefore = await scrape(opts.port);
  const memory = memoryWatch(opts.port);
  // The gateway's CPU over the sending window only (the generator starts after building its pools).
  let cpu0 = NaN;
  let cpu1 = NaN;
  const machine = [NaN, NaN];
  const broker = [NaN, NaN];
  const brokerJit = [NaN, NaN];
  const overflows = [NaN, NaN];
  const startsIn = 3000;
  const t0 = setTimeout(() => {
    cpu0 = cpuOf();
    machine[0] = machineBusySeconds();
    overflows[0] = listenOverflows();
    broker[0] = opts.kafkaPid ? cpuSecondsOf(opts.kafkaPid) : NaN;
    brokerJit[0] = jitCpuSecondsOf(opts.kafkaPid);
  }, startsIn);
  const t1 = setTimeout(() => {
    cpu1 = cpuOf();
    machine[1] = machineBusySeconds();
    overflows[1] = listenOverflows();
    broker[1] = opts.kafkaPid ? cpuSecondsOf(opts.kafkaPid) : NaN;
    brokerJit[1] = jitCpuSecondsOf(opts.kafkaPid);
  }, startsIn + opts.durationS * 1000);
  const eventsPerBody = opts.pool.eventsPerBody;
  try {
    const r = await openLoopLoad({
      port: opts.port,
      path: EVENTS_PATH,
      rate,
      durationS: opts.durationS,
      threads: opts.threads,
      offset: 0,
      // Event ids take no '.' (contracts/event-schema.ts): a factor of 0.5 tags its ids 0p5.
      pool: { size: Math.min(2000, opts.pool.size), seed: 42, tag: `ovl${String(factor).replace('.', 'p')}x${Date.now().toString(36)}`, eventsPerBody },
      maxConnections: opts.maxConnections,
      warmConnections: opts.warmConnections,
      newConnectionShare: opts.newConnectionShare,
      timeoutMs: opts.timeoutMs,
      nice: opts.loadgenNice ?? 0,
    });
    const cpuEnd = cpuOf();
    const mem = memory.stop();
    const metricsAfter = await scrape(opts.port);
    const accepted = r.latencies.get(200) ?? [];
    const shed = r.latencies.get(503) ?? [];
    const others = [...r.latencies].filter(([s]) => s !== 200 && s !== 503);
    const inWindow = r.acceptedAt.filter((t) => t <= opts.durationS * 1000).length;
    const acceptedPerS = Array.from({ length: opts.durationS }, () => 0);
    for (const t of r.acceptedAt) if (t >= 0 && t < opts.durationS * 1000) acceptedPerS[Math.floor(t / 1000)]++;
    const shedBySecond: number[][] = Array.from({ length: opts.durationS }, () => []);
    const wireShedBySecond: number[][] = Array.from({ length: opts.durationS }, () => []);
    // serverLatencies(503) is recorded with latencies(503) and shedDueAt, in the same order.
    const wireShed = r.serverLatencies.get(503) ?? [];
    r.shedDueAt.forEach((t, i) => {
      const sec = Math.min(opts.durationS - 1, Math.max(0, Math.floor(t / 1000)));
      shedBySecond[sec].push(shed[i]);
      wireShedBySecond[sec].push(wireShed[i]);
    });
    const onTime = r.tickLagP99PerS.map((x) => x <= LOADGEN_ON_TIME_MS);
    // The whole phase's CPU (answers after the sending window too), less what the accepted requests cost at the maximum.
    const shedCpuUs = shed.length ? ((cpuEnd - cpu0) * 1000 - accepted.length * opts.acceptedCpuMs) * 1000 / shed.length : NaN;
    return {
      factor,
      rate,
      sent: r.sent,
      acceptedEventsPerS: (inWindow * eventsPerBody) / opts.durationS,
      acceptedRequests: accepted.length,
      shedShare: shed.length / Math.max(1, r.sent),
      acceptedP50: percentile(accepted, 50),
      acceptedP99: percentile(accepted, 99),
      shedP50: percentile(shed, 50),
      shedP99: percentile(shed, 99),
      shedMax: shed.length ? shed.reduce((m, x) => Math.max(m, x), 0) : NaN,
      timeouts: r.timeouts,
      otherFailures: r.errors + others.reduce((n, [, xs]) => n + xs.length, 0),
      otherCodes: others.map(([s, xs]) => `${s}:${xs.length}`).join(' '),
      rssBeforeMb: rssBefore,
      peakRssMb: peak,
      gatewayCores: (cpu1 - cpu0) / opts.durationS,
      shedCpuUs,
      loadgenCores: r.cores,
      loadgenUsPerRequest: r.cpuUsPerRequest,
      loadgenLagP99: percentile(r.sendLag, 99),
      loadgenLagMax: r.sendLag.reduce((m, x) => Math.max(m, x), 0),
      connections: r.connectionsOpened,
      tickLagP99: percentile(r.tickLag, 99),
      serverAcceptedP99: percentile(r.serverLatencies.get(200) ?? [], 99),
      serverShedP99: percentile(r.serverLatencies.get(503) ?? [], 99),
      clientAcceptedP99: percentile(r.clientLatencies.get(200) ?? [], 99),
      acceptedKeptP99: percentile(r.acceptedKept, 99),
      acceptedFreshP99: percentile(r.acceptedFresh, 99),
      acceptedFresh: r.acceptedFresh.length,
      machineCores: (machine[1] - machine[0]) / opts.durationS,
      brokerCores: (broker[1] - broker[0]) / opts.durationS,
      ceiling: phaseCeiling({ rate, maxReqPerS: opts.maxReqPerS, acceptedCpuMs: opts.acceptedCpuMs + (opts.acceptedBrokerCpuMs ?? 0), loadgenUs: r.cpuUsPerRequest, shedUs: shedCpuUs }),
      brokerJitCores: (brokerJit[1] - brokerJit[0]) / opts.durationS,
      connectCount: r.connectMs.length,
      connectP50: percentile(r.connectMs, 50),
      connectP99: percentile(r.connectMs, 99),
      listenOverflows: overflows[1] - overflows[0],
      timeoutsBy: r.timeoutsBy,
      gw: gatewayFigures(metricsBefore, metricsAfter),
      mem,
      acceptedPerS,
      // The scrapes start with the generator's 3 s of preparation: the sending window's seconds only.
      loopBusyPerS: memory.loopBusy.slice(Math.floor(startsIn / 1000), Math.floor(startsIn / 1000) + opts.durationS),
      shedPerS: shedBySecond.map((xs) => xs.length),
      shedP99PerS: shedBySecond.map((xs) => percentile(xs, 99)),
      wireShedP99PerS: wireShedBySecond.map((xs) => percentile(xs, 99)),
      shedP99OnTime: percentile(shedBySecond.filter((_, i) => onTime[i]).flat(), 99),
      onTimeSeconds: onTime.filter(Boolean).length,
      shedByProcess: ((xs) => ({ n: xs.length, p99: percentile(xs, 99) }))(shed.filter((_, i) => r.shedByProcess[i] === 1)),
      shedByAcceptor: ((xs) => ({ n: xs.length, p99: percentile(xs, 99) }))(shed.filter((_, i) => r.shedByProcess[i] === 0)),
      tickLagP99PerS: r.tickLagP99PerS,
      label: opts.label,
    };
  } finally {
    memory.stop();
    clearInterval(sampler);
    clearTimeout(t0);
    clearTimeout(t1);
  }
}
