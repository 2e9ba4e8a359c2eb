import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import path from 'node:path';
import { type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { ALL_TOPICS } from '../contracts/topics.js';
import { ElasticsearchNode } from './elasticsearch.js';
import { fetchAll, fetchElasticsearch, fetchKafka } from './fetch.js';
import { liveProcesses } from './jvm-process.js';
import { KafkaBroker, newClusterId, type KafkaSecurity, type KafkaTuning } from './kafka.js';
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
  /** Nodes of the local Kafka cluster (KAFKA_NODES). */
  kafkaNodes?: number;
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
  /** TLS and SASL/SCRAM only (default: KAFKA_LOCAL_SECURE of the config, the user limited to topicPrefix). */
  security?: KafkaSecurity;
}

export interface RunningServices {
  /** Bootstrap servers of the local broker: ['127.0.0.1:9092']. */
  kafkaBrokers: string[];
  /** Every node of the local cluster (KAFKA_NODES); `kafka` is the first. */
  kafkaNodes: KafkaBroker[];
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
  const nodeCount = opts.kafkaNodes ?? cfg.kafkaNodes;
  if (nodeCount < 1) throw new Error('KAFKA_NODES must be 1 or more');
  const security = opts.security ?? localSecurity(cfg, topicPrefix);
  // Node i (from 0) listens on KAFKA_PORT + 2i and KAFKA_CONTROLLER_PORT + 2i.
  const nodePorts = Array.from({ length: nodeCount }, (_, i) => ({ port: ports.kafka + 2 * i, controllerPort: ports.controller + 2 * i }));
  if (nodeCount > 1) {
    await assertPortsFree(nodePorts.slice(1).flatMap((p, i) => [
      { port: p.port, what: `Kafka node ${i + 2}`, setting: 'KAFKA_PORT (node i uses KAFKA_PORT + 2i)' },
      { port: p.controllerPort, what: `Kafka controller ${i + 2}`, setting: 'KAFKA_CONTROLLER_PORT (node i uses it + 2i)' },
    ]));
  }
  const kafkaNodes = kafkaNodesFor(dists.kafka, { dataDir, ports: nodePorts, heap: opts.kafkaHeap ?? cfg.kafkaHeap, partitions, startTimeoutMs, log, security });
  const kafka = kafkaNodes[0];
  const kafkaBrokers = kafkaNodes.flatMap((n) => n.brokers);
  const elasticsearch = new ElasticsearchNode(dists.elasticsearch, {
    dir: path.join(dataDir, 'elasticsearch'),
    port: ports.es,
    transportPort: ports.esTransport,
    heap: opts.esHeap ?? cfg.esHeap,
    writeThreads: cfg.esWriteThreads,
    refreshThreads: cfg.esRefreshThreads,
    ...(cfg.esSnapshotDir ? { repoDir: resolveDataDir(cfg.esSnapshotDir) } : {}),
    startTimeoutMs,
    log,
  });
  installSignalHandlers(log);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const t = Date.now();
      await Promise.all([...kafkaNodes.map((n) => n.stop()), elasticsearch.stop()]);
      log(`kafka and elasticsearch stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    })().finally(() => {
      stopping = undefined;
    }));
  const started = await Promise.allSettled([...kafkaNodes.map((n) => n.start()), elasticsearch.start()]);
  const failed = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await stop();
    throw failed.length === 1 ? failed[0].reason : new AggregateError(failed.map((f) => f.reason), failed.map((f) => String(f.reason?.message ?? f.reason)).join('\n\n'));
  }

  const esClient = new Client({ node: elasticsearch.url });
  try {
    const [topics, templates] = await Promise.all([
      ensureTopics(kafkaBrokers, { prefix: topicPrefix, partitions, replication: Math.min(3, nodeCount), topics: ALL_TOPICS, log, kafka: kafka.adminClient('infra', { brokers: kafkaBrokers }) }),
      installTemplates(elasticsearch.url, indexPrefix, { replicas: 0, log, client: esClient }).finally(() => esClient.close()),
    ]);
    log(`services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (data in ${dataDir})`);
    return {
      kafkaBrokers,
      kafkaClient: { ...kafka.clientConfig, kafkaBrokers },
      kafkaNodes,
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
export function localSecurity(cfg: Pick<Config, 'kafkaLocalSecure' | 'kafkaSaslUsername' | 'kafkaSaslPassword'>, topicPrefix = ''): KafkaSecurity | undefined {
  if (!cfg.kafkaLocalSecure) return undefined;
  if (!cfg.kafkaSaslPassword) throw new Error('KAFKA_LOCAL_SECURE=true needs KAFKA_SASL_PASSWORD (the password of the SCRAM user KAFKA_SASL_USERNAME the broker is formatted with)');
  return { username: cfg.kafkaSaslUsername || 'clickstream', password: cfg.kafkaSaslPassword, topicPrefix };
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

/** What a service started on its own (outside startServices) takes. */
interface OwnServiceOptions {
  /** Where its data and logs go; relative paths are from the project root. */
  dataDir: string;
  /** Delete dataDir first. */
  fresh?: boolean;
  heap?: string;
  startTimeoutS?: number;
  log?: (msg: string) => void;
  /** Settings not given here; read from the environment by default. */
  config?: Config;
}

export interface StartKafkaClusterOptions extends OwnServiceOptions {
  /** One client port and one controller port per node (three nodes: three of each). */
  ports: { port: number; controllerPort: number }[];
  partitions?: number;
  topicPrefix?: string;
  /** Create the pipeline's topics (replication min(3, nodes), min.insync.replicas 2 from three nodes on) once every node is up (default true). */
  createTopics?: boolean;
  /** TLS and SASL/SCRAM only; one node only (default: none). */
  security?: KafkaSecurity;
  /** Broker properties and JVM flags over infra's own (benches comparing broker settings). */
  tuning?: KafkaTuning;
}

export interface StartKafkaOptions extends Omit<StartKafkaClusterOptions, 'ports'> {
  port: number;
  controllerPort: number;
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
  const security = opts.security ?? localSecurity(cfg, opts.topicPrefix ?? cfg.topicPrefix);
  const { nodes } = await startKafkaCluster({ ...opts, config: cfg, security, ports: [{ port: opts.port, controllerPort: opts.controllerPort }] });
  return nodes[0];
}

export interface StartElasticsearchOptions extends OwnServiceOptions {
  port: number;
  transportPort: number;
  /** path.repo of the node (default `<dataDir>/elasticsearch/snapshots`). */
  repoDir?: string;
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
    writeThreads: cfg.esWriteThreads,
    refreshThreads: cfg.esRefreshThreads,
    ...(opts.repoDir ? { repoDir: resolveDataDir(opts.repoDir) } : {}),
    startTimeoutMs: (opts.startTimeoutS ?? cfg.startTimeoutS) * 1000,
    log,
  });
  installSignalHandlers(log);
  await node.start();
  return node;
}

export interface KafkaCluster {
  nodes: KafkaBroker[];
  /** Every node's address: clients bootstrap from any of them. */
  brokers: string[];
  /** Stops every node still running. */
  stop(): Promise<void>;
}

/**
 * A local KRaft cluster of several nodes (KAFKA_NODES), each broker and controller in one JVM,
 * in parallel: a quorum of controllers is needed before any node is healthy. Topics get
 * replication min(3, nodes) and min.insync.replicas 2 from three nodes on, so one node may die
 * without losing an acknowledged (acks=all) write or refusing one.
 */
export async function startKafkaCluster(opts: StartKafkaClusterOptions): Promise<KafkaCluster> {
  const cfg = opts.config ?? loadConfig();
  const log = opts.log ?? defaultLog;
  const dataDir = resolveDataDir(opts.dataDir);
  const one = opts.ports.length === 1;
  await assertPortsFree(opts.ports.flatMap((p, i) => [
    { port: p.port, what: one ? 'Kafka' : `Kafka node ${i + 1}`, setting: 'the ports option' },
    { port: p.controllerPort, what: one ? 'Kafka controller' : `Kafka controller ${i + 1}`, setting: 'the ports option' },
  ]));
  if (opts.fresh) rmSync(dataDir, { recursive: true, force: true });
  const partitions = opts.partitions ?? cfg.topicPartitions;
  const dist = await fetchKafka(cfg.kafkaVersion);
  const nodes = kafkaNodesFor(dist, { dataDir, ports: opts.ports, heap: opts.heap ?? cfg.kafkaHeap, partitions, startTimeoutMs: (opts.startTimeoutS ?? cfg.startTimeoutS) * 1000, log, security: opts.security, tuning: opts.tuning });
  installSignalHandlers(log);
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  const started = await Promise.allSettled(nodes.map((n) => n.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const brokers = nodes.flatMap((n) => n.brokers);
  if (opts.createTopics ?? true) {
    try {
      await ensureTopics(brokers, { prefix: opts.topicPrefix ?? cfg.topicPrefix, partitions, replication: Math.min(3, nodes.length), log, kafka: nodes[0].adminClient('infra', { brokers }) });
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return { nodes, brokers, stop };
}

/** The KafkaBroker of each node: one plain broker, or a KRaft cluster sharing a quorum and cluster id. */
function kafkaNodesFor(
  dist: Awaited<ReturnType<typeof fetchKafka>>,
  o: { dataDir: string; ports: { port: number; controllerPort: number }[]; heap: string; partitions: number; startTimeoutMs: number; log: (msg: string) => void; security?: KafkaSecurity; tuning?: KafkaTuning },
): KafkaBroker[] {
  const n = o.ports.length;
  if (o.security && n > 1) throw new Error('KAFKA_LOCAL_SECURE works with one local node only (KAFKA_NODES=1)');
  const quorumVoters = o.ports.map((p, i) => `${i + 1}@127.0.0.1:${p.controllerPort}`).join(',');
  const clusterId = n > 1 ? clusterIdFor(o.dataDir) : '';
  return o.ports.map(
    (p, i) =>
      new KafkaBroker(dist, {
        dir: path.join(o.dataDir, n > 1 ? `kafka-${i + 1}` : 'kafka'),
        port: p.port,
        controllerPort: p.controllerPort,
        heap: o.heap,
        defaultPartitions: o.partitions,
        startTimeoutMs: o.startTimeoutMs,
        log: o.log,
        security: o.security,
        tuning: o.tuning,
        ...(n > 1 ? { cluster: { nodeId: i + 1, quorumVoters, clusterId, size: n } } : {}),
      }),
  );
}

/** The cluster id every node of a data folder is formatted with, made once and kept beside them. */
function clusterIdFor(dataDir: string): string {
  const file = path.join(dataDir, 'cluster-id');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, newClusterId());
  }
  return readFileSync(file, 'utf8').trim();
}
