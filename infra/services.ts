import { rmSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import path from 'node:path';
import { type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { ALL_TOPICS } from '../contracts/topics.js';
import { ElasticsearchNode } from './elasticsearch.js';
import { fetchAll, fetchElasticsearch, fetchKafka } from './fetch.js';
import { liveProcesses } from './jvm-process.js';
import { KafkaBroker, type KafkaSecurity } from './kafka.js';
import { resolveDataDir } from './paths.js';
import { assertPortsFree } from './ports.js';
import type { Service } from './service.js';
import { installTemplates } from './setup-indices.js';
import { ensureTopics } from './setup-topics.js';

export interface StartServicesOptions {
  /** Where Kafka and Elasticsearch keep data and logs (DATA_DIR); relative paths are from the project root. */
  dataDir?: string;
  kafkaPort?: number;
  controllerPort?: number;
  esPort?: number;
  esTransportPort?: number;
  /** Partitions of each topic created (TOPIC_PARTITIONS). */
  partitions?: number;
  topicPrefix?: string;
  indexPrefix?: string;
  /** Delete dataDir first: empty Kafka and Elasticsearch. */
  fresh?: boolean;
  kafkaHeap?: string;
  esHeap?: string;
  /** START_TIMEOUT_S, per service. */
  startTimeoutS?: number;
  /** Progress messages ("kafka ready in 6.1 s"); console.log with an [infra] tag by default. */
  log?: (msg: string) => void;
  /** Settings not given above; read from the environment by default. */
  config?: Config;
}

export interface RunningServices {
  /** Bootstrap servers of the local broker: ['127.0.0.1:9092']. */
  kafkaBrokers: string[];
  /** What a client needs to talk to it (TLS CA and SCRAM login when KAFKA_LOCAL_SECURE). */
  kafkaClient: KafkaBroker['clientConfig'];
  /** http://127.0.0.1:9200 */
  esUrl: string;
  /** Stop and start the broker alone, on the same data (outage tests); kill() is a crash. */
  kafka: Service;
  elasticsearch: Service;
  dataDir: string;
  /** Full names of the topics that exist (prefix included). */
  topics: string[];
  /** Names of the installed index templates. */
  templates: string[];
  /** Stops both (SIGTERM, then SIGKILL after a grace period); safe to call twice. */
  stop(): Promise<void>;
}

const defaultLog = (msg: string) => console.log(`[infra] ${msg}`);

/**
 * Fetches Kafka and Elasticsearch if needed, starts both in parallel on 127.0.0.1, waits until each
 * answers a real health check (a Kafka metadata request, `_cluster/health` yellow), then creates the
 * topics and installs the index templates. If either fails to start, both are stopped and the
 * error carries the tail of the failing service's log.
 */
export async function startServices(opts: StartServicesOptions = {}): Promise<RunningServices> {
  const cfg = opts.config ?? loadConfig();
  const log = opts.log ?? defaultLog;
  const t0 = Date.now();
  const dataDir = resolveDataDir(opts.dataDir ?? cfg.dataDir);
  const ports = {
    kafka: opts.kafkaPort ?? cfg.kafkaPort,
    controller: opts.controllerPort ?? cfg.kafkaControllerPort,
    es: opts.esPort ?? cfg.esPort,
    esTransport: opts.esTransportPort ?? cfg.esTransportPort,
  };
  // Before anything is deleted: a busy port most likely means another run uses this data folder.
  await assertPortsFree([
    { port: ports.kafka, what: 'Kafka', setting: 'KAFKA_PORT' },
    { port: ports.controller, what: 'Kafka controller', setting: 'KAFKA_CONTROLLER_PORT' },
    { port: ports.es, what: 'Elasticsearch HTTP', setting: 'ES_PORT' },
    { port: ports.esTransport, what: 'Elasticsearch transport', setting: 'ES_TRANSPORT_PORT' },
  ]);
  if (opts.fresh) rmSync(dataDir, { recursive: true, force: true });
  const partitions = opts.partitions ?? cfg.topicPartitions;
  const topicPrefix = opts.topicPrefix ?? cfg.topicPrefix;
  const indexPrefix = opts.indexPrefix ?? cfg.esIndexPrefix;
  const startTimeoutMs = (opts.startTimeoutS ?? cfg.startTimeoutS) * 1000;

  const dists = await fetchAll({ kafka: cfg.kafkaVersion, elasticsearch: cfg.esVersion }, log);
  const kafka = new KafkaBroker(dists.kafka, {
    dir: path.join(dataDir, 'kafka'),
    port: ports.kafka,
    controllerPort: ports.controller,
    heap: opts.kafkaHeap ?? cfg.kafkaHeap,
    defaultPartitions: partitions,
    startTimeoutMs,
    log,
    security: localSecurity(cfg),
  });
  const elasticsearch = new ElasticsearchNode(dists.elasticsearch, {
    dir: path.join(dataDir, 'elasticsearch'),
    port: ports.es,
    transportPort: ports.esTransport,
    heap: opts.esHeap ?? cfg.esHeap,
    ...(cfg.esSnapshotDir ? { repoDir: resolveDataDir(cfg.esSnapshotDir) } : {}),
    startTimeoutMs,
    log,
  });
  installSignalHandlers(log);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const t = Date.now();
      await Promise.all([kafka.stop(), elasticsearch.stop()]);
      log(`kafka and elasticsearch stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    })().finally(() => {
      stopping = undefined;
    }));
  const started = await Promise.allSettled([kafka.start(), elasticsearch.start()]);
  const failed = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await stop();
    throw failed.length === 1 ? failed[0].reason : new AggregateError(failed.map((f) => f.reason), failed.map((f) => String(f.reason?.message ?? f.reason)).join('\n\n'));
  }

  const esClient = new Client({ node: elasticsearch.url });
  try {
    const [topics, templates] = await Promise.all([
      ensureTopics(kafka.brokers, { prefix: topicPrefix, partitions, replication: 1, topics: ALL_TOPICS, log, kafka: kafka.adminClient() }),
      installTemplates(elasticsearch.url, indexPrefix, { replicas: 0, log, client: esClient }).finally(() => esClient.close()),
    ]);
    log(`services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (data in ${dataDir})`);
    return {
      kafkaBrokers: kafka.brokers,
      kafkaClient: kafka.clientConfig,
      esUrl: elasticsearch.url,
      kafka,
      elasticsearch,
      dataDir,
      topics: topics.topics.map((t) => t.topic),
      templates,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * KAFKA_LOCAL_SECURE: the local broker takes TLS and SCRAM logins only, for the user of
 * KAFKA_SASL_USERNAME (default `clickstream`) and KAFKA_SASL_PASSWORD (required then).
 */
export function localSecurity(cfg: Pick<Config, 'kafkaLocalSecure' | 'kafkaSaslUsername' | 'kafkaSaslPassword'>): KafkaSecurity | undefined {
  if (!cfg.kafkaLocalSecure) return undefined;
  if (!cfg.kafkaSaslPassword) throw new Error('KAFKA_LOCAL_SECURE=true needs KAFKA_SASL_PASSWORD (the password of the SCRAM user KAFKA_SASL_USERNAME the broker is formatted with)');
  return { username: cfg.kafkaSaslUsername || 'clickstream', password: cfg.kafkaSaslPassword };
}

let signalHandlersInstalled = false;

/**
 * On SIGINT / SIGTERM, when nobody else listens for the signal, stop the JVMs cleanly and exit.
 * An application with its own handler (the demo, the CLI, vitest) stops them itself; the 'exit'
 * hook and the watchdog of jvm-process.ts cover every other way out.
 */
function installSignalHandlers(log: (msg: string) => void): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = () => {
      if (process.listenerCount(signal) > 1) return;
      const procs = liveProcesses();
      if (procs.length) log(`${signal}: stopping ${procs.map((p) => p.name).join(' and ')}`);
      void Promise.allSettled(procs.map((p) => p.stop(20_000))).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.on(signal, handler);
  }
}

export interface StartKafkaOptions {
  dataDir: string;
  port: number;
  controllerPort: number;
  partitions?: number;
  topicPrefix?: string;
  /** Create the pipeline's topics once the broker is up (default true). */
  createTopics?: boolean;
  fresh?: boolean;
  heap?: string;
  startTimeoutS?: number;
  log?: (msg: string) => void;
  config?: Config;
  /** TLS and SASL/SCRAM only (default: KAFKA_LOCAL_SECURE of the config). */
  security?: KafkaSecurity;
}

/**
 * A broker of its own, without Elasticsearch: for tests that stop, kill and restart Kafka
 * (`broker.stop()`, `broker.kill()`, `broker.start()` on the same data) without disturbing the
 * shared services of the global set-up, which live in another process.
 */
export async function startKafka(opts: StartKafkaOptions): Promise<KafkaBroker> {
  const cfg = opts.config ?? loadConfig();
  const log = opts.log ?? defaultLog;
  const dataDir = resolveDataDir(opts.dataDir);
  await assertPortsFree([
    { port: opts.port, what: 'Kafka', setting: 'the port option' },
    { port: opts.controllerPort, what: 'Kafka controller', setting: 'the controllerPort option' },
  ]);
  if (opts.fresh) rmSync(dataDir, { recursive: true, force: true });
  const partitions = opts.partitions ?? cfg.topicPartitions;
  const dist = await fetchKafka(cfg.kafkaVersion);
  const broker = new KafkaBroker(dist, {
    dir: path.join(dataDir, 'kafka'),
    port: opts.port,
    controllerPort: opts.controllerPort,
    heap: opts.heap ?? cfg.kafkaHeap,
    defaultPartitions: partitions,
    startTimeoutMs: (opts.startTimeoutS ?? cfg.startTimeoutS) * 1000,
    log,
    security: opts.security ?? localSecurity(cfg),
  });
  installSignalHandlers(log);
  await broker.start();
  if (opts.createTopics ?? true) {
    try {
      await ensureTopics(broker.brokers, { prefix: opts.topicPrefix ?? cfg.topicPrefix, partitions, replication: 1, log, kafka: broker.adminClient() });
    } catch (err) {
      await broker.stop();
      throw err;
    }
  }
  return broker;
}

export interface StartElasticsearchOptions {
  dataDir: string;
  port: number;
  transportPort: number;
  fresh?: boolean;
  heap?: string;
  /** path.repo of the node (default `<dataDir>/elasticsearch/snapshots`). */
  repoDir?: string;
  startTimeoutS?: number;
  log?: (msg: string) => void;
  config?: Config;
}

/**
 * A node of its own, without Kafka: for tests that need a node set up differently from the shared
 * one (path.repo for snapshots) or that stop and restart it. Index templates are not installed.
 */
export async function startElasticsearch(opts: StartElasticsearchOptions): Promise<ElasticsearchNode> {
  const cfg = opts.config ?? loadConfig();
  const log = opts.log ?? defaultLog;
  const dataDir = resolveDataDir(opts.dataDir);
  await assertPortsFree([
    { port: opts.port, what: 'Elasticsearch HTTP', setting: 'the port option' },
    { port: opts.transportPort, what: 'Elasticsearch transport', setting: 'the transportPort option' },
  ]);
  if (opts.fresh) rmSync(dataDir, { recursive: true, force: true });
  const dist = await fetchElasticsearch(cfg.esVersion);
  const node = new ElasticsearchNode(dist, {
    dir: path.join(dataDir, 'elasticsearch'),
    port: opts.port,
    transportPort: opts.transportPort,
    heap: opts.heap ?? cfg.esHeap,
    ...(opts.repoDir ? { repoDir: resolveDataDir(opts.repoDir) } : {}),
    startTimeoutMs: (opts.startTimeoutS ?? cfg.startTimeoutS) * 1000,
    log,
  });
  installSignalHandlers(log);
  await node.start();
  return node;
}
