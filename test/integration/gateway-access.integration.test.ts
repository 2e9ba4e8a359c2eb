/**
 * Access control against the real Kafka of the global set-up, over real HTTP: wrong keys,
 * wrong origins, preflights and floods are refused before anything reaches Kafka, while the
 * legitimate traffic next to them is stored.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../gateway/app.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { pageView, UA } from '../unit/fixtures.js';
import { readTopic, unique, waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');

describe('gateway access control with the real Kafka', () => {
  let app: FastifyInstance;
  let base: string;
  let topicPrefix: string;

  beforeAll(async () => {
    topicPrefix = `${unique('gwacc')}_`;
    await ensureTopics(brokers, { prefix: topicPrefix, partitions: 3 });
    app = await buildApp({
      logger: pino({ level: 'warn' }),
      config: {
        kafkaBrokers: brokers,
        topicPrefix,
        sites: 'shop:https://shop.example,https://www.shop.example;blog:*',
        gatewayRateLimitIp: 40,
        gatewayRateLimitSite: 0,
        gatewayRateLimitWindowS: 86_400, // windows are aligned on their length: a day keeps the flood in one
        trustedProxies: ['127.0.0.1'],
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 60_000);
  });
  afterAll(async () => app?.close());

  const send = (events: ClientEvent[], opts: { query?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${base}/v1/events${opts.query ?? '?site=shop'}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA.iphone, origin: 'https://shop.example', ...opts.headers },
      body: JSON.stringify({ sent_at: Date.now(), events }),
    });

  test('wrong keys, wrong origins, preflights and a flood: refused with the right codes; only the legitimate events stored', async () => {
    const good: ClientEvent[] = [];
    const refused: ClientEvent[] = [];
    const track = async (res: Response, events: ClientEvent[]) => {
      (res.status === 200 ? good : refused).push(...events);
      return res;
    };

    // Legitimate traffic, from two client addresses behind the trusted proxy.
    for (const ip of ['81.2.69.142', '193.51.208.14']) {
      const evs = [pageView(), pageView()];
      const res = await track(await send(evs, { headers: { 'x-forwarded-for': ip } }), evs);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    }

    // Wrong and missing keys.
    for (const query of ['?site=nope', '', '?site=%00', `?site=${'k'.repeat(500)}`]) {
      const evs = [pageView()];
      const res = await track(await send(evs, { query, headers: { 'x-forwarded-for': '8.8.8.8' } }), evs);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_UNKNOWN_SITE');
    }

    // Wrong origins for the key.
    for (const origin of ['https://evil.example', 'http://shop.example', 'null']) {
      const evs = [pageView()];
      const res = await track(await send(evs, { headers: { origin, 'x-forwarded-for': '8.8.4.4' } }), evs);
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_ORIGIN_FORBIDDEN');
    }

    // Preflights, per site.
    const preflight = (query: string, origin: string) =>
      fetch(`${base}/v1/events${query}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const ok = await preflight('?site=shop', 'https://www.shop.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://www.shop.example');
    expect((await preflight('?site=shop', 'https://evil.example')).status).toBe(403);
    expect((await preflight('?site=nope', 'https://shop.example')).status).toBe(401);

    // A flood from one address: 429 with Retry-After once over the limit, in parallel.
    const flood = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const evs = [pageView()];
        const res = await track(await send(evs, { headers: { 'x-forwarded-for': '203.0.113.7' } }), evs);
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { code: string } } };
      }),
    );
    const limited = flood.filter((r) => r.status === 429);
    expect(flood.filter((r) => r.status === 200).length).toBe(40);
    expect(limited.length).toBe(80);
    for (const r of limited) {
      expect(r.body.error?.code).toBe('GW_ERR_RATE_LIMITED');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // Other addresses are not limited by that flood.
    const after = [pageView()];
    expect((await track(await send(after, { headers: { 'x-forwarded-for': '81.2.69.142' } }), after)).status).toBe(200);

    // Kafka has exactly the accepted events, none of the refused ones.
    const stored = await readTopic(brokers, `${topicPrefix}page_views`, good.length, 30_000);
    const ids = stored.map((m) => (JSON.parse(m.value) as { event_id: string }).event_id);
    expect(new Set(ids)).toEqual(new Set(good.map((e) => e.event_id)));
    expect(ids).toHaveLength(good.length);
    const refusedIds = new Set(refused.map((e) => e.event_id));
    expect(ids.some((id) => refusedIds.has(id))).toBe(false);
    const dead = await readTopic(brokers, `${topicPrefix}events_dead_letter`, 1, 3_000);
    expect(dead).toHaveLength(0); // access refusals are not bad rows: nothing to dead-letter

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="429"\} 80/);
    expect(metrics).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="401"\} 4/);
    expect(metrics).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="403"\} 3/);
  });

  test('the pixel with the real Kafka: a GIF, the event stored, geo from the forwarded address', async () => {
    const url = encodeURIComponent('https://shop.example/no-js?utm_source=print');
    const res = await fetch(`${base}/v1/p.gif?site=shop&url=${url}&event_id=pixel-000000001`, {
      headers: { 'user-agent': UA.linuxFirefox, 'x-forwarded-for': '193.51.208.14', referer: 'https://shop.example/no-js' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect((await res.arrayBuffer()).byteLength).toBe(43);
    const stored = await readTopic(brokers, `${topicPrefix}page_views`, 1000, 5_000);
    const ev = stored.map((m) => JSON.parse(m.value)).find((e) => e.event_id === 'pixel-000000001');
    expect(ev).toMatchObject({ site_id: 'shop', country: 'FR', ip: '193.51.208.0', utm_source: 'print', referrer_type: 'campaign', browser: 'Firefox' });
  });
});
