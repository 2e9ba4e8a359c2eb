/**
 * bench:gateway-half — only the half-load phase of bench:gateway, repeated: the real gateway
 * (Kafka on this machine, acks=all) at a fixed paced rate, several runs in a row, each with where
 * its slow requests waited (lib/half-tail.ts: generator lateness, stalls, Kafka acknowledgements,
 * the gateway's time, loop turns, GC pauses). For chasing the p99 at half load without the minutes
 * of maximum-load and overload runs around it. The rate is `--rate`, or half of the maximum a short
 * closed-loop run measures first. Kafka on its own ports (29392/29393), data in
 * .data/bench/gateway-half, stopped at the end, also on failure.
 *
 *   npm run bench:gateway-half -- [--rate 1400] [--reps 5] [--duration 10] [--max-duration 5] [--settle 20]
 *                                 [--warmup 3] [--linger 0] [--connections 64] [--node-flags=--a,--b]
 *                                 [--ab-root DIR] [--ab-node-flags=--max-semi-space-size=32] [--ab-linger 2]
 *                                 [--kafka-jvm=-Xlog:gc:file=a.log] [--kafka-request-log]
 *                                 [--ab-kafka-props=num.io.threads=2,...] [--ab-kafka-jvm=-Xmn128m,...]
 *                                 [--trace] [--paced-connections 256 | --paced-warm 32] [--paced-new 0.1] [--paced-client raw|http] [--idle 0]
 *
 * --kafka-request-log: the broker(s) log every request's times (kafka.request.logger at DEBUG, ~2.6 KB
 * a request in kafka.log), and each repetition adds the broker's own account of its produce requests
 * (lib/broker-request-log.ts): a Kafka send slow in the gateway but not in the broker waited outside it.
 *
 * --trace: both gateways with GATEWAY_TRACE_HOPS, so every answer says where its time went in the
 * gateway (gateway/hop-trace.ts), joined with the generator's own times (lib/hops.ts): per run, a
 * table of each hop's p50/p99 and its share of the slow requests' time. A gateway from --ab-root
 * without that setting still runs, untraced.
 *
 * A/B in the same run: any --ab-* option adds a second gateway (B) beside the first (A), both warm,
 * both through the maximum-load run (the rate is half of A's), measured alternately (A then B, then B then A, ...) at the same rate, so both see the same
 * machine: B is the gateway from another checkout (--ab-root), with other Node flags (comma-
 * separated), another linger, or against a second broker of its own (Kafka's ports + 2: 29394/29395) with other
 * broker properties or JVM flags. The summary gives each side's p99 median and how many
 * repetitions each won.
 */
import { startKafka } from '../infra/services.js';
import type { KafkaBroker, KafkaTuning } from '../infra/kafka.js';
import { resolveDataDir } from '../infra/paths.js';
import { assertPortsFree } from '../infra/ports.js';
import { parseArgs } from './lib/args.js';
import { bodyPool } from './lib/bodies.js';
import { REQUEST_LOG_LOG4J, brokerProduceWindows, brokerWindowLine } from './lib/broker-request-log.js';
import { gatewayProcesses } from './lib/gateway-processes.js';
import { scrape, tailWhy } from './lib/half-tail.js';
import { hopsTable } from './lib/hops.js';
import { kafkaRecords } from './lib/kafka-records.js';
import { measure, pacedOptions } from './lib/measure.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, median, ms } from './lib/stats.js';

const a = parseArgs();
const RATE = a.num('rate', 0);
const REPS = a.num('reps', 5);
const DURATION = a.num('duration', 10);
const MAX_DURATION = a.num('max-duration', 5);
/**
 * --idle S: seconds with no load between the maximum and the half-load runs: bench:gateway's order,
 * where the gateway waits while the other targets run theirs (its processes' heaps shrink meanwhile).
 */
const IDLE = a.num('idle', 0);
/** --settle S: seconds each side runs at the half rate after the maximum, printed but not counted (0: none). */
const SETTLE = a.num('settle', 20);
const WARMUP = a.num('warmup', 3);
const CONNECTIONS = a.num('connections', 64);
/**
 * --paced-connections N: a fixed pool of N connections per paced run (wrk2's model); 0 (default): --paced-warm N
 * opened first, more on demand. --paced-new S: that share of the requests each on a new connection of its own (0 by default).
 * --paced-client raw (default): raw sockets, requests encoded once (lib/open-loop.ts on one thread); http: Node's client (the default with --trace, whose hops it reports).
 */
const PACED = pacedOptions(a);
const list = (name: string) => a.str(name, '').split(',').filter(Boolean);
/** GATEWAY_KAFKA_LINGER_MS of the gateway measured (its default when not given). */
const LINGER = a.str('linger', '');
const NODE_FLAGS = list('node-flags');
const TRACE = a.flag('trace');
const AB_ROOT = a.str('ab-root', '');
const AB_NODE_FLAGS = list('ab-node-flags');
const AB_LINGER = a.str('ab-linger', '');
/** Broker properties (k=v) and JVM flags of B's own broker: a broker setting's A/B. */
const AB_KAFKA_PROPS = Object.fromEntries(list('ab-kafka-props').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const AB_KAFKA_JVM = list('ab-kafka-jvm');
/** JVM flags of A's broker (e.g. a GC log to compare with B's). */
const KAFKA_JVM = list('kafka-jvm');
const KAFKA_REQUEST_LOG = a.flag('kafka-request-log');
const LOG4J = KAFKA_REQUEST_LOG ? [REQUEST_LOG_LOG4J] : [];
const AB_BROKER = Object.keys(AB_KAFKA_PROPS).length > 0 || AB_KAFKA_JVM.length > 0;
const AB = AB_ROOT !== '' || AB_NODE_FLAGS.length > 0 || AB_LINGER !== '' || AB_BROKER;
const KAFKA_PORT = a.num('kafka-port', 29392);
const CONTROLLER_PORT = a.num('controller-port', 29393);
const GATEWAY_PORT = a.num('gateway-port', 28180);
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/gateway-half'));

/** One gateway measured: A, or B of an A/B. */
interface Side {
  label: string;
  port: number;
  gw: Awaited<ReturnType<ReturnType<typeof gatewayProcesses>['gateway']>>;
  kafka: KafkaBroker;
  acknowledged: number;
  lines: string[];
  p50s: number[];
  p95s: number[];
  p99s: number[];
  /** Each counted repetition's wall-clock window and the index of its line in `lines` (for the broker's account). */
  reps: { from: number; to: number; line: number }[];
}

const lingerSetting = (linger: string) => ({ ...(linger === '' ? {} : { gatewayKafkaLingerMs: Number(linger) }), ...(TRACE ? { gatewayTraceHops: true } : {}) });
const describe = (flags: string[], linger: string, extra: string[] = []) =>
  [flags.length ? `node ${flags.join(' ')}` : '', linger === '' ? '' : `GATEWAY_KAFKA_LINGER_MS=${linger}`, ...extra].filter(Boolean).join(', ') || 'as configured';

await runBench('bench:gateway-half', 900, async () => {
  await assertPortsFree([{ port: GATEWAY_PORT, what: 'gateway', setting: '--gateway-port' }, ...(AB ? [{ port: GATEWAY_PORT + 1, what: 'gateway B', setting: '--gateway-port (B uses it + 1)' }] : [])]);
  log(`gateway half-load bench; loadavg ${await loadAverage()}`);
  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 42 });
  const broker = async (name: string, port: number, controllerPort: number, tuning?: KafkaTuning) => {
    const k = await startKafka({ dataDir: name === 'kafka' ? DATA_DIR : `${DATA_DIR}/${name}`, fresh: true, port, controllerPort, tuning, log: (m) => log(`[infra ${name}] ${m}`) });
    onCleanup(name, () => k.stop());
    return k;
  };
  const kafkaA = await broker('kafka', KAFKA_PORT, CONTROLLER_PORT, KAFKA_JVM.length || LOG4J.length ? { props: {}, jvmFlags: KAFKA_JVM, log4j: LOG4J } : undefined);
  const kafkaB = AB_BROKER ? await broker('b', KAFKA_PORT + 2, CONTROLLER_PORT + 2, { props: AB_KAFKA_PROPS, jvmFlags: AB_KAFKA_JVM, log4j: LOG4J }) : kafkaA;

  const side = async (label: string, kafka: KafkaBroker, port: number, flags: string[], linger: string, root = ''): Promise<Side> => {
    const procs = gatewayProcesses({ dataDir: DATA_DIR, kafkaPort: Number(kafka.brokers[0].split(':')[1]), kafkaClient: kafka.clientConfig });
    const gw = await procs.gateway(`gateway-${label}`, 'platformatic', port, flags, lingerSetting(linger), root);
    return { label, port, gw, kafka, acknowledged: 0, lines: [], p50s: [], p95s: [], p99s: [], reps: [] };
  };
  const sides = [await side('A', kafkaA, GATEWAY_PORT, NODE_FLAGS, LINGER)];
  if (AB) sides.push(await side('B', kafkaB, GATEWAY_PORT + 1, AB_NODE_FLAGS.length ? AB_NODE_FLAGS : NODE_FLAGS, AB_LINGER || LINGER, AB_ROOT));
  /** Records each broker held before (read once the gateways are up: a fresh topic's leader is known by then): the check that it holds every event acknowledged since. */
  const records0 = new Map<KafkaBroker, number>();
  for (const k of new Set([kafkaA, kafkaB])) records0.set(k, await kafkaRecords(k));
  const what = [describe(NODE_FLAGS, LINGER, KAFKA_JVM.length ? [`broker with ${KAFKA_JVM.join(' ')}`] : [])];
  if (AB) {
    const brokerB = AB_BROKER ? [`its own broker with ${[...Object.entries(AB_KAFKA_PROPS).map(([k, v]) => `${k}=${v}`), ...AB_KAFKA_JVM].join(' ')}`] : [];
    what.push(`${describe(AB_NODE_FLAGS.length ? AB_NODE_FLAGS : NODE_FLAGS, AB_LINGER || LINGER, brokerB)}${AB_ROOT ? `, the code in ${AB_ROOT}` : ''}`);
  }
  sides.forEach((s, i) => log(`${s.label}: ${what[i]}`));

  const run = async (s: Side, label: string, duration: number, rate?: number) => {
    // The whole tree's CPU: behind the acceptor the requests are served by the primary's children.
    const m = await measure(label, { cpuSeconds: () => s.gw.treeCpuSeconds() }, s.kafka.pid, pool, { port: s.port, duration, connections: CONNECTIONS, rate, trace: TRACE && rate !== undefined, ...PACED });
    s.acknowledged += m.ok * pool.eventsPerBody;
    return m;
  };

  for (const s of sides) await run(s, `warm-up ${s.label}`, WARMUP);
  let rate = RATE;
  if (!rate) {
    // Every side runs the maximum, so each half-load run follows the same history: a gateway that
    // ran flat out can collect its young generation for the rest of its life as it learnt to then
    // (V8's pretenuring, GATEWAY_V8_PRETENURING), and only A running it once favoured B 3-6x.
    const maxima = [];
    for (const s of sides) maxima.push(await run(s, `maximum ${s.label}`, MAX_DURATION));
    rate = Math.max(1, Math.round(maxima[0].reqPerS / 2));
    log(`maximum ${maxima.map((m, i) => `${int(m.reqPerS)} req/s (${sides[i].label})`).join(', ')} (closed loop, ${CONNECTIONS} connections, ${MAX_DURATION} s): half of A's is ${int(rate)} req/s`);
  }
  if (IDLE > 0) {
    log(`no load for ${IDLE} s`);
    await new Promise((r) => setTimeout(r, IDLE * 1000));
  }
  // The counted runs measure the steady half load; the transition out of the maximum (the broker
  // still compiling for smaller batches, the generator and new connections: 10-20 s) is run and
  // printed on its own first, second by second, not counted.
  if (SETTLE > 0) {
    for (const s of sides) {
      const before = await scrape(s.port);
      const m = await run(s, `${AB ? `${s.label} ` : ''}gateway @${int(rate)} req/s settling after the maximum (not counted)`, SETTLE, rate);
      const line = `${m.what}: p50 ${ms(m.p50)}, p99 ${ms(m.p99)}, codes ${m.codes}; ${tailWhy(m, before, await scrape(s.port))}`;
      log(line);
      s.lines.push(line);
    }
  }
  for (let i = 1; i <= REPS; i++) {
    // Alternate which side goes first, so neither always follows the other's load.
    for (const s of i % 2 ? sides : [...sides].reverse()) {
      const before = await scrape(s.port);
      const from = Date.now();
      const m = await run(s, `${AB ? `${s.label} ` : ''}gateway @${int(rate)} req/s #${i}`, DURATION, rate);
      s.reps.push({ from, to: Date.now(), line: s.lines.length });
      s.p99s.push(m.p99);
      s.p50s.push(m.p50);
      s.p95s.push(m.p95 ?? NaN);
      const line = `${m.what}: p50 ${ms(m.p50)}, p95 ${ms(m.p95 ?? NaN)}, p99 ${ms(m.p99)}, codes ${m.codes}, gateway ${m.cpuMsPerReq.server.toFixed(3)} ms CPU/request, broker ${m.cpuMsPerReq.kafka.toFixed(3)}; load ${m.load}; ${tailWhy(m, before, await scrape(s.port))}`;
      log(line);
      s.lines.push(line);
      if (m.hops) {
        const hops = hopsTable(m.hops);
        console.log(hops);
        s.lines.push(hops);
      }
    }
  }
  if (KAFKA_REQUEST_LOG) {
    for (const s of sides) {
      const windows = await brokerProduceWindows(s.kafka.logFile, s.reps);
      // From the last, so each insertion leaves the earlier indexes as they were.
      for (let i = s.reps.length - 1; i >= 0; i--) s.lines.splice(s.reps[i].line + 1, 0, brokerWindowLine(windows[i]));
    }
  }
  console.log(`\nhalf load, ${REPS} x ${DURATION} s paced at ${int(rate)} req/s (batches of 20), Kafka on this machine, acks=all:`);
  for (const [i, s] of sides.entries()) {
    if (AB) console.log(`${s.label}: ${what[i]}`);
    console.log(s.lines.join('\n'));
    console.log(`${AB ? `${s.label}: ` : ''}p50 median ${ms(median(s.p50s))}; p95 median ${ms(median(s.p95s))}; p99 median ${ms(median(s.p99s))}, runs ${s.p99s.map((x) => x.toFixed(1)).join(' / ')} ms (target <= 25 ms)`);
  }
  let missing = false;
  for (const [kafka, before] of records0) {
    const held = (await kafkaRecords(kafka)) - before;
    const users = sides.filter((s) => s.kafka === kafka);
    const acknowledged = users.reduce((n, s) => n + s.acknowledged, 0);
    console.log(`Kafka${AB_BROKER ? ` (${users[0].label}'s broker)` : ''} holds ${int(held)} new records; the gateway${users.length > 1 ? 's' : ''} acknowledged ${int(acknowledged)} events${held >= acknowledged ? ' (all in Kafka)' : ' (MISSING RECORDS)'}`);
    missing ||= held < acknowledged;
  }
  if (AB) {
    const [A, B] = sides;
    const wins = A.p99s.filter((x, i) => B.p99s[i] < x).length;
    console.log(`A/B: p99 median B / A = ${(median(B.p99s) / median(A.p99s)).toFixed(2)}; B's p99 lower in ${wins} of ${REPS} repetitions; p95 median B / A = ${(median(B.p95s) / median(A.p95s)).toFixed(2)}; p50 median B / A = ${(median(B.p50s) / median(A.p50s)).toFixed(2)}`);
  }
  if (missing) throw new Error('Kafka holds fewer records than the gateway acknowledged');
});
