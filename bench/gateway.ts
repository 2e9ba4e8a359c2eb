/**
 * bench:gateway — how many enriched events per second the real gateway takes (batches of 20,
 * Kafka on this machine, acks=all), beside a bare Fastify route that only parses the same
 * batches, measured in the same run; then p50/p99 latency at half the gateway's measured
 * maximum. Everything on 127.0.0.1; Kafka on its own ports (29192/29193, below the ephemeral
 * range) with its data in .data/bench/gateway, stopped at the end, also on failure.
 *
 *   npm run bench:gateway -- [--reps 3] [--duration 10] [--connections 64] [--half-duration 10] [--half-settle 20]
 *                            [--warmup 3] [--pool 2000] [--no-stub] [--compare-uncoalesced]
 *                            [--profile [--profile-target stub]] [--clients platformatic[,kafkajs]]
 *                            [--overload 2,5] [--overload-duration 10] [--overload-threads 2]
 *                            [--overload-connections 4096] [--overload-warm-connections 1024]
 *                            [--overload-new-connections 0.1] [--client-timeout 10] [--workers 1]
 *                            [--compression none] [--linger 5] [--secure] [--ab-root DIR] [--overload-base 0]
 *                            [--broker-warmup-max 45]
 *                            [--loadgen-nice 0] [--trace] [--closed-loop raw|autocannon] [--paced-connections 256 | --paced-warm 32] [--paced-new 0.1] [--paced-client raw|http]
 *                            [--variants 'GATEWAY_WORKERS=2,GATEWAY_KAFKA_LINGER_MS=2;GATEWAY_KAFKA_COMPRESSION=lz4']
 *
 * --paced-rate N: every real gateway also at N requests/s, paced open loop, in the same rotation:
 * CPU ms per request of each layout (gateway processes, broker, generator) at one equal load below
 * everyone's maximum, which a machine too busy for maxima still compares (nothing shed).
 * --variants: the real gateway (first client) again once per ';'-separated list of settings, each
 * on its own port (28095, 28096 ...), in the same rotation at maximum load and through the overload
 * phases (at multiples of its own maximum, or of --overload-base): a layout or a combination of
 * settings (processes x linger x compression, GATEWAY_WORKER_NICE ...) measured beside the default.
 *
 * How the paced runs connect: bench/README.md ("bench:gateway"), --paced-connections, --paced-warm, --paced-new, --paced-client.
 *
 * --trace: the real gateway (first client) with GATEWAY_TRACE_HOPS, and each half-load run prints
 * where its requests' time went, hop by hop (lib/hops.ts; as bench:gateway-half --trace).
 *
 * Only the overload phases (no maximum measured, no half load): --reps 0 --half-reps 0 --warmup 1
 * --overload-base N --no-stub --workers 0 --compression '' --linger 0 (with --ab-root for a before and
 * after). Every target's phases run factor by factor, each factor in a rotated order of targets.
 * Before any phase is measured, the real gateways go on at maximum load until the broker's JIT
 * compilers took under 10 % of its CPU in two rounds of ~4 s in a row (--broker-warmup-max S of load at most; 0: not at all): a broker
 * started for the bench would otherwise spend the first repetitions compiling, on the same two cores.
 * --overload-base N: the overload phases offer multiples of N req/s to every gateway instead of
 * multiples of each one's own measured maximum (0, the default): the same offered load for an A/B
 * on a machine too noisy for two maxima measured minutes apart to agree; "vs max" is then against N.
 * --ab-root DIR: the real gateway (first client, one process) again from another checkout (its
 * gateway/server.ts, with this checkout's settings), on its own port, in the same rotation at
 * maximum load and then through the same overload phases at multiples of its own maximum: a before
 * and after of gateway code measured in the same minutes; with the stub, that checkout's stubbed
 * gateway too (--ab-stub-port), in the same rotation.
 * --secure: Kafka with TLS and SASL/SCRAM only (lib/secure.ts); the gateways log in over TLS.
 * Targets, each in its own Node process (lib/gateway-processes.ts): the bare route, the gateway
 * with Kafka stubbed out (what the gateway's own work costs), optionally the gateway without
 * coalesced Kafka sends (--compare-uncoalesced), and the real gateway. The load generator runs in
 * this process (lib/measure.ts): a closed loop (64 connections, raw sockets, lib/closed-loop.ts) for the maximum, evenly
 * paced open-loop requests for half the maximum (lib/open-loop.ts on one thread; --paced-client http: lib/paced.ts); the overload phases (lib/overload.ts) run their
 * own open-loop generator (lib/open-loop.ts: several threads over raw sockets, which paces rates
 * one http.request loop cannot, with a client timeout and its own lateness reported). --profile adds a run under `node --cpu-prof` (lib/gateway-profile.ts).
 */
import path from 'node:path';
import { startKafka } from '../infra/services.js';
import { resolveDataDir } from '../infra/paths.js';
import { assertPortsFree } from '../infra/ports.js';
import { parseArgs } from './lib/args.js';
import { benchSecurity, describeSecurity } from './lib/secure.js';
import { bodyPool } from './lib/bodies.js';
import { gatewayProcesses, type KafkaClientName } from './lib/gateway-processes.js';
import { gatewayReport, TARGET_EVENTS_PER_S, type Series } from './lib/gateway-report.js';
import { profileRun } from './lib/gateway-profile.js';
import { scrape, tailWhy } from './lib/half-tail.js';
import { hopsTable } from './lib/hops.js';
import { kafkaRecords } from './lib/kafka-records.js';
import { measure, pacedOptions, type ClosedLoop, type CpuSource, type Measured } from './lib/measure.js';
import { overloadPhases } from './lib/overload.js';
import { warmBroker } from './lib/broker-warmup.js';
import { parseVariants } from './lib/variants.js';
import { gatewayBenchPorts } from './lib/gateway-ports.js';
import { overloadReport } from './lib/overload-report.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, median, ms, table } from './lib/stats.js';
import { rssMbOfTree } from './lib/child.js';
import { loadConfig } from '../common/config.js';

const a = parseArgs();
const REPS = a.num('reps', 3);
const DURATION = a.num('duration', 10);
const WARMUP = a.num('warmup', 3);
const CONNECTIONS = a.num('connections', 64);
const HALF_DURATION = a.num('half-duration', 10);
/** --half-settle S: seconds at the half rate before the counted half-load runs, printed but not counted (0: none). */
const HALF_SETTLE = a.num('half-settle', 20);
const HALF_REPS = a.num('half-reps', REPS);
const POOL = a.num('pool', 2000);
const SECURE = a.flag('secure');
const PROFILE = a.flag('profile');
const TRACE = a.flag('trace');
/** Which process --profile profiles: the real gateway, or the one with Kafka stubbed out (its own work only). */
const PROFILE_TARGET = a.str('profile-target', 'gateway') as 'gateway' | 'stub';
const PORTS = gatewayBenchPorts(a);
const AB_ROOT = a.str('ab-root', '');
const PACED_RATE = a.num('paced-rate', 0);
/** --paced-connections, --paced-warm, --paced-new, --paced-client: how the paced runs connect (the header above). */
const PACED = pacedOptions(a);
/** --variants: settings (ENV=value, comma-separated) of each extra real gateway, ';' between gateways. */
const VARIANTS = parseVariants(a.str('variants', ''));
/** --no-acceptor: skip the gateway behind the acceptor process (GATEWAY_ACCEPTOR: sheds on its own core under overload). */
const ACCEPTOR = !a.flag('no-acceptor');
/** Whether the default gateway runs behind the acceptor: the extra target is then the one without it. */
const DEFAULT_ACCEPTOR = loadConfig().gatewayAcceptor;
const accName = DEFAULT_ACCEPTOR ? 'inline' : 'acceptor';
const DEFAULT_WORKERS = loadConfig().gatewayWorkers;
const processes = `${DEFAULT_WORKERS} process${DEFAULT_WORKERS > 1 ? 'es' : ''}`;
const gwLabel = DEFAULT_ACCEPTOR ? `${processes} behind the acceptor (default)` : `${processes} (default)`;
const accLabel = DEFAULT_ACCEPTOR ? `${processes} shedding on their own threads (GATEWAY_ACCEPTOR=false)` : `${processes} behind the acceptor`;
/** --compression none: also the real gateway (first client) with this GATEWAY_KAFKA_COMPRESSION; '' or the default's skips it. */
const COMPRESSION = ((c) => (c === loadConfig().gatewayKafkaCompression ? '' : c))(a.str('compression', 'none'));
/** --linger 5: also the real gateway (first client) with this GATEWAY_KAFKA_LINGER_MS (bigger groups under load); 0 (the default) skips it. */
const LINGER = a.num('linger', 0);
/** --workers N: also the real gateway (first client) as N processes (GATEWAY_WORKERS; 1: what the second core buys); 0 or the default's count skips it. */
const WORKERS = ((n) => (n === DEFAULT_WORKERS ? 0 : n))(a.num('workers', 1));
/** --clients: the Kafka client libraries to measure the real gateway with; the first one also gets the half-load runs. */
const CLIENTS = a.str('clients', 'platformatic').split(',').filter(Boolean) as KafkaClientName[];
for (const c of CLIENTS) if (c !== 'platformatic' && c !== 'kafkajs') throw new Error(`--clients takes platformatic and/or kafkajs, got ${c}`);
/** --compare-uncoalesced: also the gateway with one Kafka send per request (no coalescing-producer). */
const COMPARE_UNCOALESCED = a.flag('compare-uncoalesced');
/** --no-stub: skip the gateway with Kafka stubbed out. */
const NO_STUB = a.flag('no-stub');
/** --overload 2,5: paced phases at these multiples of the measured maximum (issue: shed early, keep accepted latency bounded); --overload '' skips them. */
const OVERLOAD = a.str('overload', '2,5').split(',').filter(Boolean).map(Number);
const OVERLOAD_DURATION = a.num('overload-duration', 10);
/** Threads of the overload phases' load generator (lib/open-loop.ts), most connections they open, and their client timeout (s). */
const OVERLOAD_THREADS = a.num('overload-threads', 2);
const OVERLOAD_CONNECTIONS = a.num('overload-connections', 4096);
/** Connections the overload generator opens before each phase: a spike of new connections all at once would overflow the listen backlog (511) and wait on SYN retransmits. */
const OVERLOAD_WARM = a.num('overload-warm-connections', 1024);
/** Share of overload requests sent on a new connection of their own, closed after the answer: browsers arriving in the spike. */
const OVERLOAD_NEW_CONNECTIONS = a.num('overload-new-connections', 0.1);
const CLIENT_TIMEOUT_S = a.num('client-timeout', 10);
const OVERLOAD_BASE = a.num('overload-base', 0);
/**
 * --loadgen-nice N: the overload generator's threads at niceness N (0, the default: the bench's own).
 * It shares the gateway's two cores; at 19 it gets only what the gateway, the broker and the rest
 * leave, so it takes nothing from them, and its own lateness (tick lag, gen p99) shows what it lost.
 */
const LOADGEN_NICE = a.num('loadgen-nice', 0);
/** --closed-loop autocannon: the maximum-load runs with autocannon's client (the earlier figures') instead of lib/closed-loop.ts's raw sockets. */
const CLOSED_LOOP = a.str('closed-loop', 'raw') as ClosedLoop;
if (CLOSED_LOOP !== 'raw' && CLOSED_LOOP !== 'autocannon') throw new Error(`--closed-loop takes raw or autocannon, got ${CLOSED_LOOP}`);
/** The rate the overload phases multiply: --overload-base, or the target's own measured maximum. */
const overloadMax = (measured: number) => (OVERLOAD_BASE > 0 ? OVERLOAD_BASE : measured);
/** The events/s an overload phase's accepted throughput is judged against (batches of 20). */
const overloadMaxEvents = (measured: number) => (OVERLOAD_BASE > 0 ? OVERLOAD_BASE * 20 : measured);
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/gateway'));

/** --broker-warmup-max S: the longest the broker is warmed before the measured phases (s of load; 0: not at all). */
const BROKER_WARMUP_MAX_S = a.num('broker-warmup-max', 45);

let brokerPid: number | undefined;

/** One process measured at maximum load, in the rotation of every repetition. */
interface Target {
  label: string;
  proc: CpuSource;
  port: number;
  /** Writes to Kafka: its acknowledged events are checked against Kafka's records, and the broker's CPU counts. */
  real: boolean;
  runs: Measured[];
}

await runBench('bench:gateway', 1800, async () => {
  // Kafka checks its own ports; these are the benchmark's processes'.
  await assertPortsFree([
    { port: PORTS.gateway, what: 'gateway', setting: '--gateway-port' },
    { port: PORTS.bare, what: 'bare route', setting: '--bare-port' },
    { port: PORTS.stub, what: 'stubbed gateway', setting: '--stub-port' },
    { port: PORTS.uncoalesced, what: 'uncoalesced gateway', setting: '--uncoalesced-port' },
    { port: PORTS.kafkajs, what: 'gateway with the second client', setting: '--kafkajs-port' },
    { port: PORTS.workers, what: 'gateway with several processes', setting: '--workers-port' },
    { port: PORTS.compressed, what: 'gateway with compression', setting: '--compressed-port' },
    { port: PORTS.acceptor, what: 'gateway behind the acceptor', setting: '--acceptor-port' },
    { port: PORTS.linger, what: 'gateway with linger', setting: '--linger-port' },
    { port: PORTS.ab, what: 'gateway from --ab-root', setting: '--ab-port' },
    { port: PORTS.abStub, what: 'stubbed gateway from --ab-root', setting: '--ab-stub-port' },
    ...VARIANTS.map((v, i) => ({ port: PORTS.variants + i, what: `gateway with ${v.spec}`, setting: '--variant-port' })),
  ]);
  log(`gateway bench: ${REPS} x ${DURATION} s at max load per target (${CONNECTIONS} connections), then ${REPS} x ${HALF_DURATION} s at half load; loadavg ${await loadAverage()}`);
  const pool = bodyPool({ size: POOL, eventsPerBody: 20, seed: 42 });
  log(`pool of ${POOL} bodies of 20 events (traffic generator, seed 42), ${int(pool.avgBytes)} bytes each on average`);

  const kafka = await startKafka({
    dataDir: DATA_DIR,
    fresh: true,
    port: PORTS.kafka,
    controllerPort: PORTS.controller,
    security: benchSecurity(SECURE),
    log: (m) => log(`[infra] ${m}`),
  });
  onCleanup('kafka', () => kafka.stop());
  log(describeSecurity(kafka.clientConfig));
  const procs = gatewayProcesses({ dataDir: DATA_DIR, kafkaPort: PORTS.kafka, kafkaClient: kafka.clientConfig });

  const [client, otherClient] = CLIENTS;
  if (!client) throw new Error('--clients names no client');
  let gw = await procs.gateway('gateway', client, PORTS.gateway, [], TRACE ? { gatewayTraceHops: true } : {});
  // The second client, when asked for: the real gateway again, on its own port, with the other library.
  const other = otherClient ? await procs.gateway(`gateway-${otherClient}`, otherClient, PORTS.kafkajs) : null;
  // The first client again as WORKERS processes: what the second core buys (or a third costs).
  const multi = WORKERS > 0 ? await procs.gateway(`gateway-x${WORKERS}`, client, PORTS.workers, [], { gatewayWorkers: WORKERS }) : null;
  // The first client again with compressed record batches: client CPU and bytes against the default.
  const compressed = COMPRESSION ? await procs.gateway(`gateway-${COMPRESSION}`, client, PORTS.compressed, [], { gatewayKafkaCompression: COMPRESSION }) : null;
  // The first client again with the other GATEWAY_ACCEPTOR than the default: behind the acceptor (it
  // hands the one gateway process the connections and sheds on its own core while the process is
  // overloaded), or without it (the process sheds on its own thread).
  const acc = ACCEPTOR ? await procs.gateway(`gateway-${accName}`, client, PORTS.acceptor, [], { gatewayAcceptor: !DEFAULT_ACCEPTOR }) : null;
  // The first client again with a linger under load: fewer, bigger produce requests (client and broker CPU per request).
  const lingering = LINGER > 0 ? await procs.gateway(`gateway-linger${LINGER}`, client, PORTS.linger, [], { gatewayKafkaLingerMs: LINGER }) : null;
  // This checkout's default GATEWAY_ACCEPTOR, set explicitly: the other checkout's own default may differ.
  const ab = AB_ROOT ? await procs.gateway('gateway-ab', client, PORTS.ab, [], { gatewayAcceptor: DEFAULT_ACCEPTOR }, AB_ROOT) : null;
  const variants = [];
  for (const [i, v] of VARIANTS.entries()) variants.push({ ...v, port: PORTS.variants + i, gw: await procs.gateway(`gateway-v${i + 1}`, client, PORTS.variants + i, [], v.settings) });
  const bare = await procs.bare(PORTS.bare);
  const stub = NO_STUB ? null : await procs.variant('stub', client, PORTS.stub);
  const abStub = AB_ROOT && !NO_STUB ? await procs.variant('stub', client, PORTS.abStub, [], AB_ROOT) : null;
  const uncoalesced = COMPARE_UNCOALESCED ? await procs.variant('uncoalesced', client, PORTS.uncoalesced) : null;

  const target = (label: string, proc: CpuSource, port: number, real: boolean): Target => ({ label, proc, port, real, runs: [] });
  const tBare = target('bare', bare, PORTS.bare, false);
  const tStub = stub && target('stub', stub, PORTS.stub, false);
  const tAbStub = abStub && target(`stub from ${AB_ROOT}`, abStub, PORTS.abStub, false);
  const tUncoalesced = uncoalesced && target('uncoalesced', uncoalesced, PORTS.uncoalesced, true);
  // `gw` is replaced by the profiled process at the end: the target reads it when measured.
  const tGw = target(`gateway ${client}`, { cpuSeconds: () => gw.treeCpuSeconds() }, PORTS.gateway, true);
  const tOther = other && otherClient ? target(`gateway ${otherClient}`, { cpuSeconds: () => other.treeCpuSeconds() }, PORTS.kafkajs, true) : null;
  const tMulti = multi ? target(`gateway ${client} x${WORKERS}`, { cpuSeconds: () => multi.treeCpuSeconds() }, PORTS.workers, true) : null;
  const tCompressed = compressed ? target(`gateway ${client} ${COMPRESSION}`, { cpuSeconds: () => compressed.treeCpuSeconds() }, PORTS.compressed, true) : null;
  const tAcc = acc ? target(`gateway ${client} ${accName}`, { cpuSeconds: () => acc.treeCpuSeconds() }, PORTS.acceptor, true) : null;
  const tLinger = lingering ? target(`gateway ${client} linger ${LINGER} ms`, { cpuSeconds: () => lingering.treeCpuSeconds() }, PORTS.linger, true) : null;
  const tAb = ab ? target(`gateway ${client} from ${AB_ROOT}`, { cpuSeconds: () => ab.treeCpuSeconds() }, PORTS.ab, true) : null;
  const tVariants = variants.map((v) => target(`gateway ${client} ${v.spec}`, { cpuSeconds: () => v.gw.treeCpuSeconds() }, v.port, true));
  const targets = [tBare, tStub, tAbStub, tUncoalesced, tGw, tAb, tMulti, tCompressed, tAcc, tLinger, tOther, ...tVariants].filter((t): t is Target => t !== null);

  brokerPid = kafka.pid;
  const records0 = await kafkaRecords(kafka);
  let gatewayAccepted = 0;
  const run = async (t: Target, what: string, duration: number, rate?: number) => {
    const m = await measure(what, t.proc, t.real ? kafka.pid : undefined, pool, { port: t.port, duration, connections: CONNECTIONS, rate, trace: TRACE && t === tGw && rate !== undefined, closedLoop: CLOSED_LOOP, ...PACED });
    if (t.real) gatewayAccepted += m.ok * pool.eventsPerBody;
    return m;
  };

  // Warm-up: JIT, connections, Kafka's first segments and producer state.
  log(`warm-up ${WARMUP} s each`);
  for (const t of targets) await run(t, `warm-up ${t.label}`, WARMUP);
  // The broker, started seconds ago, would still be compiling its produce path in the first measured
  // phases (its JIT threads on the gateway's two cores), a broker no deployment has: bench/README.md,
  // ninth and twenty-first stops. The real gateways go on at maximum load in rounds of ~4 s (a shorter one
  // can fall between two bursts of compiling) until the broker's compilers were a small share of its
  // CPU in two rounds in a row (their shedding paths stay cold: not warmed).
  const realTargets = targets.filter((t) => t.real);
  const eachS = realTargets.length ? Math.max(1, Math.ceil(4 / realTargets.length)) : 0;
  if (REPS > 0 || HALF_REPS > 0 || OVERLOAD.length)
    await warmBroker(brokerPid, BROKER_WARMUP_MAX_S, eachS * realTargets.length, async () => {
      for (const t of realTargets) await run(t, `broker warm-up ${t.label}`, eachS);
    });

  for (let i = 1; i <= REPS; i++) {
    // Rotate the order so that a burst of noise from the machine does not always hit the same target.
    const order = targets.map((_, j) => targets[(i - 1 + j) % targets.length]);
    for (const t of order) {
      const m = await run(t, `${t.label} #${i}`, DURATION);
      t.runs.push(m);
      log(`${m.what}: ${int(m.reqPerS)} req/s, ${int(m.eventsPerS)} events/s, p50 ${ms(m.p50)}, p99 ${ms(m.p99)}, codes ${m.codes}${m.retryWaits ? ` (${m.retryWaits} waits for a Retry-After)` : ''}${m.errors ? `, ${m.errors} errors` : ''}`);
    }
  }

  // Every real gateway at one paced rate, in the same rotation: CPU per request of each layout at equal load.
  const pacedRuns = new Map<Target, Measured[]>();
  if (PACED_RATE > 0) {
    const real = targets.filter((t) => t.real);
    for (let i = 1; i <= REPS; i++) {
      for (const t of real.map((_, j) => real[(i - 1 + j) % real.length])) {
        const m = await run(t, `${t.label} @${int(PACED_RATE)} req/s #${i}`, DURATION, PACED_RATE);
        pacedRuns.set(t, [...(pacedRuns.get(t) ?? []), m]);
        log(`${m.what}: ${int(m.reqPerS)} req/s, p50 ${ms(m.p50)}, p99 ${ms(m.p99)}, codes ${m.codes}, cpu ms/req gateway ${m.cpuMsPerReq.server.toFixed(3)} broker ${m.cpuMsPerReq.kafka.toFixed(3)}, loadgen ${m.cpu.loadgen.toFixed(2)} cores`);
      }
    }
  }

  const gwMax = median(tGw.runs.map((m) => m.reqPerS));
  const half = Math.max(1, Math.round(gwMax / 2));
  const halfRuns: Measured[] = [];
  const halfWhy: string[] = [];
  // The counted runs measure the steady half load. Out of the closed loop's saturation the broker
  // (still compiling for the smaller batches), the generator and new connections take 10-20 s to settle
  // (bench/README.md, seventeenth stop): that run is printed, second by second, not counted.
  if (HALF_REPS > 0 && HALF_SETTLE > 0) {
    const before = await scrape(PORTS.gateway);
    const m = await run(tGw, `gateway @${int(half)} req/s settling after the maximum (not counted)`, HALF_SETTLE, half);
    halfWhy.push(`${m.what}: p50 ${ms(m.p50)}, p99 ${ms(m.p99)}, codes ${m.codes}; ${tailWhy(m, before, await scrape(PORTS.gateway))}`);
    log(halfWhy[halfWhy.length - 1]);
  }
  for (let i = 1; i <= HALF_REPS; i++) {
    const before = await scrape(PORTS.gateway);
    const m = await run(tGw, `gateway @${int(half)} req/s #${i}`, HALF_DURATION, half);
    halfRuns.push(m);
    log(`${m.what}: ${int(m.reqPerS)} req/s, p50 ${ms(m.p50)}, p95 ${ms(m.p95 ?? NaN)}, p99 ${ms(m.p99)}, codes ${m.codes}`);
    halfWhy.push(`${m.what}: p95 ${ms(m.p95 ?? NaN)}, p99 ${ms(m.p99)}; ${tailWhy(m, before, await scrape(PORTS.gateway))}`);
    if (m.hops) halfWhy.push(hopsTable(m.hops));
    log(halfWhy[halfWhy.length - 1]);
  }
  // Half of the target load too, when the gateway reaches it: the brief's p99 is stated there.
  const targetHalf = TARGET_EVENTS_PER_S / 2 / pool.eventsPerBody;
  const targetHalfRuns: Measured[] = [];
  if (gwMax >= targetHalf * 1.1) {
    for (let i = 1; i <= REPS; i++) targetHalfRuns.push(await run(tGw, `gateway @${int(targetHalf)} req/s #${i}`, HALF_DURATION, targetHalf));
  }
  const overloadCommon = {
    pool,
    kafkaPid: kafka.pid,
    factors: OVERLOAD,
    durationS: OVERLOAD_DURATION,
    threads: OVERLOAD_THREADS,
    maxConnections: OVERLOAD_CONNECTIONS,
    warmConnections: Math.min(OVERLOAD_WARM, OVERLOAD_CONNECTIONS),
    newConnectionShare: OVERLOAD_NEW_CONNECTIONS,
    timeoutMs: CLIENT_TIMEOUT_S * 1000,
    loadgenNice: LOADGEN_NICE,
  };
  // Every gateway's phases, factor by factor, each factor in a rotated order (A/B on a shared
  // machine: no target always runs first or last), at multiples of its own maximum (or --overload-base).
  type Job = { opts: Parameters<typeof overloadPhases>[0]; runs: Awaited<ReturnType<typeof overloadPhases>>; maxEventsPerS: number };
  /** A target's phases, at multiples of its own maximum (or --overload-base): `proc` is its process tree. */
  const job = (t: Target | null, proc: { pid: number; treeCpuSeconds(): number } | null, port: number, label: string): Job | null =>
    t && proc
      ? {
          opts: { ...overloadCommon, pid: proc.pid, port, label, maxReqPerS: overloadMax(median(t.runs.map((m) => m.reqPerS))), acceptedCpuMs: median(t.runs.map((m) => m.cpuMsPerReq.server)), acceptedBrokerCpuMs: median(t.runs.map((m) => m.cpuMsPerReq.kafka)), cpuSeconds: () => proc.treeCpuSeconds(), rssMb: () => rssMbOfTree(proc.pid) },
          runs: [],
          maxEventsPerS: overloadMaxEvents(median(t.runs.map((m) => m.eventsPerS))),
        }
      : null;
  // --variants go through the same phases too: a setting's effect under overload (GATEWAY_WORKER_NICE, ...) in the same rotation as the default.
  const jobs = [
    job(tGw, gw, PORTS.gateway, gwLabel),
    job(tAb, ab, PORTS.ab, `from ${AB_ROOT}`),
    job(tMulti, multi, PORTS.workers, `${WORKERS} process${WORKERS > 1 ? 'es' : ''}`),
    job(tAcc, acc, PORTS.acceptor, accLabel),
    ...variants.map((v, i) => job(tVariants[i], v.gw, v.port, `${processes}, ${v.spec}`)),
  ].filter((j): j is Job => j !== null);
  for (const [i, factor] of OVERLOAD.entries()) {
    for (let j = 0; j < jobs.length; j++) {
      const one = jobs[(i + j) % jobs.length];
      one.runs.push(...(await overloadPhases({ ...one.opts, factors: [factor] })));
    }
  }
  for (const o of jobs.flatMap((j) => j.runs)) gatewayAccepted += o.acceptedRequests * pool.eventsPerBody;
  const records = (await kafkaRecords(kafka)) - records0;

  let profileText = '';
  if (PROFILE) {
    const dir = path.join(DATA_DIR, 'profile');
    const common = { target: PROFILE_TARGET, dir, kafkaPid: kafka.pid, pool, warmupS: WARMUP, durationS: DURATION, connections: CONNECTIONS };
    profileText =
      PROFILE_TARGET === 'stub'
        ? await profileRun({ ...common, port: PORTS.stub, start: async (flags) => (await stub?.stop(), procs.variant('stub', client, PORTS.stub, flags)) })
        : await profileRun({ ...common, port: PORTS.gateway, start: async (flags) => (await gw.stop(), (gw = await procs.gateway('gateway-profiled', client, PORTS.gateway, flags))) });
  }

  const gateways: Series[] = [
    { name: `gateway (${client})`, label: `gateway, ${client} (enrich + Kafka acks=all)`, runs: tGw.runs },
    ...(tMulti ? [{ name: `gateway (${client}, ${WORKERS} process${WORKERS > 1 ? 'es' : ''})`, label: `gateway, ${client}, ${WORKERS} process${WORKERS > 1 ? 'es' : ''}`, runs: tMulti.runs }] : []),
    ...(tCompressed ? [{ name: `gateway (${client}, ${COMPRESSION})`, label: `gateway, ${client}, ${COMPRESSION} batches`, runs: tCompressed.runs }] : []),
    ...(tAcc ? [{ name: `gateway (${client}, ${accName})`, label: `gateway, ${client}, ${accName === 'inline' ? 'shedding on its own thread' : 'behind the acceptor'}`, runs: tAcc.runs }] : []),
    ...(tAb ? [{ name: `gateway (${client}, ${AB_ROOT})`, label: `gateway, ${client}, from ${AB_ROOT}`, runs: tAb.runs }] : []),
    ...(tLinger ? [{ name: `gateway (${client}, linger ${LINGER} ms)`, label: `gateway, ${client}, linger ${LINGER} ms`, runs: tLinger.runs }] : []),
    ...(tOther ? [{ name: `gateway (${otherClient})`, label: `gateway, ${otherClient} (enrich + Kafka acks=all)`, runs: tOther.runs }] : []),
    ...tVariants.map((t, i) => ({ name: `gateway (${client}, ${VARIANTS[i].spec})`, label: `gateway, ${client}, ${VARIANTS[i].spec}`, runs: t.runs })),
  ];
  console.log('');
  console.log(
    gatewayReport({
      header: `${REPS} runs of ${DURATION} s per target, ${CONNECTIONS} connections, batches of 20 events (${int(pool.avgBytes)} B), Kafka 3.9.1 on this machine (${describeSecurity(kafka.clientConfig)}), acks=all`,
      bare: tBare.runs,
      stub: tStub?.runs ?? [],
      abStub: tAbStub ? { name: `stub (${AB_ROOT})`, label: `gateway, Kafka stubbed, from ${AB_ROOT}`, runs: tAbStub.runs } : undefined,
      uncoalesced: tUncoalesced?.runs ?? [],
      gateways,
      half: { rate: half, runs: halfRuns },
      targetHalf: { rate: targetHalf, runs: targetHalfRuns },
    }),
  );
  if (pacedRuns.size) {
    const rows = [...pacedRuns].map(([t, ms_]) => {
      const med = (f: (m: Measured) => number) => median(ms_.map(f));
      return [t.label, int(med((m) => m.reqPerS)), ms(med((m) => m.p50)), ms(med((m) => m.p99)), med((m) => m.cpuMsPerReq.server).toFixed(3), med((m) => m.cpuMsPerReq.kafka).toFixed(3), med((m) => m.cpu.server).toFixed(2), med((m) => m.cpu.kafka).toFixed(2), ms_.map((m) => m.codes).join(' | ')];
    });
    console.log(`\nevery real gateway at ${int(PACED_RATE)} req/s, paced (medians of ${REPS}): CPU per request at equal load\n${table(['gateway', 'req/s', 'p50', 'p99', 'cpu ms/req gateway', 'cpu ms/req broker', 'cores gateway', 'cores broker', 'codes'], rows)}`);
  }
  console.log(`\nwhere the half-load tail comes from (slow = over 25 ms; bounds are the gateway's histogram buckets):\n${halfWhy.join('\n')}`);
  const overloadOpts = { durationS: OVERLOAD_DURATION, timeoutMs: CLIENT_TIMEOUT_S * 1000, threads: OVERLOAD_THREADS, newConnectionShare: OVERLOAD_NEW_CONNECTIONS };
  for (const j of jobs) if (j.runs.length) console.log(`\n${overloadReport(j.runs, { ...overloadOpts, maxReqPerS: j.opts.maxReqPerS, maxEventsPerS: j.maxEventsPerS })}`);
  console.log(`Kafka holds ${int(records)} new records; the gateway acknowledged ${int(gatewayAccepted)} events${records >= gatewayAccepted ? ' (all acknowledged events are in Kafka)' : ' (MISSING RECORDS)'}`);
  if (profileText) console.log(`\n${profileText}`);
  if (records < gatewayAccepted) throw new Error('Kafka holds fewer records than the gateway acknowledged');
});
