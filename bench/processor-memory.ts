/**
 * bench:processor-memory — where each processor role's memory goes, on a machine too busy for
 * bench:processor's live 10,000 events/s: N enriched events spanning N / 10,000 s of event time
 * (what the roles hold depends on event time and offsets: windows, sessions, repeat windows) are
 * produced first, then each role runs alone (its own process, consumer group and metrics port)
 * until it has handed every event to its sinks and its lag is 0, then a few seconds more. Printed
 * per role: RSS median and peak (sampled every 250 ms), V8 heap used and total and external
 * memory at the largest heap (from its /metrics, every second), CPU µs per event.
 *
 *   npm run bench:processor-memory -- [--events 600000] [--roles analytics,index,archive]
 *       [--kafka 127.0.0.1:27092] [--es http://127.0.0.1:27200] [--prefix mem-] [--metrics-port 29780]
 *       [--processor-env ARCHIVE_MAX_BUFFER_MB=0,...] [--node-flags=--max-semi-space-size=8] [--keep-topics] [--topics mem-xxxx-]
 *
 * Uses running Kafka and Elasticsearch (the tests' shared ones by default); its topics and indices
 * carry --prefix and a run tag and are deleted at the end (--keep-topics keeps the topics, and
 * --topics <their prefix> runs on them again, with the same --events, without producing).
 */
import { Client } from '@elastic/elasticsearch';
import { logLevel } from 'kafkajs';
import { kafkaFromConfig } from '../common/kafka-client.js';
import { loadConfig } from '../common/config.js';
import { ALL_TOPICS } from '../contracts/topics.js';
import { installTemplates } from '../infra/setup-indices.js';
import { resolveDataDir } from '../infra/paths.js';
import { sleep } from '../common/wait.js';
import { parseArgs } from './lib/args.js';
import { enrichedEvents } from './lib/enriched.js';
import { metricValue, ROLES, rssSampler, spawnProcessor, type BenchRole } from './lib/processor-child.js';
import { createTopics, deleteTopics, produceAll, type BenchKafka } from './lib/processor-kafka.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, secs } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 600_000);
const RATE = 10_000;
const BROKERS = a.str('kafka', '127.0.0.1:27092').split(',');
const ES_URL = a.str('es', 'http://127.0.0.1:27200');
const TAG = Date.now().toString(36);
const REUSE = a.str('topics', '');
const PREFIX = REUSE || `${a.str('prefix', 'mem-')}${TAG}-`;
const INDEX_PREFIX = `${a.str('prefix', 'mem-').replace(/[^a-z0-9]/g, '')}${TAG}`;
const METRICS_PORT = a.num('metrics-port', 29780);
const ROLE_LIST = a.str('roles', ROLES.join(',')).split(',') as BenchRole[];
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/processor-memory'));
/** Node flags after the processor's own (processor/node-flags.ts): the last of a flag wins. */
const NODE_FLAGS = a.str('node-flags', '').split(' ').filter(Boolean);
const PROCESSOR_ENV: Record<string, string> = Object.fromEntries(
  a
    .str('processor-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

await runBench('bench:processor-memory', 1800, async () => {
  log(`processor memory: ${int(N)} events (${secs(N / RATE, 0)} of event time at ${int(RATE)} events/s), roles ${ROLE_LIST.join(', ')} each alone; settings ${JSON.stringify(PROCESSOR_ENV)}, node flags ${JSON.stringify(NODE_FLAGS)}; load ${await loadAverage()}`);
  const kafka: BenchKafka = (clientId) => kafkaFromConfig({ ...loadConfig(), kafkaBrokers: BROKERS, kafkaClientId: clientId }, 'bench', undefined, { logLevel: logLevel.NOTHING, connectionTimeout: 5_000, requestTimeout: 30_000 });
  const es = new Client({ node: ES_URL, requestTimeout: 60_000 });
  onCleanup('es client', () => es.close());
  const partitions = loadConfig().topicPartitions;
  if (!REUSE) await createTopics(kafka, BROKERS, PREFIX, partitions);
  if (!a.flag('keep-topics')) onCleanup('topics', () => deleteTopics(kafka, ALL_TOPICS.map((t) => PREFIX + t)));
  await installTemplates(ES_URL, INDEX_PREFIX, { replicas: 0 });
  onCleanup('indices', async () => {
    await es.indices.delete({ index: `${INDEX_PREFIX}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  });
  if (!REUSE) {
    const produced = await produceAll(kafka, PREFIX, enrichedEvents(N, RATE, `m${TAG}`).docs);
    log(`produced ${int(N)} events to ${partitions} partitions of ${PREFIX}* in ${secs(produced.seconds)}`);
  }
  const rows: string[] = [];
  for (const [i, role] of ROLE_LIST.entries()) {
    const port = METRICS_PORT + i;
    const child = await spawnProcessor({
      name: `memory-${role}`,
      roles: [role],
      services: { kafkaBrokers: BROKERS, esUrl: ES_URL, kafkaClient: { kafkaBrokers: BROKERS, kafkaSsl: false, kafkaSslCaFile: '', kafkaSaslMechanism: '', kafkaSaslUsername: '', kafkaSaslPassword: '' } },
      topicPrefix: PREFIX,
      indexPrefix: INDEX_PREFIX,
      group: `mem-${TAG}-${role}`,
      metricsPort: port,
      dataDir: DATA_DIR,
      env: PROCESSOR_ENV,
      nodeFlags: NODE_FLAGS,
    });
    const rss = rssSampler(child.pid);
    const cpu0 = child.cpuSeconds();
    const heap = { used: 0, total: 0, external: 0 };
    const t0 = performance.now();
    let doneAt = Infinity;
    for (;;) {
      await sleep(1000);
      const mb = async (name: string) => (await metricValue(port, name).catch(() => NaN)) / 1e6;
      const total = await mb('processor_nodejs_heap_size_total_bytes');
      if (total > heap.total) Object.assign(heap, { used: await mb('processor_nodejs_heap_size_used_bytes'), total, external: await mb('processor_nodejs_external_memory_bytes') });
      const handed = await metricValue(port, 'processor_events_total').catch(() => 0);
      const lag = await metricValue(port, 'processor_consumer_lag').catch(() => NaN);
      if (handed >= N && lag === 0 && doneAt === Infinity) doneAt = performance.now();
      if (performance.now() - doneAt > 5_000 || performance.now() - t0 > 600_000) break;
    }
    const cpu = child.cpuSeconds() - cpu0;
    const r = rss.stop();
    await child.stop();
    const sorted = [...r.samples].sort((x, y) => x - y);
    const row = `${role.padEnd(9)}  RSS median ${int(sorted[sorted.length >> 1])} MB, peak ${int(r.peakMb)} MB; at the largest V8 heap: used ${int(heap.used)} of ${int(heap.total)} MB, external ${int(heap.external)} MB; ${((cpu / N) * 1e6).toFixed(1)} µs CPU/event; ${secs((doneAt - t0) / 1000)} to consume`;
    log(row);
    rows.push(row);
  }
  console.log(`\n=== bench:processor-memory (${int(N)} events, ${partitions} partitions, settings ${JSON.stringify(PROCESSOR_ENV)}, node flags ${JSON.stringify(NODE_FLAGS)}) ===\n${rows.join('\n')}`);
});
