/**
 * Whatever Elasticsearch refuses, in any sink, ends on the dead-letter topic with a PR_ERR_*
 * code, the document and (for raw events) the Kafka record's bytes, and is counted in
 * `processor_dead_lettered_total`; nothing is silently dropped and the processor moves on.
 * Real Kafka and Elasticsearch (the global set-up's), an in-process processor.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../contracts/config.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import { indexNames } from '../contracts/indices.js';
import { DEAD_LETTER_TOPIC, topicFor } from '../contracts/topics.js';
import { esFromConfig } from '../common/es-client.js';
import { readTopic, waitFor } from '../test/integration/helpers.js';
import { startProcessor } from './main.js';
import { isolatedConfig, produce } from '../test/harness/it-harness.js';
import { enriched } from '../test/harness/traffic.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');

let es: Client;
let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;

beforeAll(() => {
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
});
afterAll(async () => {
  await processor?.stop();
  await es?.close();
});

async function deadLettered(metrics: Awaited<ReturnType<typeof startProcessor>>['metrics']): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.deadLettered.get()).values) out[String(v.labels.code)] = v.value;
  return out;
}

test('documents Elasticsearch refuses in the raw-event and KPI sinks are dead-lettered with a code, the document and the bytes, and counted', async () => {
  const cfg: Partial<Config> = await isolatedConfig(brokers, esUrl, 1, { archiveBackend: 'none', kpiSlidingSizeS: 0 });
  const names = indexNames(cfg.esIndexPrefix!);
  // A KPI index whose mapping conflicts with the documents (dimension_value as a number):
  // Elasticsearch refuses every KPI document cut by a non-numeric dimension value.
  await es.indices.create({ index: names.kpis, mappings: { properties: { dimension_value: { type: 'long' } } } });

  const now = Date.now();
  const at = (i: number) => new Date(now - 60_000 + i * 10).toISOString();
  const good = Array.from({ length: 20 }, (_, i) =>
    enriched({ event_id: `good-${i}`, event_type: 'page_view', timestamp: at(i), visitor_id: 'v1', session_id: 's1', url: 'https://shop.example/', site_id: 'shop', country: 'FR' }),
  );
  // What the gateway wrote for ts at year 10000 before event times were bounded.
  const farFuture = { ...enriched({ event_id: 'bad-year', event_type: 'page_view', timestamp: at(30), visitor_id: 'v1', session_id: 's1', url: 'https://shop.example/' }), client_ts: '+010000-01-01T00:00:00.000Z' };
  // A mapping conflict: price is a double.
  const conflict = { ...enriched({ event_id: 'bad-price', event_type: 'add_to_cart', timestamp: at(31), visitor_id: 'v1', session_id: 's1', url: 'https://shop.example/' }), price: 'twelve' } as never;
  await produce(brokers, cfg.topicPrefix!, [...good.slice(0, 10), farFuture, ...good.slice(10), conflict]);
  // Not an enriched event at all.
  const kafka = new Kafka({ clientId: 'it-garbage', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: topicFor('click', cfg.topicPrefix), acks: -1, messages: [{ key: 'v1', value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }] });
  await producer.disconnect();

  processor = await startProcessor(cfg);
  const metrics = processor.metrics;

  // Every raw event is either indexed or dead-lettered: 20 + 3 = 23 records in.
  await waitFor(async () => {
    await es.indices.refresh({ index: names.eventsPattern, allow_no_indices: true, ignore_unavailable: true });
    const { count } = await es.count({ index: names.eventsPattern, allow_no_indices: true, ignore_unavailable: true });
    const m = await deadLettered(metrics);
    return count === 20 && m.PR_ERR_ES_EVENT_REJECTED === 2 && m.PR_ERR_UNREADABLE === 1 && (m.PR_ERR_ES_KPI_REJECTED ?? 0) > 0;
  }, 'good events indexed and refused ones dead-lettered', 90_000);

  const m = await deadLettered(metrics);
  const total = Object.values(m).reduce((a, b) => a + b, 0);
  const letters = (await readTopic(brokers, cfg.topicPrefix + DEAD_LETTER_TOPIC, total, 30_000)).map((r) => JSON.parse(r.value) as DeadLetter);
  // The topic holds what the metric counted, by code.
  const byCode: Record<string, number> = {};
  for (const d of letters) byCode[d.code] = (byCode[d.code] ?? 0) + 1;
  expect(letters.length).toBeGreaterThanOrEqual(total);
  expect(byCode.PR_ERR_ES_EVENT_REJECTED).toBe(2);
  expect(byCode.PR_ERR_UNREADABLE).toBe(1);
  expect(byCode.PR_ERR_ES_KPI_REJECTED).toBeGreaterThanOrEqual(m.PR_ERR_ES_KPI_REJECTED);

  const year = letters.find((d) => d.code === 'PR_ERR_ES_EVENT_REJECTED' && JSON.parse(d.raw).event_id === 'bad-year')!;
  expect(year.source).toBe('processor');
  expect(year.reason).toMatch(/client_ts/);
  expect(JSON.parse(year.received!)).toEqual(farFuture);
  expect(year.received_encoding).toBe('utf8');
  expect(year.origin).toMatchObject({ topic: topicFor('page_view', cfg.topicPrefix), partition: 0 });
  const price = letters.find((d) => d.code === 'PR_ERR_ES_EVENT_REJECTED' && JSON.parse(d.raw).event_id === 'bad-price')!;
  expect(price.reason).toMatch(/price/);
  expect(JSON.parse(price.raw).price).toBe('twelve');

  const garbage = letters.find((d) => d.code === 'PR_ERR_UNREADABLE')!;
  expect(garbage.received_encoding).toBe('base64');
  expect(Buffer.from(garbage.received!, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  expect(garbage.origin).toMatchObject({ topic: topicFor('click', cfg.topicPrefix), partition: 0, offset: '0' });

  const kpi = letters.find((d) => d.code === 'PR_ERR_ES_KPI_REJECTED')!;
  expect(kpi.reason).toMatch(/dimension_value/);
  expect(JSON.parse(kpi.raw)).toMatchObject({ window_kind: expect.any(String), dimension: expect.any(String) });

  // The refusals held nothing back: every event's offset got committed.
  expect((await metrics.flushErrors.get()).values[0]?.value ?? 0).toBe(0);
});
