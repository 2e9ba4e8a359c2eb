/**
 * Property: for arbitrary events clients send (test/event-arbitraries.ts: valid ones with
 * hostile strings, numbers and times, invalid ones, arbitrary JSON), every event the gateway
 * answered `accepted` ends either as a raw-event document in Elasticsearch or as a processor dead
 * letter on `events_dead_letter`, exactly one of the two:
 * `raw events in ES + processor dead letters = accepted`.
 * Real gateway, Kafka, processor and Elasticsearch; the runs are bounded in count.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildApp } from '../../gateway/app.js';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import type { Config } from '../../contracts/config.js';
import type { DeadLetter } from '../../contracts/dead-letter.js';
import { indexNames } from '../../contracts/indices.js';
import { DEAD_LETTER_TOPIC } from '../../contracts/topics.js';
import { isolatedConfig } from '../harness/it-harness.js';
import { anyEvent } from '../event-arbitraries.js';
import { readTopic, waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const RUNS = Number(process.env.ACCOUNTED_RUNS ?? 100);

let cfg: Partial<Config>;
let app: FastifyInstance;
let es: Client;
let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;

beforeAll(async () => {
  cfg = await isolatedConfig(brokers, esUrl, 3, { archiveBackend: 'none' });
  app = await buildApp({ config: { ...cfg, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0 }, logger: pino({ level: 'warn' }) });
  await waitFor(async () => (await app.inject('/readyz')).statusCode === 200, 'gateway ready', 30_000);
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
});
afterAll(async () => {
  await processor?.stop();
  await app?.close();
  await es?.close();
});

test(`${RUNS} generated batches: raw events in Elasticsearch + processor dead letters = accepted`, { timeout: 300_000 }, async () => {
  const accepted = new Set<string>();
  let gatewayRejected = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(anyEvent, { minLength: 1, maxLength: 20 }), fc.boolean(), async (evs, withSentAt) => {
      const events = evs.map(([e]) => e);
      const res = await app.inject({
        method: 'POST',
        // results=1: every request's per-event fate, also when all were accepted (the short answer has none).
        url: '/v1/events?site=prop&results=1',
        headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36' },
        payload: JSON.stringify(withSentAt ? { sent_at: Date.now(), events } : { events }),
      });
      expect(res.statusCode).toBeLessThan(500);
      const body = res.json() as { results?: { status: string; event_id: string }[] };
      for (const r of body.results ?? []) {
        if (r.status === 'accepted') accepted.add(r.event_id);
        if (r.status === 'rejected') gatewayRejected++;
      }
    }),
    { numRuns: RUNS },
  );
  expect(accepted.size).toBeGreaterThan(0);

  processor = await startProcessor(cfg);
  const pattern = indexNames(cfg.esIndexPrefix!).eventsPattern;
  const indexedIds = async (): Promise<string[]> => {
    await es.indices.refresh({ index: pattern, allow_no_indices: true, ignore_unavailable: true });
    const r = await es.search({ index: pattern, size: 10_000, _source: false, query: { match_all: {} }, allow_no_indices: true, ignore_unavailable: true });
    // Document id = identity, `prop:<event id>`.
    return r.hits.hits.map((h) => h._id!.replace(/^prop:/, ''));
  };
  const processorDead = async (): Promise<number> => {
    let n = 0;
    for (const v of (await processor!.metrics.deadLettered.get()).values) n += v.value;
    return n;
  };
  await waitFor(async () => (await indexedIds()).length + (await processorDead()) >= accepted.size, 'every accepted event indexed or dead-lettered', 120_000);

  const indexed = await indexedIds();
  const letters = (await readTopic(brokers, cfg.topicPrefix + DEAD_LETTER_TOPIC, gatewayRejected + (await processorDead()), 30_000))
    .map((r) => JSON.parse(r.value) as DeadLetter)
    .filter((d) => d.source === 'processor');
  const deadIds = letters.map((d) => (JSON.parse(d.raw) as { event_id: string }).event_id);
  expect(letters.length).toBe(await processorDead());
  // Each accepted event exactly once, in one of the two places; nothing else.
  expect([...indexed, ...deadIds].sort()).toEqual([...accepted].sort());
});
