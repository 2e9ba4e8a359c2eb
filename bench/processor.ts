/**
 * bench:processor — each role of the processor beside the limits of the two systems it sits
 * between, measured in the same run on the same data, and KPI freshness under live traffic.
 *
 * Per repetition (fresh topics and indices each time), with N enriched events produced first
 * (traffic generator, enriched by the gateway's own code, keyed by visitor like the gateway):
 *   (a) Kafka's limit: Kafka's consumer perf tool (ConsumerPerformance, the broker's version) on
 *       a copy of the four topics, and a bare kafkajs consumer loop (fetch + JSON.parse);
 *   (b) Elasticsearch's limit: a plain loop of bulk requests (--bulk-size documents,
 *       --bulk-concurrency in flight; the index role has one flush of PROCESSOR_BATCH_SIZE in
 *       flight) indexing the same documents under the same ids;
 *   (c) each role alone, its own process and consumer group from the beginning (lib/processor-roles.ts):
 *       analytics until every event is counted in its KPI window, index until Elasticsearch applied
 *       every raw event, archive until its commits' checkpoints cover every record; CPU per event and RSS.
 *       In the first repetition the analytics role runs again as --scale processes in one group:
 *       its rate beside one process's, and its documents compared with one process's.
 * Then freshness (lib/processor-freshness.ts): gateway + one process per role, --rate events/s
 * through the gateway, probe events watched in the KPI index; each role's CPU per event and RSS.
 *
 *   npm run bench:processor -- [--events 150000] [--reps 3] [--rate 10000] [--fresh-duration 20]
 *                              [--fresh-segments 3] [--probes-per-s 5] [--probe-poll-ms 50] [--probe-searches 3] [--skip kafka-tool,freshness,archive]
 *                              [--bulk-size 2000] [--bulk-concurrency 1] [--bulk-warmup 50000] [--scale 3] [--ab-node-flags --max-semi-space-size=32] [--ab-root DIR]
 *                              [--processor-env KPI_EMIT_INTERVAL_MS=500,...] [--profile [--profile-role analytics]] [--secure]
 *                              [--fresh-ab-env ES_KPI_BULK_REFRESH=true,...] [--fresh-ab-root DIR]
 *                              [--compressions none,lz4,snappy] [--load-send 2000] [--fresh-roles analytics,archive] [--catch-up-max 180]
 *
 * --compressions none,lz4,snappy: repetition r loads its topics with the r-th of these batch compressions
 * (in turn; as GATEWAY_KAFKA_COMPRESSION would write them), and the summary gives each role's CPU
 * per event and the bare kafkajs loop's rate per compression: what decoding costs the processor.
 * --load-send: records per send of the loader (2,000; a gateway's sends under load carry a few
 * hundred, so its record batches are smaller, and a compressed batch's fixed cost counts more).
 *
 * --fresh-roles: the roles the freshness phase starts (default all three); without index, what the
 * KPIs' freshness would be if raw indexing lagged entirely (the bound PROCESSOR_INDEX_YIELD_* aims at).
 *
 * Only the freshness phase: --reps 0 --skip kafka-tool. --fresh-ab-env / --fresh-ab-root: a second
 * analytics role (these settings, or another checkout's code) beside the first on the same traffic,
 * probes and searches, each with its own KPI index: an A/B in one run.
 *
 * --secure: Kafka with TLS and SASL/SCRAM only (lib/secure.ts); every client (the loaders, Kafka's
 * perf tool, the kafkajs loop, the gateway, the processor) logs in over TLS.
 *
 * Kafka on 29092/29093, Elasticsearch on 29200/29300, the gateway on 28090 (bench:gateway has 28080) (below the ephemeral port range, where a
 * client connection's local port can block a listener), processor metrics on 29464-29466 (29467: the freshness A/B's second analytics role), data in
 * .data/bench/processor; all stopped at the end, also on failure.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { logLevel } from 'kafkajs';
import { kafkaFromConfig, type KafkaClientSettings } from '../common/kafka-client.js';
import { loadConfig } from '../common/config.js';
import { parseConfig } from '../contracts/config.js';
import { windowSpecs } from '../contracts/windows.js';
import { EVENT_TOPICS } from '../contracts/topics.js';
import { installTemplates } from '../infra/setup-indices.js';
import { startServices } from '../infra/services.js';
import { resolveDataDir } from '../infra/paths.js';
import { assertPortsFree } from '../infra/ports.js';
import { parseArgs } from './lib/args.js';
import { cpuSecondsOf, cpuSecondsOfTree } from './lib/child.js';
import { enrichedEvents } from './lib/enriched.js';
import { bulkLoop } from './lib/es-bulk-loop.js';
import { consumerPerformance, javaFetchProperties, kafkaToolsClasspath } from './lib/kafka-tools.js';
import { ROLES, type BenchRole } from './lib/processor-child.js';
import { runFreshness, type Freshness } from './lib/processor-freshness.js';
import { createTopics, deleteTopics, kafkajsLoop, LOAD_COMPRESSIONS, PERF_TOPIC, produceAll, type BenchKafka, type LoadCompression } from './lib/processor-kafka.js';
import { compareAnalyticsDocs } from './lib/compare-docs.js';
import { processorReport, type Rep, type ScaleRun } from './lib/processor-report.js';
import { runRole, type RoleRun } from './lib/processor-roles.js';
import { benchSecurity, clientSettings, describeSecurity, javaClientProperties } from './lib/secure.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, secs } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 150_000);
const REPS = a.num('reps', 3);
const RATE = a.num('rate', 10_000);
const FRESH_SEGMENTS = a.num('fresh-segments', 3);
const FRESH_DURATION = a.num('fresh-duration', 20);
const FRESH_WARMUP = a.num('fresh-warmup', 15);
/** --fresh-roles analytics,archive: the freshness phase's roles (default all three); without index, the KPIs' freshness if raw indexing lagged entirely. */
/** --catch-up-max S: after the freshness traffic, wait at most this long for the index role to catch up (0: not measured). */
const CATCH_UP_MAX = a.num('catch-up-max', 180);
const FRESH_ROLES = a.str('fresh-roles', '').split(',').filter(Boolean) as BenchRole[];
const PROBES_PER_S = a.num('probes-per-s', 5);
/** How often the probes' KPI documents are looked for (ms): well below the 2 s target, so the polling hardly adds to the figure. */
const PROBE_POLL_MS = Math.max(10, a.num('probe-poll-ms', 50));
/**
 * --probe-searches 3: searches in flight at most, one leaving every --probe-poll-ms (1: the next
 * leaves that long after the last one's answer). At 10,000 events/s a search takes 0.1-1 s, and with
 * one at a time a probe's figure held up to a cycle and a round trip of polling (p95 1.1 s on the
 * quiet machine): three in flight look every poll interval unless all three are slower.
 */
const PROBE_SEARCHES = Math.max(1, a.num('probe-searches', 3));
const BULK_SIZE = a.num('bulk-size', loadConfig().processorBatchSize);
const BULK_CONCURRENCY = Math.max(1, a.num('bulk-concurrency', 1));
/** --bulk-warmup 50000: documents of a first, unmeasured pass of the bulk loop (0: none). */
const BULK_WARMUP = Math.max(0, a.num('bulk-warmup', 50_000));
/** --profile: the last repetition's --profile-role (analytics) runs under node --cpu-prof; where its time goes is printed. */
const PROFILE = a.flag('profile');
const PROFILE_ROLE = a.str('profile-role', 'analytics') as BenchRole;
const SECURE = a.flag('secure');
const SKIP = new Set(a.str('skip', '').split(',').filter(Boolean));
/** --scale 3: in the first repetition the analytics role runs again as this many processes in one group; rate and documents compared (0: not run). */
const SCALE = a.num('scale', 3);
/** --processor-env KPI_EMIT_INTERVAL_MS=500,PROCESSOR_FLUSH_INTERVAL_MS=250: settings to try on the processor. */
const envArg = (name: string): Record<string, string> =>
  Object.fromEntries(
    a
      .str(name, '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
const PROCESSOR_ENV = envArg('processor-env');
/**
 * --fresh-ab-env KPI_EMIT_INTERVAL_MS=100,... and/or --fresh-ab-root DIR: the freshness phase runs a
 * second analytics role with these settings (on top of --processor-env) or from that checkout, in a
 * consumer group and index prefix of its own, on the same traffic and probes (lib/processor-freshness.ts).
 */
const FRESH_AB_ENV = envArg('fresh-ab-env');
const FRESH_AB_ROOT = a.str('fresh-ab-root', '');
const FRESH_AB = Object.keys(FRESH_AB_ENV).length > 0 || FRESH_AB_ROOT !== '';
/** --ab-node-flags --max-semi-space-size=32: the analytics role runs a second time in each repetition with these Node flags (comma-separated), for an A/B in the same run. */
const AB_NODE_FLAGS = a.str('ab-node-flags', '').split(',').filter(Boolean);
/**
 * --ab-root DIR: the analytics role runs a second time in each repetition from another checkout
 * (DIR/processor/main.ts, e.g. `git archive <commit>` unpacked with this node_modules linked), for
 * a before/after of code in the same run; combines with --ab-node-flags.
 */
const AB_ROOT = a.str('ab-root', '');
const COMPRESSIONS = a.str('compressions', 'none').split(',').filter(Boolean) as LoadCompression[];
for (const c of COMPRESSIONS) if (!(c in LOAD_COMPRESSIONS)) throw new Error(`--compressions takes ${Object.keys(LOAD_COMPRESSIONS).join(', ')}, got ${c}`);
const LOAD_SEND = a.num('load-send', 2000);
const PORTS = {
  kafka: a.num('kafka-port', 29092),
  controller: a.num('controller-port', 29093),
  es: a.num('es-port', 29200),
  esTransport: a.num('es-transport-port', 29300),
  gateway: a.num('gateway-port', 28090),
  metrics: a.num('metrics-port', 29464),
};
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/processor'));
const PARTITIONS = 6;
const RUN_TAG = Date.now().toString(36);
const KAFKA_VERSION = loadConfig().kafkaVersion;
const roles = ROLES.filter((r) => !SKIP.has(r));

await runBench('bench:processor', 3600, async () => {
  // Kafka and Elasticsearch check their own ports; these are the benchmark's processes'.
  await assertPortsFree([
    { port: PORTS.gateway, what: 'gateway', setting: '--gateway-port' },
    ...ROLES.map((r, i) => ({ port: PORTS.metrics + i, what: `processor metrics (${r})`, setting: '--metrics-port' })),
    ...(FRESH_AB ? [{ port: PORTS.metrics + ROLES.length, what: 'processor metrics (analytics, B)', setting: '--metrics-port' }] : []),
  ]);
  log(`processor bench: ${int(N)} events x ${REPS} repetitions, roles ${roles.join(', ')} each alone, then freshness at ${int(RATE)} events/s; loadavg / cpu pressure ${await loadAverage()}`);
  if (Object.keys(PROCESSOR_ENV).length) log(`processor settings: ${JSON.stringify(PROCESSOR_ENV)}`);
  const t0 = performance.now();
  const { docs, kpiCounted } = enrichedEvents(N, RATE, `p${RUN_TAG}`);
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
  const settings: KafkaClientSettings = clientSettings(services.kafkaClient);
  log(describeSecurity(settings));
  const kafka: BenchKafka = (clientId) =>
    kafkaFromConfig({ ...settings, kafkaBrokers: services.kafkaBrokers, kafkaClientId: clientId }, 'bench', undefined, { logLevel: logLevel.NOTHING, connectionTimeout: 5_000, requestTimeout: 30_000 });
  const perfToolConfig = path.join(DATA_DIR, 'perf-tool-consumer.properties');
  // The tool fetches as the processor does (wait, sizes): see CONSUMER_FETCH.
  writeFileSync(perfToolConfig, javaClientProperties(settings) + javaFetchProperties(), { mode: 0o600 });
  const es = new Client({ node: services.esUrl, requestTimeout: 60_000 });
  onCleanup('es client', () => es.close());

  // Every topic up front: creating topics while others are being deleted upsets the metadata calls.
  for (let r = 1; r <= REPS; r++) await createTopics(kafka, services.kafkaBrokers, `r${r}-`, PARTITIONS, [...EVENT_TOPICS, PERF_TOPIC]);
  if (!SKIP.has('freshness')) await createTopics(kafka, services.kafkaBrokers, 'fr-', PARTITIONS);

  const reps: Rep[] = [];
  let scale: ScaleRun | null = null;
  for (let r = 1; r <= REPS; r++) {
    const topicPrefix = `r${r}-`;
    const procPrefix = `benchp${r}`;
    const bulkPrefix = `benchb${r}`;
    await installTemplates(services.esUrl, procPrefix, { replicas: 0 });
    await installTemplates(services.esUrl, bulkPrefix, { replicas: 0 });
    const compression = COMPRESSIONS[(r - 1) % COMPRESSIONS.length];
    const produced = await produceAll(kafka, topicPrefix, docs, SKIP.has('kafka-tool') ? undefined : topicPrefix + PERF_TOPIC, { compression, perSend: LOAD_SEND });
    log(`#${r}: produced ${int(N)} events to the four topics ${topicPrefix}* (and a copy for the perf tool) in ${secs(produced.seconds)}, ${compression}, ${int(LOAD_SEND)} records a send`);
    const load = await loadAverage();
    const cpu0 = { kafka: cpuSecondsOf(services.kafka.pid), es: cpuSecondsOfTree(services.elasticsearch.pid) };

    // (a) Kafka's own consumer on a topic holding the same N records (same keys, values, partitions).
    let toolRate = NaN;
    if (!SKIP.has('kafka-tool')) {
      const res = await consumerPerformance({ classpath, bootstrap: services.kafkaBrokers[0], topic: topicPrefix + PERF_TOPIC, messages: N, group: `bench-perf-${topicPrefix}${RUN_TAG}`, logDir: path.join(DATA_DIR, 'logs'), consumerConfig: perfToolConfig });
      if (res.messages < N) throw new Error(`ConsumerPerformance read ${res.messages} of ${N} records`);
      toolRate = res.messages / (res.fetchMs / 1000);
      log(`#${r}: Kafka ConsumerPerformance ${int(toolRate)} records/s (its fetch time; ${int(res.messages / (res.wallMs / 1000))}/s counting its JVM start-up)`);
    }
    const kjs = await kafkajsLoop(kafka, topicPrefix, N, `bench-kafkajs-${topicPrefix}${RUN_TAG}`);
    log(`#${r}: bare kafkajs loop ${int(kjs)} records/s`);

    // (b) Elasticsearch's limit on the same documents. The loop is the run's first heavy indexing:
    // on a node started a minute earlier its JIT is cold, and a loop measured then (4,065
    // documents/s) was beaten 2.7x by the index role a minute later. A first pass over part of the
    // documents, into indices of its own, warms it.
    if (BULK_WARMUP > 0) {
      const warmPrefix = `${bulkPrefix}w`;
      await installTemplates(services.esUrl, warmPrefix, { replicas: 0 });
      await bulkLoop(es, warmPrefix, docs.slice(0, Math.min(docs.length, BULK_WARMUP)), BULK_SIZE, BULK_CONCURRENCY);
      await es.indices.delete({ index: `${warmPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });
    }
    const bulk = await bulkLoop(es, bulkPrefix, docs, BULK_SIZE, BULK_CONCURRENCY);
    log(`#${r}: plain bulk loop ${int(bulk)} documents/s (${int(BULK_SIZE)} per request, ${BULK_CONCURRENCY} in flight)`);
    await es.indices.delete({ index: `${bulkPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });

    // (c) Each role alone, from a fresh group, until its output holds every event.
    const runs: RoleRun[] = [];
    const scaleHere = SCALE > 1 && r === 1 && roles.includes('analytics');
    // What every role run of this repetition shares; each run names its role, group and prefix.
    const common = { services, es, kafka, n: N, kpiCounted, topicPrefix, metricsPort: PORTS.metrics, dataDir: DATA_DIR, env: PROCESSOR_ENV };
    for (const role of roles) {
      const ab = (AB_NODE_FLAGS.length > 0 || AB_ROOT !== '') && role === 'analytics';
      const abPrefix = `bencha${r}`;
      // The second of two runs on the same topics measured cheaper per event (an A/A pair differed
      // by ~25 %): the A/B run goes second in odd repetitions and first in even ones.
      const abFirst = ab && r % 2 === 0;
      const runAb = async () => {
        await installTemplates(services.esUrl, abPrefix, { replicas: 0 });
        return runRole({ ...common, role, indexPrefix: abPrefix, group: `bench-ab-${r}-${RUN_TAG}`, profile: false, nodeFlags: AB_NODE_FLAGS, root: AB_ROOT || undefined, settleMs: AB_ROOT ? 3000 : 0 });
      };
      const abRun = abFirst ? await runAb() : null;
      const run = await runRole({
        ...common,
        role,
        indexPrefix: procPrefix,
        group: `bench-proc-${r}-${RUN_TAG}`,
        profile: PROFILE && r === REPS && role === PROFILE_ROLE,
        // The scale run's documents are compared with this one's: both write their last provisional documents first.
        settleMs: (scaleHere || AB_ROOT) && role === 'analytics' ? 3000 : 0,
      });
      runs.push(run);
      log(`#${r}: ${role} role ${int(run.rate)} events/s (${int(run.consumeRate)}/s consumed; first event ${secs(run.startupS)} after start), ${run.cpuUsPerEvent.toFixed(1)} µs CPU/event, RSS peak ${int(run.rssPeakMb)} MB${role === 'analytics' ? `, ${int(run.late)} late` : ''}`);
      if (ab) {
        const other = abRun ?? (await runAb());
        const what = [AB_NODE_FLAGS.join(' '), AB_ROOT && `the code in ${AB_ROOT}`].filter(Boolean).join(' and ');
        log(`#${r}: analytics role with ${what} (run ${abFirst ? 'first' : 'second'}): ${int(other.rate)} events/s (${(other.rate / run.rate).toFixed(2)}x without), ${other.cpuUsPerEvent.toFixed(1)} µs CPU/event (${run.cpuUsPerEvent.toFixed(1)} without), RSS peak ${int(other.rssPeakMb)} MB`);
        if (AB_ROOT) {
          // The same documents from both: a before/after of code must not change the outputs.
          const same = await compareAnalyticsDocs(es, procPrefix, abPrefix);
          log(`#${r}: documents of the two (KPI, URL, sessions): ${int(same.docs)} compared, ${same.missing} missing, ${same.different} different`);
        }
        await es.indices.delete({ index: `${abPrefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
      }
      if (scaleHere && role === 'analytics') {
        const scalePrefix = `benchs${r}`;
        await installTemplates(services.esUrl, scalePrefix, { replicas: 0 });
        const many = await runRole({
          ...common,
          role,
          indexPrefix: scalePrefix,
          group: `bench-scale-${r}-${RUN_TAG}`,
          profile: false,
          instances: SCALE,
          settleMs: 3000,
        });
        const same = await compareAnalyticsDocs(es, procPrefix, scalePrefix);
        scale = { one: run, many, ...same };
        log(`#${r}: analytics role as ${SCALE} processes in one group ${int(many.rate)} events/s (${(many.rate / run.rate).toFixed(2)}x one; consuming once all held partitions ${int(many.steadyConsumeRate)}/s = ${(many.steadyConsumeRate / run.steadyConsumeRate).toFixed(2)}x one's consumption), ${many.cpuUsPerEvent.toFixed(1)} µs CPU/event, ${int(many.handedOver)} events handed to the sinks (one process: ${int(run.handedOver)}); documents: ${int(same.docs)} compared, ${same.missing} missing, ${same.different} different`);
        await es.indices.delete({ index: `${scalePrefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
      }
    }
    reps.push({ compression, kafkaTool: toolRate, kafkajs: kjs, bulk, roles: runs, cpu: { kafka: cpuSecondsOf(services.kafka.pid) - cpu0.kafka, es: cpuSecondsOfTree(services.elasticsearch.pid) - cpu0.es }, load });
    // Leave the next repetition a quiet machine: drop this one's topics and indices.
    await es.indices.delete({ index: `${procPrefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await deleteTopics(kafka, [...EVENT_TOPICS, PERF_TOPIC].map((t) => topicPrefix + t));
  }

  // The tumbling window the processor cuts with the bench's settings: the ids of a probe's documents.
  const tumblingOf = (env: NodeJS.ProcessEnv) => {
    const t = windowSpecs(parseConfig(env))[0];
    return { tumblingKind: t.kind, tumblingMs: t.sizeMs };
  };
  let fresh: Freshness | null = null;
  if (!SKIP.has('freshness')) {
    fresh = await runFreshness({
      services,
      es,
      rate: RATE,
      segments: FRESH_SEGMENTS,
      durationS: FRESH_DURATION,
      warmupS: FRESH_WARMUP,
      probesPerS: PROBES_PER_S,
      pollMs: PROBE_POLL_MS,
      searches: PROBE_SEARCHES,
      gatewayPort: PORTS.gateway,
      metricsPort: PORTS.metrics,
      ...(FRESH_ROLES.length ? { roles: FRESH_ROLES } : {}),
      catchUpMaxS: CATCH_UP_MAX,
      ...tumblingOf({ ...process.env, ...PROCESSOR_ENV }),
      partitions: PARTITIONS,
      dataDir: DATA_DIR,
      runTag: RUN_TAG,
      env: PROCESSOR_ENV,
      ab: FRESH_AB ? { env: FRESH_AB_ENV, root: FRESH_AB_ROOT || undefined } : undefined,
    });
  }
  console.log(
    processorReport({
      n: N,
      partitions: PARTITIONS,
      reps,
      header: `${int(N)} events (traffic generator, enriched by the gateway's code), ${PARTITIONS} partitions, ${REPS} repetitions; Kafka ${KAFKA_VERSION} (${describeSecurity(settings)}) and Elasticsearch 8.19 on this machine; each role in its own process and consumer group`,
      bulkSize: BULK_SIZE,
      bulkConcurrency: BULK_CONCURRENCY,
      rate: RATE,
      probesPerS: PROBES_PER_S,
      pollMs: PROBE_POLL_MS,
      searches: PROBE_SEARCHES,
      durationS: FRESH_DURATION,
      fresh,
      scale,
    }),
  );
});
