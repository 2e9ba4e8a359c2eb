/**
 * bench:processor — the processor's throughput beside the limits of the two systems it sits
 * between, measured in the same run on the same data, and its freshness under live traffic.
 *
 * Per repetition (fresh topics and indices each time), with N enriched events produced first
 * (traffic generator, enriched by the gateway's own code, keyed by visitor like the gateway):
 *   (a) Kafka's limit: Kafka's consumer perf tool (ConsumerPerformance, the broker's version) on
 *       the four topics, and a bare kafkajs consumer loop (fetch + JSON.parse, nothing else);
 *   (b) Elasticsearch's limit: a plain loop of bulk requests (PROCESSOR_BATCH_SIZE documents,
 *       one at a time, the official client) indexing the same documents under their event ids;
 *   (c) the real processor (its own process, every sink: raw events, KPI windows, URL stats,
 *       sessions, Parquet archive) from a fresh consumer group until every event is counted in
 *       its KPI window in Elasticsearch.
 * Then freshness: gateway + processor running, synthetic traffic at --rate events/s through the
 * gateway, and probe events (each with a site of its own) whose first appearance in a KPI window
 * document is watched for: freshness = request sent -> document visible to a search.
 *
 *   npm run bench:processor -- [--events 200000] [--reps 3] [--rate 10000] [--fresh-duration 20]
 *                              [--fresh-segments 3] [--probes-per-s 5] [--skip kafka-tool,freshness]
 *                              [--processor-env KPI_EMIT_INTERVAL_MS=500,...] [--profile] [--secure]
 *
 * --secure: Kafka with TLS and SASL/SCRAM only (lib/secure.ts); every client (the loaders, Kafka's
 * perf tool, the kafkajs loop, the gateway, the processor) logs in over TLS.
 *
 * Kafka on 29092/29093, Elasticsearch on 29200/29300 (below the ephemeral port range, where a
 * client connection's local port can block a listener), data in .data/bench/processor; all stopped
 * at the end, also on failure.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { CompressionTypes, type Kafka, logLevel, Partitioners } from 'kafkajs';
import { kafkaFromConfig, type KafkaClientSettings } from '../common/kafka-client.js';
import type { KafkaBroker } from '../infra/kafka.js';
import { benchSecurity, clientEnv, clientSettings, describeSecurity, javaClientProperties } from './lib/secure.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { eventIndexFor, indexNames } from '../contracts/indices.js';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { ensureTopics } from '../infra/setup-topics.js';
import { installTemplates } from '../infra/setup-indices.js';
import { startServices } from '../infra/services.js';
import { resolveDataDir } from '../infra/paths.js';
import { assertPortsFree } from '../infra/ports.js';
import { loadConfig } from '../common/config.js';
import { configToEnv } from '../contracts/config.js';
import { parseArgs } from './lib/args.js';
import { USER_AGENTS } from '../scripts/traffic-generator.js';
import { bodyPool } from './lib/bodies.js';
import { enrichedEvents as enrichedEventsOf } from './lib/enriched.js';
import { NodeChild, cpuSecondsOf, cpuSecondsOfTree, httpOk } from './lib/child.js';
import { summarise } from './lib/cpuprofile.js';
import { consumerPerformance, kafkaToolsClasspath } from './lib/kafka-tools.js';
import { pacedLoad } from './lib/paced.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { sleep } from '../common/wait.js';
import { int, loadAverage, median, ms, pct, percentile, secs, table } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 200_000);
const REPS = a.num('reps', 3);
const RATE = a.num('rate', 10_000);
const FRESH_SEGMENTS = a.num('fresh-segments', 3);
const FRESH_DURATION = a.num('fresh-duration', 20);
const FRESH_WARMUP = a.num('fresh-warmup', 15);
const PROBES_PER_S = a.num('probes-per-s', 5);
const BATCH = a.num('bulk-size', 2000);
/** --profile: the last repetition's processor runs under node --cpu-prof; where its time goes is printed. */
const PROFILE = a.flag('profile');
const SECURE = a.flag('secure');
/** How the bench's own clients reach its broker (TLS and SASL with --secure), set once it runs. */
let KAFKA: KafkaClientSettings | undefined;
/** A kafkajs client of the bench's own, with the broker's TLS and SASL settings. */
const benchKafka = (clientId: string, brokers: string[]): Kafka =>
  kafkaFromConfig({ ...KAFKA!, kafkaBrokers: brokers, kafkaClientId: clientId }, 'bench', undefined, { logLevel: logLevel.NOTHING, connectionTimeout: 5_000, requestTimeout: 30_000 });
/** Functions whose inclusive time the profile summary reports (names as V8 sees them). */
const PROFILED_FUNCTIONS = ['flushSinks', 'flush', 'add', 'bulkIndex', 'drain', 'encode', 'writeParquet', 'parquetWriteBuffer', 'stringify', 'parse', 'eachBatch'];
const SKIP = new Set(a.str('skip', '').split(',').filter(Boolean));
/** --processor-env KPI_EMIT_INTERVAL_MS=500,PROCESSOR_FLUSH_INTERVAL_MS=250: settings to try on the processor. */
const PROCESSOR_ENV = Object.fromEntries(
  a
    .str('processor-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const PORTS = {
  kafka: a.num('kafka-port', 29092),
  controller: a.num('controller-port', 29093),
  es: a.num('es-port', 29200),
  esTransport: a.num('es-transport-port', 29300),
  gateway: a.num('gateway-port', 28080),
  metrics: a.num('metrics-port', 29464),
};
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/processor'));
const PARTITIONS = 6;
const TARGET_FRESHNESS_P95_MS = 2000;
const TARGET_RATIO = 0.7;
const RUN_TAG = Date.now().toString(36);
const KAFKA_VERSION = loadConfig().kafkaVersion;

/**
 * ensureTopics, again when it fails with UNKNOWN_TOPIC_OR_PARTITION: kafkajs's createTopics
 * (waitForLeaders) can read the metadata of a just-created topic before the broker has it,
 * which infra/setup-topics.ts does not count as retriable. Creating topics is idempotent.
 */
async function createTopics(brokers: string[], prefix: string, topics?: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(brokers, { prefix, partitions: PARTITIONS, replication: 1, topics, log: () => {}, kafka: benchKafka('bench-topics', brokers) });
      return;
    } catch (err) {
      if (attempt >= 5 || !/UNKNOWN_TOPIC_OR_PARTITION/.test(String((err as Error).message))) throw err;
      await sleep(500 * attempt);
    }
  }
}

const enrichedEvents = (n: number, simulatedRate: number) => enrichedEventsOf(n, simulatedRate, `p${RUN_TAG}`);

/** Kafka's perf tool reads one topic: it gets a copy of all N records in a topic of its own. */
const PERF_TOPIC = 'all_events_copy';

async function produceAll(brokers: string[], prefix: string, docs: EnrichedEvent[], copyTo?: string): Promise<{ seconds: number; perTopic: Map<string, number> }> {
  const kafka = benchKafka('bench-loader', brokers);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const perTopic = new Map<string, number>();
  const t0 = performance.now();
  try {
    // 2,000 records a send: a partition's record batch stays well under the broker's 1 MB message.max.bytes.
    for (let i = 0; i < docs.length; i += 2000) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const d of docs.slice(i, i + 2000)) {
        const topic = topicFor(d.event_type, prefix);
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        const value = JSON.stringify(d);
        list.push({ key: d.visitor_id, value });
        perTopic.set(topic, (perTopic.get(topic) ?? 0) + 1);
        if (copyTo) {
          let copy = byTopic.get(copyTo);
          if (!copy) byTopic.set(copyTo, (copy = []));
          copy.push({ key: d.visitor_id, value });
        }
      }
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  } finally {
    await producer.disconnect();
  }
  return { seconds: (performance.now() - t0) / 1000, perTopic };
}

/** A bare kafkajs consumer: fetch and JSON.parse every record of the four topics, nothing else. */
async function kafkajsLoop(brokers: string[], prefix: string, n: number): Promise<number> {
  const kafka = benchKafka('bench-kafkajs', brokers);
  const consumer = kafka.consumer({ groupId: `bench-kafkajs-${prefix}${RUN_TAG}`, maxBytesPerPartition: 1024 * 1024, maxWaitTimeInMs: 100 });
  await consumer.connect();
  let seen = 0;
  let first = 0;
  let last = 0;
  let ids = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kafkajs loop: ${seen} of ${n} records after 300 s`)), 300_000);
    void consumer.subscribe({ topics: EVENT_TOPICS.map((t) => prefix + t), fromBeginning: true }).then(() =>
      consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!first) first = performance.now();
          for (const m of batch.messages) {
            const v = JSON.parse(m.value!.toString('utf8')) as EnrichedEvent;
            if (v.event_id) ids++;
          }
          seen += batch.messages.length;
          if (seen >= n) {
            last = performance.now();
            clearTimeout(timer);
            resolve();
          }
        },
      }),
    );
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  if (ids < n) throw new Error(`kafkajs loop: ${ids} readable events of ${n}`);
  return n / ((last - first) / 1000);
}

/** The plain bulk loop: BATCH documents per request, one request at a time, ids = event ids. */
async function bulkLoop(es: Client, prefix: string, docs: EnrichedEvent[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += BATCH) {
    const operations: object[] = [];
    for (const d of docs.slice(i, i + BATCH)) operations.push({ index: { _index: eventIndexFor(prefix, d.timestamp), _id: d.event_id } }, d);
    const res = await es.bulk({ operations });
    if (res.errors) {
      const bad = res.items.find((it) => it.index?.error);
      throw new Error(`bulk loop: Elasticsearch refused documents: ${JSON.stringify(bad?.index?.error)}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await es.indices.refresh({ index: `${prefix}-events-*` });
  const { count } = await es.count({ index: `${prefix}-events-*` });
  if (count !== docs.length) throw new Error(`bulk loop: ${count} documents in Elasticsearch, ${docs.length} written`);
  return docs.length / seconds;
}

/**
 * A metric summed over its labels; consumer figures only of the analytics role (each role
 * consumes every event in its own group; the KPIs are what freshness is about).
 */
async function metricValue(name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${PORTS.metrics}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (line.includes('role="') && !line.includes('role="analytics"')) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Events counted in tumbling KPI windows (dimension "all"), summed over partitions. */
async function kpiTotal(es: Client, prefix: string): Promise<number> {
  const res = await es.search({
    index: indexNames(prefix).kpis,
    size: 0,
    ignore_unavailable: true,
    query: { bool: { filter: [{ term: { dimension: 'all' } }, { prefix: { window_kind: 'tumbling_' } }] } },
    aggs: { pv: { sum: { field: 'page_views' } }, cl: { sum: { field: 'clicks' } }, ac: { sum: { field: 'add_to_cart' } }, pu: { sum: { field: 'purchases' } } },
  });
  const ag = res.aggregations as Record<string, { value: number }> | undefined;
  if (!ag) return 0;
  return ag.pv.value + ag.cl.value + ag.ac.value + ag.pu.value;
}

function processorEnv(services: { kafkaBrokers: string[]; esUrl: string; kafkaClient: KafkaBroker['clientConfig'] }, topicPrefix: string, indexPrefix: string, group: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    ...configToEnv({
      kafkaBrokers: services.kafkaBrokers,
      esUrl: services.esUrl,
      topicPrefix,
      esIndexPrefix: indexPrefix,
      processorGroupId: group,
      processorMetricsHost: '127.0.0.1',
      processorMetricsPort: PORTS.metrics,
      archiveBackend: 'local',
      archiveDir: path.join(DATA_DIR, 'archive', topicPrefix || 'default'),
      logLevel: 'warn',
    }),
    ...clientEnv(services.kafkaClient),
    ...PROCESSOR_ENV,
  };
}

interface Segment {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
  missing: number;
  rate: number;
  load: string;
  non2xx: number;
  /** Records the processor had not read yet when the segment's probes were last watched. */
  lag: number;
}

interface Rep {
  kafkaTool: number;
  kafkaToolWall: number;
  kafkajs: number;
  bulk: number;
  processor: number;
  processorConsume: number;
  startupS: number;
  late: number;
  /** Documents the processor wrote to Elasticsearch (all indices, rewrites included), and per second. */
  esWrites: number;
  esWritesPerS: number;
  cpu: { processor: number; kafka: number; es: number };
  load: string;
}

await runBench('bench:processor', 3600, async () => {
  // Kafka and Elasticsearch check their own ports; these are the benchmark's processes'.
  await assertPortsFree([
    { port: PORTS.gateway, what: 'gateway', setting: '--gateway-port' },
    { port: PORTS.metrics, what: 'processor metrics', setting: '--metrics-port' },
  ]);
  log(`processor bench: ${int(N)} events x ${REPS} repetitions, then freshness at ${int(RATE)} events/s; loadavg / cpu pressure ${await loadAverage()}`);
  if (Object.keys(PROCESSOR_ENV).length) log(`processor settings: ${JSON.stringify(PROCESSOR_ENV)}`);
  const t0 = performance.now();
  const { docs, kpiCounted } = enrichedEvents(N, RATE);
  log(`generated ${int(N)} enriched events (${int(kpiCounted)} counted by KPI windows) in ${secs((performance.now() - t0) / 1000)}`);
  const classpath = SKIP.has('kafka-tool') ? [] : await kafkaToolsClasspath(KAFKA_VERSION);

  const services = await startServices({
    dataDir: DATA_DIR,
    fresh: true,
    kafkaPort: PORTS.kafka,
    controllerPort: PORTS.controller,
    esPort: PORTS.es,
    esTransportPort: PORTS.esTransport,
    partitions: PARTITIONS,
    topicPrefix: 'bench-',
    indexPrefix: 'bench',
    security: benchSecurity(SECURE),
    log: (m) => log(`[infra] ${m}`),
  });
  onCleanup('kafka and elasticsearch', () => services.stop());
  KAFKA = clientSettings(services.kafkaClient);
  log(describeSecurity(KAFKA));
  const perfToolConfig = path.join(DATA_DIR, 'perf-tool-consumer.properties');
  writeFileSync(perfToolConfig, javaClientProperties(KAFKA), { mode: 0o600 });
  const es = new Client({ node: services.esUrl, requestTimeout: 60_000 });
  onCleanup('es client', () => es.close());

  // Every topic up front: creating topics while others are being deleted upsets the metadata calls.
  for (let r = 1; r <= REPS; r++) await createTopics(services.kafkaBrokers, `r${r}-`, [...EVENT_TOPICS, PERF_TOPIC]);
  if (!SKIP.has('freshness')) await createTopics(services.kafkaBrokers, 'fr-');

  const reps: Rep[] = [];
  let profileText = '';
  for (let r = 1; r <= REPS; r++) {
    const topicPrefix = `r${r}-`;
    const procPrefix = `benchp${r}`;
    const bulkPrefix = `benchb${r}`;
    await installTemplates(services.esUrl, procPrefix, { replicas: 0 });
    await installTemplates(services.esUrl, bulkPrefix, { replicas: 0 });
    const produced = await produceAll(services.kafkaBrokers, topicPrefix, docs, SKIP.has('kafka-tool') ? undefined : topicPrefix + PERF_TOPIC);
    log(`#${r}: produced ${int(N)} events to the four topics ${topicPrefix}* (and a copy for the perf tool) in ${secs(produced.seconds)}`);

    // (a) Kafka's own consumer on a topic holding the same N records (same keys, values, partitions).
    let toolRate = NaN;
    let toolWall = NaN;
    if (!SKIP.has('kafka-tool')) {
      const res = await consumerPerformance({ classpath, bootstrap: services.kafkaBrokers[0], topic: topicPrefix + PERF_TOPIC, messages: N, group: `bench-perf-${topicPrefix}${RUN_TAG}`, logDir: path.join(DATA_DIR, 'logs'), consumerConfig: perfToolConfig });
      if (res.messages < N) throw new Error(`ConsumerPerformance read ${res.messages} of ${N} records`);
      toolRate = res.messages / (res.fetchMs / 1000);
      toolWall = res.messages / (res.wallMs / 1000);
      log(`#${r}: Kafka ConsumerPerformance ${int(toolRate)} records/s (its fetch time; ${int(toolWall)}/s counting its JVM start-up)`);
    }
    const kjs = await kafkajsLoop(services.kafkaBrokers, topicPrefix, N);
    log(`#${r}: bare kafkajs loop ${int(kjs)} records/s`);

    // (b) Elasticsearch's limit on the same documents.
    const bulk = await bulkLoop(es, bulkPrefix, docs);
    log(`#${r}: plain bulk loop ${int(bulk)} documents/s`);
    await es.indices.delete({ index: `${bulkPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });

    // (c) The processor, from a fresh group, until every event is counted in its KPI window.
    const load = await loadAverage();
    const cpu0 = { kafka: cpuSecondsOf(services.kafka.pid), es: cpuSecondsOfTree(services.elasticsearch.pid) };
    const tSpawn = performance.now();
    const profileDir = path.join(DATA_DIR, 'profile');
    const profiled = PROFILE && r === REPS;
    if (profiled) {
      rmSync(profileDir, { recursive: true, force: true });
      mkdirSync(profileDir, { recursive: true });
    }
    const proc = new NodeChild(`processor-${r}`, 'processor/main.ts', {
      env: processorEnv(services, topicPrefix, procPrefix, `bench-proc-${r}-${RUN_TAG}`),
      logFile: path.join(DATA_DIR, 'logs', `processor-${r}.log`),
      nodeFlags: profiled ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    onCleanup(`processor-${r}`, () => proc.stop());
    await proc.waitReady(() => httpOk(`http://127.0.0.1:${PORTS.metrics}/healthz`), 60_000);
    let tFirst = 0;
    let tConsumed = 0;
    let tCounted: number;
    let late: number;
    const deadline = performance.now() + 600_000;
    for (;;) {
      if (!proc.alive) throw new Error(`processor exited; see ${proc.logFile}`);
      const consumed = await metricValue('processor_events_total').catch(() => 0);
      const now = performance.now();
      if (!tFirst && consumed > 0) tFirst = now;
      if (!tConsumed && consumed >= N) tConsumed = now;
      if (tConsumed) {
        late = await metricValue('processor_late_events_total').catch(() => 0);
        const counted = await kpiTotal(es, procPrefix).catch(() => 0);
        if (counted >= kpiCounted - late) {
          tCounted = now;
          break;
        }
      }
      if (now > deadline) throw new Error(`processor: ${consumed} of ${N} consumed after 600 s`);
      await sleep(250);
    }
    const { count: raw } = await es.count({ index: `${procPrefix}-events-*` });
    // Every document write the processor made (raw events, KPI windows, URL stats, sessions; a
    // provisional document written again counts again): its real load on Elasticsearch.
    const stats = await es.indices.stats({ index: `${procPrefix}-*`, metric: 'indexing' });
    const esWrites = stats._all.primaries?.indexing?.index_total ?? NaN;
    const cpuProc = proc.cpuSeconds();
    const rep: Rep = {
      kafkaTool: toolRate,
      kafkaToolWall: toolWall,
      kafkajs: kjs,
      bulk,
      processor: N / ((tCounted - tFirst) / 1000),
      processorConsume: N / ((tConsumed - tFirst) / 1000),
      startupS: (tFirst - tSpawn) / 1000,
      late,
      esWrites,
      esWritesPerS: esWrites / ((tCounted - tFirst) / 1000),
      cpu: {
        processor: cpuProc,
        kafka: cpuSecondsOf(services.kafka.pid) - cpu0.kafka,
        es: cpuSecondsOfTree(services.elasticsearch.pid) - cpu0.es,
      },
      load,
    };
    reps.push(rep);
    log(
      `#${r}: processor ${int(rep.processor)} events/s counted in KPI windows (${int(rep.processorConsume)}/s consumed; first event ${secs(rep.startupS)} after start; ${int(raw)} raw documents; ${int(esWrites)} document writes in all, ${int(rep.esWritesPerS)}/s; ${int(late)} late)`,
    );
    await proc.stop();
    if (profiled) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
      const sum = summarise(path.join(profileDir, file), PROFILED_FUNCTIONS, ((tCounted - tFirst) / 1000 + 3) * 1000);
      const busy = sum.totalMs - sum.idleMs;
      const share = (x: number) => `${((x / busy) * 100).toFixed(1)}%`;
      profileText = [
        `CPU profile of the processor (repetition #${r}, ${path.join(profileDir, file)}), ${(busy / 1000).toFixed(1)} s busy of ${(sum.totalMs / 1000).toFixed(1)} s while it caught up; shares of busy time:`,
        '',
        table(['area (self time)', 'ms', 'share'], sum.byArea.filter((x) => x.area !== 'idle').slice(0, 20).map((x) => [x.area, int(x.ms), share(x.ms)])),
        '',
        table(['function (self time)', 'where', 'ms', 'share'], sum.byFunction.filter((x) => x.area !== 'idle').slice(0, 30).map((x) => [x.fn, x.where, int(x.ms), share(x.ms)])),
        '',
        table(['function (inclusive)', 'ms', 'share'], sum.inclusive.map((x) => [x.fn, int(x.ms), share(x.ms)])),
      ].join('\n');
    }
    // Leave the next repetition a quiet machine: drop this one's topics and indices.
    await es.indices.delete({ index: `${procPrefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    const admin = benchKafka('bench-admin', services.kafkaBrokers).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [...EVENT_TOPICS, PERF_TOPIC].map((t) => topicPrefix + t) }).catch(() => {});
    await admin.disconnect();
  }

  // Freshness: gateway + processor live, traffic at RATE events/s, probes watched in Elasticsearch.
  let fresh: { segments: Segment[]; all: number[] } | null = null;
  if (!SKIP.has('freshness')) {
    const topicPrefix = 'fr-';
    const indexPrefix = 'benchf';
    await installTemplates(services.esUrl, indexPrefix, { replicas: 0 });
    const gw = new NodeChild('gateway', 'gateway/server.ts', {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        ...configToEnv({
          gatewayHost: '127.0.0.1',
          gatewayPort: PORTS.gateway,
          kafkaBrokers: services.kafkaBrokers,
          topicPrefix,
          logLevel: 'warn',
          gatewayRateLimitIp: 1_000_000_000,
          gatewayRateLimitSite: 1_000_000_000,
          trustedProxies: ['127.0.0.1'],
          sites: '',
          sitesFile: '',
        }),
        ...clientEnv(services.kafkaClient),
      },
      logFile: path.join(DATA_DIR, 'logs', 'gateway.log'),
    });
    onCleanup('gateway', () => gw.stop());
    const proc = new NodeChild('processor-fresh', 'processor/main.ts', {
      env: processorEnv(services, topicPrefix, indexPrefix, `bench-fresh-${RUN_TAG}`),
      logFile: path.join(DATA_DIR, 'logs', 'processor-fresh.log'),
    });
    onCleanup('processor-fresh', () => proc.stop());
    await gw.waitReady(() => httpOk(`http://127.0.0.1:${PORTS.gateway}/readyz`), 60_000);
    await proc.waitReady(() => httpOk(`http://127.0.0.1:${PORTS.metrics}/healthz`), 60_000);

    const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 11, tag: `f${RUN_TAG}` });
    const reqRate = RATE / 20;
    // Paced, open-loop traffic (evenly spaced requests; lib/paced.ts), like many browsers.
    // The gateway corrects event times by receive time - sent_at: the events land in the last
    // 5 s before now, whatever the pool's fixed client date.
    const traffic = (seconds: number) => pacedLoad({ port: PORTS.gateway, path: '/v1/events?site=shop', rate: reqRate, durationS: seconds, next: () => pool.next() });

    // Warm-up: at least FRESH_WARMUP s, then until the processor has caught up with the traffic
    // (lag under half a second of it: a fresh group joining and the first indices being created
    // hold it back at first), at most 90 s; a processor slower than the traffic never catches up.
    const warmStart = performance.now();
    let warmLag: number;
    for (;;) {
      await traffic(5);
      warmLag = await metricValue('processor_consumer_lag').catch(() => NaN);
      const elapsed = (performance.now() - warmStart) / 1000;
      if ((elapsed >= FRESH_WARMUP && warmLag < RATE / 2) || elapsed >= 90) break;
    }
    log(`freshness: warmed up for ${secs((performance.now() - warmStart) / 1000, 0)} at ${int(RATE)} events/s; processor lag ${int(warmLag)} records`);
    const kpis = indexNames(indexPrefix).kpis;
    const segments: Segment[] = [];
    const all: number[] = [];
    for (let s = 1; s <= FRESH_SEGMENTS; s++) {
      const load = await loadAverage();
      const tag = `probe-${RUN_TAG}-${s}-`;
      const sent = new Map<string, number>();
      const seen = new Map<string, number>();
      let stop = false;
      let stopAt = Infinity;
      // Probes: one page view each from a browser (bots are kept out of KPIs), for a site of its own, so its KPI document tells when it was counted.
      const probing = (async () => {
        for (let k = 0; !stop; k++) {
          const site = `${tag}${k}`;
          const t = Date.now();
          const body = JSON.stringify({
            sent_at: t,
            events: [{ event_id: `${site}-e`, type: 'page_view', ts: t, visitor_id: `v-${site}`, session_id: `s-${site}`, url: 'https://shop.example/probe' }],
          });
          const started = performance.now();
          void fetch(`http://127.0.0.1:${PORTS.gateway}/v1/events?site=${site}`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[0], 'x-forwarded-for': '81.2.69.142' }, body })
            .then(async (res) => {
              await res.arrayBuffer();
              if (res.status === 200) sent.set(site, started);
            })
            .catch(() => {});
          await sleep(1000 / PROBES_PER_S);
        }
      })();
      // Watch Elasticsearch for the probes' KPI documents, as a dashboard would see them (search, not get).
      const watching = (async () => {
        while (!stop || seen.size < sent.size) {
          const res = await es
            .search<{ dimension_value: string }>({
              index: kpis,
              size: 10_000,
              ignore_unavailable: true,
              _source: ['dimension_value'],
              query: { bool: { filter: [{ term: { dimension: 'site' } }, { prefix: { dimension_value: tag } }, { prefix: { window_kind: 'tumbling_' } }] } },
            })
            .catch(() => null);
          const now = performance.now();
          for (const h of res?.hits.hits ?? []) {
            const v = h._source?.dimension_value;
            if (v && !seen.has(v)) seen.set(v, now);
          }
          if (stop && now > stopAt + 15_000) break;
          await sleep(100);
        }
      })();
      const res = await traffic(FRESH_DURATION);
      stop = true;
      stopAt = performance.now();
      await probing;
      await watching;
      const lag = await metricValue('processor_consumer_lag').catch(() => NaN);
      const f: number[] = [];
      for (const [site, t] of sent) {
        const v = seen.get(site);
        if (v !== undefined) f.push(v - t);
      }
      all.push(...f);
      segments.push({
        p50: percentile(f, 50),
        p95: percentile(f, 95),
        p99: percentile(f, 99),
        max: f.length ? Math.max(...f) : NaN,
        n: f.length,
        missing: sent.size - f.length,
        rate: (res.ok * 20) / res.seconds,
        load,
        non2xx: res.non2xx + res.errors,
        lag,
      });
      const g = segments[segments.length - 1];
      log(`freshness #${s}: processor lag ${int(g.lag)} records; ${g.n} probes, p50 ${ms(g.p50, 0)}, p95 ${ms(g.p95, 0)}, p99 ${ms(g.p99, 0)}, max ${ms(g.max, 0)}${g.missing ? `, ${g.missing} NOT SEEN` : ''}; traffic ${int(g.rate)} events/s accepted`);
    }
    fresh = { segments, all };
    await proc.stop();
    await gw.stop();
  }

  const med = (f: (r: Rep) => number) => median(reps.map(f));
  const limitTool = med((r) => r.kafkaTool);
  const limitKjs = med((r) => r.kafkajs);
  const limitBulk = med((r) => r.bulk);
  const proc = med((r) => r.processor);
  const consume = med((r) => r.processorConsume);
  console.log('\n=== bench:processor ===');
  console.log(`${int(N)} events (traffic generator, enriched by the gateway's code), ${PARTITIONS} partitions, ${REPS} repetitions; Kafka 3.9.1 (${describeSecurity(KAFKA!)}) and Elasticsearch 8.19 on this machine`);
  console.log(
    table(
      ['rep', 'Kafka tool rec/s', 'kafkajs rec/s', 'ES bulk docs/s', 'processor ev/s', 'consumed ev/s', 'start-up', 'cpu s proc/kafka/es', 'proc cpu µs/event', 'load / cpu psi'],
      reps.map((r, i) => [
        `#${i + 1}`,
        int(r.kafkaTool),
        int(r.kafkajs),
        int(r.bulk),
        int(r.processor),
        int(r.processorConsume),
        secs(r.startupS),
        `${r.cpu.processor.toFixed(0)}/${r.cpu.kafka.toFixed(0)}/${r.cpu.es.toFixed(0)}`,
        int((r.cpu.processor / N) * 1e6),
        r.load,
      ]),
    ),
  );
  console.log('');
  console.log(
    table(
      ['stage (median)', 'per second', 'limit measured in the same run', 'ratio'],
      [
        ['Kafka: ConsumerPerformance', int(limitTool), 'Kafka\'s own consumer', '-'],
        ['Kafka: bare kafkajs loop (+JSON.parse)', int(limitKjs), `ConsumerPerformance ${int(limitTool)}/s`, pct(limitKjs / limitTool)],
        ['Elasticsearch: plain bulk loop', int(limitBulk), 'Elasticsearch\'s own bulk', '-'],
        ['processor: consumed (all sinks flushed)', int(consume), `ConsumerPerformance ${int(limitTool)}/s`, pct(consume / limitTool)],
        ['processor: consumed', int(consume), `kafkajs loop ${int(limitKjs)}/s`, pct(consume / limitKjs)],
        ['processor: counted in KPI windows', int(proc), `ES bulk loop ${int(limitBulk)}/s`, pct(proc / limitBulk)],
        ['processor: Elasticsearch document writes', int(med((r) => r.esWritesPerS)), `ES bulk loop ${int(limitBulk)}/s`, pct(med((r) => r.esWritesPerS) / limitBulk)],
      ],
    ),
  );
  console.log(`target: each stage >= ${pct(TARGET_RATIO)} of its limit; processor end to end vs Elasticsearch's limit: ${pct(proc / limitBulk)} (${proc / limitBulk >= TARGET_RATIO ? 'meets' : 'BELOW'} the target)`);
  if (profileText) console.log(`\n${profileText}`);
  if (fresh) {
    const p95s = fresh.segments.map((s) => s.p95);
    const overall = percentile(fresh.all, 95);
    console.log('');
    console.log(`freshness at ${int(RATE)} events/s through the gateway (request sent -> KPI window document visible to a search; ${PROBES_PER_S} probes/s, polled every 100 ms):`);
    console.log(
      table(
        ['segment', 'probes', 'p50', 'p95', 'p99', 'max', 'not seen', 'traffic ev/s', 'non2xx', 'processor lag after', 'load / cpu psi'],
        fresh.segments.map((s, i) => [`#${i + 1} (${FRESH_DURATION} s)`, s.n, ms(s.p50, 0), ms(s.p95, 0), ms(s.p99, 0), ms(s.max, 0), s.missing, int(s.rate), s.non2xx, int(s.lag), s.load]),
      ),
    );
    console.log(`p95 freshness: median of segments ${ms(median(p95s), 0)}, all probes ${ms(overall, 0)}; target < ${int(TARGET_FRESHNESS_P95_MS)} ms (${median(p95s) < TARGET_FRESHNESS_P95_MS ? 'met' : 'NOT met'})`);
  }
});
