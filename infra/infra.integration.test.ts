/**
 * infra against the real Kafka broker and Elasticsearch node of the global set-up, plus a broker
 * of its own for stop / crash / restart.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { eventMappings, indexNames, indexTemplates, kpiMappings, urlStatsMappings } from '../contracts/indices.js';
import { ALL_TOPICS } from '../contracts/topics.js';
import { loadConfig } from '../common/config.js';
import { freePort } from './ports.js';
import { startKafka } from './services.js';
import { installTemplates } from './setup-indices.js';
import { ensureTopics } from './setup-topics.js';
import type { KafkaBroker } from './kafka.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const topicPrefix = inject('topicPrefix');
const indexPrefix = inject('indexPrefix');
const partitions = inject('partitions');

const id = () => randomBytes(4).toString('hex');
const kafka = new Kafka({ clientId: 'infra-test', brokers, logLevel: logLevel.NOTHING });
const es = new Client({ node: esUrl });

afterAll(async () => {
  await es.close();
});

async function partitionCounts(admin: ReturnType<Kafka['admin']>, topics: string[]): Promise<Record<string, number>> {
  const meta = await admin.fetchTopicMetadata({ topics });
  return Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
}

describe('Kafka topics', () => {
  test('the global set-up created every topic with the configured partition count', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const names = ALL_TOPICS.map((t) => topicPrefix + t);
      expect(names).toEqual(expect.arrayContaining([`${topicPrefix}page_views`, `${topicPrefix}clicks`, `${topicPrefix}add_to_cart`, `${topicPrefix}purchases`]));
      const counts = await partitionCounts(admin, names);
      expect(counts).toEqual(Object.fromEntries(names.map((n) => [n, partitions])));
    } finally {
      await admin.disconnect();
    }
  });

  test('ensureTopics creates a prefixed set once, and a second run changes nothing', async () => {
    const prefix = `t${id()}_`;
    const first = await ensureTopics(brokers, { prefix, partitions: 2 });
    expect(first.created.sort()).toEqual(ALL_TOPICS.map((t) => prefix + t).sort());
    expect(first.topics.every((t) => t.partitions === 2)).toBe(true);

    const second = await ensureTopics(brokers, { prefix, partitions: 5 });
    expect(second.created).toEqual([]);
    // An existing topic keeps its partitions: adding some would move visitors between partitions.
    expect(second.topics.map((t) => t.partitions)).toEqual(ALL_TOPICS.map(() => 2));

    // Racing callers are fine too.
    const prefix2 = `t${id()}_`;
    const raced = await Promise.all([ensureTopics(brokers, { prefix: prefix2, partitions: 1 }), ensureTopics(brokers, { prefix: prefix2, partitions: 1 })]);
    expect(raced[0].topics.length).toBe(ALL_TOPICS.length);
    expect(raced[1].topics.map((t) => t.partitions)).toEqual(ALL_TOPICS.map(() => 1));
  });

  test('a message produced with acks=all is consumed back, key and value intact', async () => {
    const prefix = `t${id()}_`;
    const [topic] = (await ensureTopics(brokers, { prefix, partitions: 3, topics: ['page_views'] })).topics.map((t) => t.topic);
    const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    const value = JSON.stringify({ event_id: id(), n: 42 });
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'visitor-1', value }] });
    await producer.disconnect();
    expect(meta.errorCode).toBe(0);

    const consumer = kafka.consumer({ groupId: `g${id()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = await new Promise<{ key: string; value: string; partition: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          clearTimeout(timer);
          resolve({ key: message.key!.toString(), value: message.value!.toString(), partition });
        },
      });
    });
    await consumer.disconnect();
    expect(got).toEqual({ key: 'visitor-1', value, partition: meta.partition });
  });
});

describe('Elasticsearch templates', () => {
  test('the global set-up installed every template with the explicit mappings', async () => {
    const names = Object.keys(indexTemplates(indexPrefix));
    const res = await es.indices.getIndexTemplate({ name: `${indexPrefix}-*` });
    const byName = Object.fromEntries(res.index_templates.map((t) => [t.name, t.index_template]));
    for (const name of names) expect(byName[name], name).toBeDefined();
    const events = byName[`${indexPrefix}-events`];
    expect(events.index_patterns).toEqual([indexNames(indexPrefix).eventsPattern]);
    expect(events.template?.mappings?.dynamic).toBe('strict');
    expect(events.template?.mappings?.properties).toEqual(JSON.parse(JSON.stringify(eventMappings.properties)));
  });

  test('an event indexed into a daily index gets the template mapping and is returned by search', async () => {
    const prefix = `cs${id()}`;
    expect(await installTemplates(esUrl, prefix)).toHaveLength(Object.keys(indexTemplates(prefix)).length);
    const index = `${prefix}-events-2026.11.22`;
    const doc = { event_id: `e${id()}`, event_type: 'page_view', visitor_id: 'v1', timestamp: '2026-11-22T10:00:00.000Z', url: 'https://shop.example/p/1', location: '52.52,13.40', items: [{ product_id: 'p1', price: 1, quantity: 2 }] };
    await es.index({ index, id: doc.event_id, document: doc, refresh: 'wait_for' });

    const mapping = await es.indices.getMapping({ index });
    const props = mapping[index].mappings.properties!;
    expect(props.visitor_id).toMatchObject({ type: 'keyword' });
    expect(props.location).toMatchObject({ type: 'geo_point' });
    expect(props.timestamp).toMatchObject({ type: 'date' });

    const found = await es.search({ index: `${prefix}-events-*`, query: { term: { visitor_id: 'v1' } } });
    expect(found.hits.hits.map((h) => h._source)).toEqual([doc]);
    // One node: no replica, so the index is green.
    const health = await es.cluster.health({ index, wait_for_status: 'green', timeout: '10s' });
    expect(health.status).toBe('green');

    // dynamic: strict refuses fields the contract does not know.
    await expect(es.index({ index, document: { ...doc, event_id: 'x', surprise: 1 } })).rejects.toThrow(/strict_dynamic_mapping_exception/);
  });

  test('the KPI index is refreshed every ES_KPI_REFRESH_INTERVAL_MS with the translog of ES_KPI_TRANSLOG_DURABILITY, set from its template and put back on an existing index by a new install', async () => {
    const prefix = `cs${id()}`;
    await installTemplates(esUrl, prefix);
    const { kpis, sessions } = indexNames(prefix);
    await es.indices.create({ index: kpis });
    await es.indices.create({ index: sessions });
    const interval = async (index: string) => (await es.indices.getSettings({ index, flat_settings: true }))[index].settings?.['index.refresh_interval'];
    expect(await interval(kpis)).toBe(`${loadConfig().esKpiRefreshIntervalMs}ms`);
    // The other indices keep Elasticsearch's default.
    expect(await interval(sessions)).toBeUndefined();
    await es.indices.putSettings({ index: kpis, settings: { 'index.refresh_interval': '5s' } });
    await installTemplates(esUrl, prefix);
    expect(await interval(kpis)).toBe(`${loadConfig().esKpiRefreshIntervalMs}ms`);
    // Its translog durability (ES_KPI_TRANSLOG_DURABILITY) too; the other indices keep `request`.
    const durability = async (index: string) => (await es.indices.getSettings({ index, flat_settings: true }))[index].settings?.['index.translog.durability'];
    expect(await durability(kpis)).toBe(loadConfig().esKpiTranslogDurability);
    expect(await durability(sessions)).toBeUndefined();
    const other = loadConfig().esKpiTranslogDurability === 'async' ? 'request' : 'async';
    const saved = process.env.ES_KPI_TRANSLOG_DURABILITY;
    process.env.ES_KPI_TRANSLOG_DURABILITY = other;
    try {
      await installTemplates(esUrl, prefix);
    } finally {
      if (saved === undefined) delete process.env.ES_KPI_TRANSLOG_DURABILITY;
      else process.env.ES_KPI_TRANSLOG_DURABILITY = saved;
    }
    expect(await durability(kpis)).toBe(other);
    await es.indices.delete({ index: `${prefix}-*` });
  });

  test('indices of an older version get the fields added since (URL stats without revenue_by_currency); a changed type is refused with what to do', async () => {
    const prefix = `cs${id()}`;
    const n = indexNames(prefix);
    try {
      // The URL-stats index as an older version created it: strict, no revenue_by_currency.
      const { revenue_by_currency: _added, ...older } = urlStatsMappings.properties as Record<string, unknown>;
      await es.indices.create({ index: n.urlStats, mappings: { dynamic: 'strict', properties: older as never } });
      const doc = { window_start: '2026-11-22T10:00:00.000Z', window_end: '2026-11-22T10:01:00.000Z', url: 'https://shop.example/checkout', country: 'FR', site_id: 'shop', partition: 0, unique_users: 1, page_views: 1, clicks: 0, time_spent_ms: 0, time_spent_samples: 0, views_without_time: 1, avg_time_spent_ms: null, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 24.5 }], final: true };
      await expect(es.index({ index: n.urlStats, id: 'u1', document: doc })).rejects.toThrow(/strict_dynamic_mapping_exception/);
      await installTemplates(esUrl, prefix);
      await es.index({ index: n.urlStats, id: 'u1', document: doc, refresh: 'wait_for' });
      const props = (await es.indices.getMapping({ index: n.urlStats }))[n.urlStats].mappings.properties!;
      expect(props.revenue_by_currency).toMatchObject({ type: 'nested' });
      expect((await es.get({ index: n.urlStats, id: 'u1' }))._source).toEqual(doc);

      // A KPI index whose revenue_by_currency is a number: cannot be extended, the error says so.
      const kpiProps = { ...(kpiMappings.properties as Record<string, unknown>), revenue_by_currency: { type: 'double' } };
      await es.indices.create({ index: n.kpis, mappings: { dynamic: 'strict', properties: kpiProps as never } });
      await expect(installTemplates(esUrl, prefix)).rejects.toThrow(new RegExp(`${n.kpis.replace(/[.*]/g, '\\$&')}.*reindex it`));
    } finally {
      await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
    }
  });

  test('installing the templates twice is fine', async () => {
    const prefix = `cs${id()}`;
    const a = await installTemplates(esUrl, prefix);
    const b = await installTemplates(esUrl, prefix);
    expect(b).toEqual(a);
  });
});

describe('a broker of its own: stop, crash, restart on the same data', () => {
  let broker: KafkaBroker | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  test('messages survive a clean stop and a SIGKILL', async () => {
    // Free ports, not the shared broker's plus an offset: with the shared ports in Linux's ephemeral
    // range, a client connection's local port can hold that offset (seen in a run on 39092).
    broker = await startKafka({ dataDir: '.data/test-own-broker', fresh: true, port: await freePort(), controllerPort: await freePort(), partitions: 1, topicPrefix: 'own_', log: () => {} });
    const own = new Kafka({ clientId: 'infra-test-own', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const send = async (value: string) => {
      const p = own.producer({ allowAutoTopicCreation: false });
      await p.connect();
      await p.send({ topic: 'own_clicks', acks: -1, messages: [{ key: 'k', value }] });
      await p.disconnect();
    };
    const offsets = async () => {
      const admin = own.admin();
      await admin.connect();
      try {
        return (await admin.fetchTopicOffsets('own_clicks'))[0];
      } finally {
        await admin.disconnect();
      }
    };

    await send('one');
    await broker.stop();
    expect(broker.running).toBe(false);
    await broker.start();
    await send('two');
    await broker.kill();
    expect(broker.running).toBe(false);
    await broker.start();
    expect(broker.running).toBe(true);
    expect(await offsets()).toMatchObject({ partition: 0, low: '0', high: '2' });
  });
});
