/**
 * Global set-up of the integration project (vitest.config.ts): one real Kafka broker and one real
 * Elasticsearch node for the whole run, on ports of their own so tests can run while the demo
 * runs, in a data folder emptied at every run (.data/test). Tests get the addresses with
 * `inject('kafkaBrokers')` / `inject('esUrl')` (also in KAFKA_BROKERS / ES_URL for child processes).
 *
 * TEST_KAFKA_PORT (19092), TEST_KAFKA_CONTROLLER_PORT (19093), TEST_ES_PORT (19200),
 * TEST_ES_TRANSPORT_PORT (19300), TEST_DATA_DIR (.data/test) move them. To run against services
 * already running elsewhere, set TEST_KAFKA_BROKERS and TEST_ES_URL: nothing is started then.
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const topicPrefix = process.env.TEST_TOPIC_PREFIX ?? '';
  const indexPrefix = process.env.TEST_ES_INDEX_PREFIX ?? 'clickstream';
  const partitions = int('TEST_TOPIC_PARTITIONS', 3);
  let kafkaBrokers: string[];
  let esUrl: string;
  let teardown = async () => {};

  if (process.env.TEST_KAFKA_BROKERS && process.env.TEST_ES_URL) {
    kafkaBrokers = process.env.TEST_KAFKA_BROKERS.split(',').map((s) => s.trim()).filter(Boolean);
    esUrl = process.env.TEST_ES_URL;
    await Promise.all([ensureTopics(kafkaBrokers, { prefix: topicPrefix, partitions }), installTemplates(esUrl, indexPrefix)]);
  } else {
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
    kafkaBrokers = services.kafkaBrokers;
    esUrl = services.esUrl;
    teardown = () => services.stop();
  }

  project.provide('kafkaBrokers', kafkaBrokers);
  project.provide('esUrl', esUrl);
  project.provide('topicPrefix', topicPrefix);
  project.provide('indexPrefix', indexPrefix);
  project.provide('partitions', partitions);
  process.env.KAFKA_BROKERS = kafkaBrokers.join(',');
  process.env.ES_URL = esUrl;
  return teardown;
}
