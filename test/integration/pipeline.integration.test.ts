/**
 * The thin pipeline end to end against the real Kafka and Elasticsearch started by the global
 * set-up: gateway -> Kafka -> processor -> Elasticsearch, with bad input and a processor crash.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildApp } from '../../gateway/app.js';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import { isolatedConfig, spawnProcessor } from '../harness/it-harness.js';
import type { Config } from '../../contracts/config.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { makeVisit, rng, USER_AGENTS } from '../../scripts/traffic-generator.js';
import { esCount, readTopic, waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');

function events(n: number, seed: number): ClientEvent[] {
  const r = rng(seed);
  const out: ClientEvent[] = [];
  while (out.length < n) out.push(...makeVisit(r, Date.now() - 60_000).events);
  return out.slice(0, n);
}

/** A gateway answers 503 until its producer has connected; wait for /readyz like a load balancer would. */
async function listenReady(app: FastifyInstance): Promise<string> {
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 30_000);
  return base;
}

async function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v1/events?site=it`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[2], ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('gateway -> Kafka -> processor -> Elasticsearch', () => {
  let cfg: Partial<Config>;
  let app: FastifyInstance;
  let base: string;
  let es: Client;
  let processor: Awaited<ReturnType<typeof startProcessor>>;

  beforeAll(async () => {
    cfg = await isolatedConfig(brokers, esUrl, 3);
    app = await buildApp({ config: cfg, logger: pino({ level: 'warn' }) });
    base = await listenReady(app);
    processor = await startProcessor(cfg);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  });
  afterAll(async () => {
    await processor?.stop();
    await app?.close();
    await es?.close();
  });

  test('valid events are found exactly once, enriched; invalid ones are refused with reasons and dead-lettered', async () => {
    const good = events(300, 1);
    for (let i = 0; i < good.length; i += 20) {
      const res = await post(base, { sent_at: Date.now(), events: good.slice(i, i + 20) });
      expect(res.status).toBe(200);
    }
    // Bad input of every kind, some mixed with a valid neighbour.
    const neighbour = events(1, 2)[0];
    const wrongType = { ...events(1, 3)[0], ts: 'yesterday' };
    const unknownType = { ...events(1, 4)[0], type: 'wishlist' };
    const mixed = await post(base, { events: [neighbour, wrongType, unknownType] });
    expect(mixed.status).toBe(207);
    const results = mixed.body.results as { status: string; code?: string; reason?: string }[];
    expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'rejected']);
    expect(results[1]).toMatchObject({ code: 'GW_ERR_EVENT_INVALID' });
    expect(results[1].reason).toMatch(/\/ts must be integer/);
    expect(results[2]).toMatchObject({ code: 'GW_ERR_UNKNOWN_EVENT_TYPE' });

    const malformed = await post(base, '{"events": [{"type": "page_view",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ code: 'GW_ERR_MALFORMED_JSON' });

    const oversized = await post(base, JSON.stringify({ events: [{ ...neighbour, title: 'x'.repeat(600_000) }] }));
    expect(oversized.status).toBe(413);
    expect(oversized.body.error).toMatchObject({ code: 'GW_ERR_BODY_TOO_LARGE' });

    const total = good.length + 1;
    const pattern = `${cfg.esIndexPrefix}-events-*`;
    await waitFor(async () => (await esCount(es, pattern)) >= total, `${total} events in Elasticsearch`);
    await new Promise((r) => setTimeout(r, 1500)); // anything extra would show up now
    expect(await esCount(es, pattern)).toBe(total);

    // Document id = identity: site and event id.
    const ids = [...good, neighbour].map((e) => `it:${e.event_id}`).sort();
    const hits = await es.search<Record<string, unknown>>({ index: pattern, size: 1000, query: { match_all: {} } });
    expect(hits.hits.hits.map((h) => h._id).sort()).toEqual(ids);
    const doc = hits.hits.hits.find((h) => h._id === `it:${good[0].event_id}`)!._source!;
    expect(doc).toMatchObject({
      event_id: good[0].event_id,
      event_type: good[0].type,
      visitor_id: good[0].visitor_id,
      site_id: 'it',
      browser: 'Mobile Safari',
      os: 'iOS',
      device_type: 'mobile',
      url: good[0].url,
    });

    const dead = (await readTopic(brokers, `${cfg.topicPrefix}events_dead_letter`, 3)).map((m) => JSON.parse(m.value));
    expect(dead.map((d) => d.code).sort()).toEqual(['GW_ERR_EVENT_INVALID', 'GW_ERR_MALFORMED_JSON', 'GW_ERR_UNKNOWN_EVENT_TYPE']);
    expect(dead.find((d) => d.code === 'GW_ERR_EVENT_INVALID').raw).toContain('"ts":"yesterday"');
    expect(dead.find((d) => d.code === 'GW_ERR_UNKNOWN_EVENT_TYPE').reason).toMatch(/wishlist/);
  });

  test('a resent batch doubles nothing', async () => {
    const batch = { events: events(40, 5) };
    expect((await post(base, batch)).status).toBe(200);
    const again = await post(base, batch);
    expect(again.body).toMatchObject({ accepted: 0, duplicate: 40 });
    const ids = batch.events.map((e) => `it:${e.event_id}`);
    await waitFor(async () => {
      await es.indices.refresh({ index: `${cfg.esIndexPrefix}-events-*` });
      const r = await es.count({ index: `${cfg.esIndexPrefix}-events-*`, query: { ids: { values: ids } } });
      return r.count === 40;
    }, 'the 40 events');
  });
});

describe('processor killed with SIGKILL mid-stream', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });
  const spawnChild = (cfg: Partial<Config>) => {
    const child = spawnProcessor(cfg);
    children.push(child);
    return child;
  };

  test('after a restart every event is in Elasticsearch exactly once', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, 3);
    const app = await buildApp({ config: cfg, logger: pino({ level: 'warn' }) });
    const base = await listenReady(app);
    const es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    const pattern = `${cfg.esIndexPrefix}-events-*`;
    try {
      const all = events(1000, 9);
      let child = spawnChild({ ...cfg, processorBatchSize: 50 });
      let killed = false;
      for (let i = 0; i < all.length; i += 20) {
        expect((await post(base, { sent_at: Date.now(), events: all.slice(i, i + 20) })).status).toBe(200);
        if (!killed && i >= 400) {
          // Kill once the processor has written some, but not all, of what was sent.
          await waitFor(async () => (await esCount(es, pattern)) > 0, 'the first events indexed');
          child.kill('SIGKILL');
          await new Promise((r) => child.once('exit', r));
          killed = true;
        }
      }
      expect(killed).toBe(true);
      const before = await esCount(es, pattern);
      expect(before).toBeLessThan(all.length);
      child = spawnChild({ ...cfg, processorBatchSize: 50 });
      await waitFor(async () => (await esCount(es, pattern)) >= all.length, '1000 events after restart', 120_000);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await esCount(es, pattern)).toBe(all.length);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } finally {
      await app.close();
      await es.close();
    }
  });
});
