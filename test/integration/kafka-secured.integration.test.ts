/**
 * Kafka with TLS and SASL/SCRAM, on a broker of this test's own (KafkaBroker with `security`,
 * as `KAFKA_LOCAL_SECURE=true` starts it): clients without TLS, without credentials or with a
 * wrong password are refused; with KAFKA_SSL / KAFKA_SSL_CA_FILE / KAFKA_SASL_*, infra creates the
 * topics, the gateway (both of its Kafka clients) produces, and the processor consumes into
 * Elasticsearch.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { pino } from 'pino';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { buildApp } from '../../gateway/app.js';
import { kafkaFromConfig } from '../../common/kafka-client.js';
import { esFromConfig } from '../../common/es-client.js';
import { parseConfig } from '../../contracts/config.js';
import { startKafka } from '../../infra/services.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { PROJECT_ROOT } from '../../infra/paths.js';
import { freePort } from '../../infra/ports.js';
import type { KafkaBroker } from '../../infra/kafka.js';
import { startProcessor } from '../../processor/main.js';
import { addToCart, pageView, purchase, UA } from '../unit/fixtures.js';
import { esCount, unique, waitFor } from './helpers.js';


const USER = 'pipeline';
const PASSWORD = 'p1pe-line-secret';
const dir = path.join(PROJECT_ROOT, '.data', unique('kafka-secured'));
const topicPrefix = `${unique('sec')}_`;
const indexPrefix = `${inject('indexPrefix')}-${unique('sec').toLowerCase()}`;
let broker: KafkaBroker;
let es: Client;

beforeAll(async () => {
  broker = await startKafka({
    dataDir: dir,
    fresh: true,
    port: await freePort(),
    controllerPort: await freePort(),
    heap: '384m',
    partitions: 3,
    createTopics: false,
    security: { username: USER, password: PASSWORD, topicPrefix },
    log: (m) => console.log(`[secured broker] ${m}`),
  });
  es = esFromConfig({ esUrl: inject('esUrl'), esUsername: '', esPassword: '', esApiKey: '' });
  await installTemplates('', indexPrefix, { client: es });
}, 300_000);

afterAll(async () => {
  await es?.indices.delete({ index: `${indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await es?.close();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Lists topics with a kafkajs client configured by `extra`; resolves with the error text if refused. */
async function tryListTopics(extra: Partial<KafkaConfig>): Promise<string> {
  const admin = new Kafka({ clientId: 'sec-test', brokers: broker.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 2_000, requestTimeout: 4_000, retry: { retries: 0 }, ...extra }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return 'accepted';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

test('clients without TLS, without credentials or with a wrong password are refused', async () => {
  const ca = [(await import('node:fs')).readFileSync(broker.caFile!)];
  expect(await tryListTopics({})).not.toBe('accepted');
  expect(await tryListTopics({ ssl: { ca } })).not.toBe('accepted');
  expect(await tryListTopics({ ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: USER, password: 'wrong' } })).toMatch(/SASL SCRAM SHA512 authentication failed/i);
  expect(await tryListTopics({ ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: 'nobody', password: PASSWORD } })).toMatch(/authentication failed/i);
  // Without the CA the self-signed certificate is not trusted.
  expect(await tryListTopics({ ssl: true, sasl: { mechanism: 'scram-sha-512', username: USER, password: PASSWORD } })).toMatch(/certificate/i);
  // The same user, the right password, either SCRAM mechanism: accepted.
  expect(await tryListTopics({ ssl: { ca }, sasl: { mechanism: 'scram-sha-256', username: USER, password: PASSWORD } })).toBe('accepted');
  // Access control: a topic outside the user's prefix is invisible and closed to it.
  const admin = broker.adminClient('sec-admin').admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `other-${topicPrefix}secret`, numPartitions: 1 }] });
  await admin.disconnect();
  const user = new Kafka({ clientId: 'sec-user', brokers: broker.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 }, ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: USER, password: PASSWORD } });
  const userAdmin = user.admin();
  await userAdmin.connect();
  expect(await userAdmin.listTopics()).not.toContain(`other-${topicPrefix}secret`);
  await userAdmin.disconnect();
  const producer = user.producer();
  await producer.connect();
  await expect(producer.send({ topic: `other-${topicPrefix}secret`, acks: -1, messages: [{ value: 'x' }] })).rejects.toThrow(/authoriz/i);
  await producer.disconnect();
  // A misconfigured client is told which setting is wrong.
  expect(() => kafkaFromConfig({ ...parseConfig({}), kafkaSslCaFile: '/nonexistent/ca.pem', kafkaSsl: true }, 'x')).toThrow('KAFKA_SSL_CA_FILE /nonexistent/ca.pem cannot be read');
});

test('with KAFKA_SSL, KAFKA_SSL_CA_FILE and KAFKA_SASL_*: topics created, gateway -> Kafka -> processor -> Elasticsearch', async () => {
  const secured = broker.clientConfig;
  expect(secured).toMatchObject({ kafkaSsl: true, kafkaSaslMechanism: 'scram-sha-512', kafkaSaslUsername: USER });
  // infra setup as the pipeline's user, through the same client factory as every part.
  const topics = await ensureTopics(broker.brokers, { prefix: topicPrefix, partitions: 3, kafka: kafkaFromConfig({ ...parseConfig({}), ...secured }, 'infra') });
  expect(topics.created.length).toBeGreaterThanOrEqual(4);

  const sent: string[] = [];
  for (const client of ['platformatic', 'kafkajs']) {
    const app = await buildApp({
      logger: pino({ level: 'error' }),
      config: { ...secured, topicPrefix, gatewayKafkaClient: client, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0 },
    });
    try {
      await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, `gateway (${client}) ready`, 60_000);
      for (let i = 0; i < 3; i++) {
        const events = [pageView(), pageView(), addToCart(), purchase()];
        const res = await app.inject({
          method: 'POST',
          url: '/v1/events?site=secured',
          headers: { 'content-type': 'application/json', 'user-agent': UA.windowsChrome },
          payload: { sent_at: Date.now(), events },
        });
        expect(res.statusCode, res.body).toBe(200);
        sent.push(...events.map((e) => e.event_id));
      }
    } finally {
      await app.close();
    }
  }

  const processor = await startProcessor({
    ...secured,
    topicPrefix,
    esUrl: inject('esUrl'),
    esIndexPrefix: indexPrefix,
    processorGroupId: unique('sec-group'),
    processorMetricsPort: 0,
    archiveBackend: 'none',
    processorRoles: ['index'],
    esRetentionIntervalS: 0,
    esSnapshotIntervalS: 0,
    logLevel: 'warn',
  });
  try {
    await waitFor(async () => (await esCount(es, `${indexPrefix}-events-*`)) === sent.length, 'every event in Elasticsearch', 90_000);
    const r = await es.search<{ event_id: string }>({ index: `${indexPrefix}-events-*`, size: 100, _source: ['event_id'] });
    expect(r.hits.hits.map((h) => h._source!.event_id).sort()).toEqual([...sent].sort());
  } finally {
    await processor.stop();
  }
}, 240_000);
