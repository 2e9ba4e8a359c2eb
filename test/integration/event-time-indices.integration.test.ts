/**
 * No client input decides how many Elasticsearch indices exist: raw events are indexed by the
 * day the gateway received them, and event times outside the window around the receive time
 * are refused (dead-lettered) at the door. One request of 500 events dated on 500 different
 * days creates at most one index. Real gateway, Kafka, processor and Elasticsearch.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildApp } from '../../gateway/app.js';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import type { Config } from '../../contracts/config.js';
import type { DeadLetter } from '../../contracts/dead-letter.js';
import { eventIndexFor, indexNames } from '../../contracts/indices.js';
import { DEAD_LETTER_TOPIC } from '../../contracts/topics.js';
import { isolatedConfig } from '../harness/it-harness.js';
import { readTopic, waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const DAY = 86_400_000;

let cfg: Partial<Config>;
let app: FastifyInstance;
let es: Client;
let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;

beforeAll(async () => {
  cfg = await isolatedConfig(brokers, esUrl, 3, { archiveBackend: 'none', processorRoles: ['index'] });
  app = await buildApp({ config: { ...cfg, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0 }, logger: pino({ level: 'warn' }) });
  await waitFor(async () => (await app.inject('/readyz')).statusCode === 200, 'gateway ready', 30_000);
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  processor = await startProcessor(cfg);
});
afterAll(async () => {
  await processor?.stop();
  await app?.close();
  await es?.close();
});

const event = (i: number, ts: number) => ({ event_id: `evt-days-${i}-${ts}`, type: 'page_view', ts, visitor_id: `v${i % 13}`, session_id: `s${i % 13}`, url: 'https://shop.example/' });

test('500 events on 500 days (with and without sent_at): at most one new index; the out-of-window ones dead-lettered', async () => {
  const started = Date.now();
  const post = (body: unknown) =>
    app.inject({ method: 'POST', url: '/v1/events?site=days&results=1', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const plain = await post({ events: Array.from({ length: 500 }, (_, i) => event(i, started - i * DAY - 1000)) });
  const skewed = await post({ sent_at: started - 10 * 365 * DAY, events: Array.from({ length: 500 }, (_, i) => event(1000 + i, started - 10 * 365 * DAY + (i - 250) * DAY)) });
  const old = await post({ events: [1, 2, 3, 4, 5].map((d) => event(2000 + d, Date.UTC(1999, 0, d))) });
  const ended = Date.now();

  const results = [plain, skewed, old].flatMap((r) => (r.json() as { results: { status: string; code?: string }[] }).results);
  const accepted = results.filter((r) => r.status === 'accepted').length;
  const refused = results.filter((r) => r.status === 'rejected');
  // Inside the 30-day window: 30 of the plain batch, 30 of the skewed one (today's and the 29 days before).
  expect(accepted).toBeGreaterThanOrEqual(58);
  expect(accepted).toBeLessThanOrEqual(62);
  expect(refused.every((r) => r.code === 'GW_ERR_EVENT_TIME_OUT_OF_RANGE')).toBe(true);
  expect(accepted + refused.length).toBe(1005);

  const pattern = indexNames(cfg.esIndexPrefix!).eventsPattern;
  await waitFor(async () => {
    await es.indices.refresh({ index: pattern, allow_no_indices: true, ignore_unavailable: true });
    return (await es.count({ index: pattern, allow_no_indices: true, ignore_unavailable: true })).count === accepted;
  }, 'accepted events indexed', 90_000);
  const indices = ((await es.cat.indices({ index: pattern, format: 'json', h: 'index' })) as { index: string }[]).map((r) => r.index);
  const receiveDays = new Set([eventIndexFor(cfg.esIndexPrefix!, new Date(started).toISOString()), eventIndexFor(cfg.esIndexPrefix!, new Date(ended).toISOString())]);
  expect(indices.length).toBe(1);
  expect(receiveDays.has(indices[0])).toBe(true);

  const letters = (await readTopic(brokers, cfg.topicPrefix + DEAD_LETTER_TOPIC, refused.length, 30_000)).map((r) => JSON.parse(r.value) as DeadLetter);
  expect(letters.filter((d) => d.code === 'GW_ERR_EVENT_TIME_OUT_OF_RANGE')).toHaveLength(refused.length);
});
