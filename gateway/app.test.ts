import { afterEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { harness, type MemoryProducer } from '../test/harness/gateway-app.js';
import { addToCart, pageView, UA } from '../test/unit/fixtures.js';

let app: FastifyInstance;
let kafka: MemoryProducer;
async function build(config = {}) {
  ({ app, kafka } = await harness(config));
  return app;
}
afterEach(async () => app?.close());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/events?site=shop',
    headers: { 'content-type': 'application/json', 'user-agent': UA.iphone, 'x-forwarded-for': '81.2.69.142', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /v1/events', () => {
  test('a valid batch is produced to each type topic, keyed by visitor, and answered 200', async () => {
    await build();
    const a = pageView();
    const b = addToCart();
    const res = await post({ sent_at: Date.now(), events: [a, b] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 0, duplicate: 0 });
    expect(kafka.records.map((r) => [r.topic, r.key])).toEqual([
      ['page_views', a.visitor_id],
      ['add_to_cart', b.visitor_id],
    ]);
    const enriched = JSON.parse(kafka.records[1].value);
    expect(enriched).toMatchObject({ event_id: b.event_id, site_id: 'shop', browser: 'Mobile Safari', device_type: 'mobile' });
  });

  test('all accepted: the short answer (no per-event results) unless ?results=1 asks; a duplicate brings them back', async () => {
    await build();
    const a = pageView();
    const short = await post({ events: [a, pageView()] });
    expect(short.statusCode).toBe(200);
    expect(short.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(short.json()).toEqual({ accepted: 2, duplicate: 0, rejected: 0, dropped: 0, request_id: short.headers['x-request-id'] });
    const asked = await app.inject({ method: 'POST', url: '/v1/events?site=shop&results=1', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ events: [pageView()] }) });
    expect(asked.json().results).toEqual([expect.objectContaining({ index: 0, status: 'accepted' })]);
    const again = await post({ events: [a] }, { 'x-request-id': 'quote"d' });
    expect(again.json()).toMatchObject({ accepted: 0, duplicate: 1, results: [{ index: 0, event_id: a.event_id, status: 'duplicate' }], request_id: 'quote"d' });
    expect(kafka.records).toHaveLength(3);
  });

  test('an invalid event is rejected with its reason and dead-lettered; its neighbour goes through (207)', async () => {
    await build();
    const good = pageView();
    const res = await post({ events: [good, addToCart({ price: 'free' })] });
    expect(res.statusCode).toBe(207);
    const body = res.json();
    expect(body.results[0]).toMatchObject({ status: 'accepted', event_id: good.event_id });
    expect(body.results[1]).toMatchObject({ status: 'rejected', code: 'GW_ERR_EVENT_INVALID' });
    expect(body.results[1].reason).toMatch(/price must be number/);
    const dlq = kafka.records.filter((r) => r.topic === 'events_dead_letter').map((r) => JSON.parse(r.value));
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ code: 'GW_ERR_EVENT_INVALID', site_id: 'shop', index: 1 });
    expect(dlq[0].raw).toContain('"price":"free"');
  });

  test('all invalid: 400 with per-event reasons, all dead-lettered', async () => {
    await build();
    const res = await post([{ ...pageView(), type: 'wishlist' }, 42]);
    expect(res.statusCode).toBe(400);
    expect(res.json().results.map((r: { code: string }) => r.code)).toEqual(['GW_ERR_UNKNOWN_EVENT_TYPE', 'GW_ERR_EVENT_NOT_OBJECT']);
    expect(kafka.records.filter((r) => r.topic === 'events_dead_letter')).toHaveLength(2);
  });

  test('malformed JSON: 400 GW_ERR_MALFORMED_JSON, the raw body kept on the dead-letter topic', async () => {
    await build();
    const res = await post('{"events": [');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('GW_ERR_MALFORMED_JSON');
    expect(JSON.parse(kafka.records[0].value)).toMatchObject({ code: 'GW_ERR_MALFORMED_JSON', raw: '{"events": [' });
  });

  test.each([
    ['an oversized body', 'x'.repeat(3000), 413, 'GW_ERR_BODY_TOO_LARGE'],
    ['too many events', { events: Array.from({ length: 6 }, () => pageView()) }, 413, 'GW_ERR_BATCH_TOO_LARGE'],
    ['an empty batch', { events: [] }, 400, 'GW_ERR_BATCH_INVALID'],
    ['a non-array events', { events: {} }, 400, 'GW_ERR_BATCH_INVALID'],
    ['an unknown envelope field', { events: [pageView()], foo: 1 }, 400, 'GW_ERR_BATCH_INVALID'],
  ])('%s -> %s %s', async (_n, body, status, code) => {
    await build({ gatewayBodyLimit: 2000, gatewayMaxBatch: 5 });
    const res = await post(body);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
  });

  test('an unsupported content type gets 415', async () => {
    await build();
    const res = await post('a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('GW_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  test('text/plain bodies (sendBeacon) are accepted', async () => {
    await build();
    const res = await post({ events: [pageView()] }, { 'content-type': 'text/plain;charset=UTF-8' });
    expect(res.statusCode).toBe(200);
    expect(kafka.records).toHaveLength(1);
  });

  test('a retried batch is not produced twice', async () => {
    await build();
    const batch = { events: [pageView(), pageView()] };
    expect((await post(batch)).statusCode).toBe(200);
    const again = await post(batch);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ accepted: 0, duplicate: 2 });
    expect(kafka.records).toHaveLength(2);
  });

  test('Kafka failing: 503 with Retry-After, and the ids are not remembered as accepted', async () => {
    await build({ gatewayRetryAfterS: 7 });
    kafka.fail = true;
    const batch = { events: [pageView()] };
    const res = await post(batch);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json().error.code).toBe('GW_ERR_KAFKA_UNAVAILABLE');
    kafka.fail = false;
    const retry = await post(batch);
    expect(retry.json()).toMatchObject({ accepted: 1, duplicate: 0 });
  });

  test('Kafka known to be down: 503 at once, /readyz 503', async () => {
    await build();
    kafka.available = false;
    expect((await post({ events: [pageView()] })).statusCode).toBe(503);
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  test('/metrics counts accepted and rejected events', async () => {
    await build();
    await post({ events: [pageView(), addToCart({ quantity: 0 })] });
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/gateway_events_accepted_total\{type="page_view"\} 1/);
    expect(text).toMatch(/gateway_events_rejected_total\{code="GW_ERR_EVENT_INVALID"\} 1/);
  });
});
