/**
 * Global set-up of the integration project (vitest.config.ts): one real Kafka broker and one real
 * Elasticsearch node for the whole run, on ports of their own so tests can run while the demo
 * runs, in a data folder emptied at every run (.data/test). Tests get the addresses with
 * `inject('kafkaBrokers')` / `inject('esUrl')` (also in KAFKA_BROKERS / ES_URL for child processes).
 *
 * TEST_KAFKA_PORT (19092), TEST_KAFKA_CONTROLLER_PORT (19093), TEST_ES_PORT (19200),
 * TEST_ES_TRANSPORT_PORT (19300), TEST_DATA_DIR (.data/test) move them. To run against services
 * already running elsewhere, set TEST_KAFKA_BROKERS and TEST_ES_URL: nothing is started then.
 *
 * Both integration projects list this file and vitest runs it once per project, in its one main
 * process: the first call starts the services, the second shares them, the last teardown stops them.
 */
import type { TestProject } from 'vitest/node';
import { startServices } from '../infra/services.js';
import { ensureTopics } from '../infra/setup-topics.js';
import { installTemplates } from '../infra/setup-indices.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    esUrl: string;
    /** Topic prefix and index prefix the global set-up created topics and templates for. */
    topicPrefix: string;
    indexPrefix: string;
    partitions: number;
  }
}

const int = (name: string, def: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};

interface Services {
  kafkaBrokers: string[];
  esUrl: string;
  topicPrefix: string;
  indexPrefix: string;
  partitions: number;
  stop: () => Promise<void>;
}

async function start(): Promise<Services> {
  const topicPrefix = process.env.TEST_TOPIC_PREFIX ?? '';
  const indexPrefix = process.env.TEST_ES_INDEX_PREFIX ?? 'clickstream';
  const partitions = int('TEST_TOPIC_PARTITIONS', 3);
  if (process.env.TEST_KAFKA_BROKERS && process.env.TEST_ES_URL) {
    const kafkaBrokers = process.env.TEST_KAFKA_BROKERS.split(',').map((s) => s.trim()).filter(Boolean);
    const esUrl = process.env.TEST_ES_URL;
    await Promise.all([ensureTopics(kafkaBrokers, { prefix: topicPrefix, partitions }), installTemplates(esUrl, indexPrefix)]);
    return { kafkaBrokers, esUrl, topicPrefix, indexPrefix, partitions, stop: async () => {} };
  }
  const services = await startServices({
    dataDir: process.env.TEST_DATA_DIR ?? '.data/test',
    fresh: true,
    kafkaPort: int('TEST_KAFKA_PORT', 19092),
    controllerPort: int('TEST_KAFKA_CONTROLLER_PORT', 19093),
    esPort: int('TEST_ES_PORT', 19200),
    esTransportPort: int('TEST_ES_TRANSPORT_PORT', 19300),
    partitions,
    topicPrefix,
    indexPrefix,
  });
  return { kafkaBrokers: services.kafkaBrokers, esUrl: services.esUrl, topicPrefix, indexPrefix, partitions, stop: () => services.stop() };
}

const SHARED = Symbol.for('clickstream.test-services');
type Shared = { services: Promise<Services>; users: number };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as { [SHARED]?: Shared };
  const shared = (g[SHARED] ??= { services: start(), users: 0 });
  shared.users++;
  const services = await shared.services;
  project.provide('kafkaBrokers', services.kafkaBrokers);
  project.provide('esUrl', services.esUrl);
  project.provide('topicPrefix', services.topicPrefix);
  project.provide('indexPrefix', services.indexPrefix);
  project.provide('partitions', services.partitions);
  process.env.KAFKA_BROKERS = services.kafkaBrokers.join(',');
  process.env.ES_URL = services.esUrl;
  return async () => {
    if (--shared.users > 0) return;
    delete g[SHARED];
    await services.stop();
  };
}
