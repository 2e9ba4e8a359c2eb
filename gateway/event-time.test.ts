import { afterEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { harness, type MemoryProducer } from '../test/harness/gateway-app.js';
import { pageView, UA } from '../test/unit/fixtures.js';

const DAY = 86_400_000;
let app: FastifyInstance;
let kafka: MemoryProducer;
afterEach(async () => app?.close());

const post = (body: unknown) =>
  app.inject({
    method: 'POST',
    url: '/v1/events?site=shop',
    headers: { 'content-type': 'application/json', 'user-agent': UA.iphone },
    payload: JSON.stringify(body),
  });

describe('event time is bounded around the receive time', () => {
  test('older than EVENT_MAX_AGE_DAYS, or ahead by more than EVENT_MAX_FUTURE_S: refused per event and dead-lettered; inside: kept', async () => {
    ({ app, kafka } = await harness({ eventMaxAgeDays: 30, eventMaxFutureS: 600 }));
    const now = Date.now();
    const events = [
      pageView({ ts: now - 29 * DAY }),
      pageView({ ts: now - 31 * DAY }),
      pageView({ ts: Date.UTC(1999, 0, 1) }),
      pageView({ ts: 0 }),
      pageView({ ts: now + 5 * 60_000 }),
      pageView({ ts: now + 20 * 60_000 }),
    ];
    const res = await post({ events });
    expect(res.statusCode).toBe(207);
    const body = res.json();
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'accepted', 'rejected']);
    for (const i of [1, 2, 3, 5]) expect(body.results[i]).toMatchObject({ code: 'GW_ERR_EVENT_TIME_OUT_OF_RANGE', reason: expect.stringMatching(/receive time/) });
    const dlq = kafka.on('events_dead_letter');
    expect(dlq.map((d) => [d.index, d.code])).toEqual([1, 2, 3, 5].map((i) => [i, 'GW_ERR_EVENT_TIME_OUT_OF_RANGE']));
    const kept = kafka.on('page_views');
    // A little ahead: set to the receive time (never in the future).
    expect(Date.parse(kept[1].timestamp)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(kept[1].timestamp)).toBeGreaterThanOrEqual(now);
  });

  test('the window applies to the skew-corrected time: a client clock years off is fine with sent_at', async () => {
    ({ app, kafka } = await harness());
    const skew = -20 * 365 * DAY; // client clock in 2006
    const now = Date.now();
    const res = await post({ sent_at: now + skew, events: [pageView({ ts: now + skew - 60_000 }), pageView({ ts: now + skew - 40 * DAY })] });
    expect(res.json().results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected']);
    const kept = kafka.on('page_views')[0];
    expect(Math.abs(Date.parse(kept.timestamp) - (now - 60_000))).toBeLessThan(5_000);
  });

  test('times past year 9999 are schema errors (they print as +010000-…, which Elasticsearch refuses)', async () => {
    ({ app, kafka } = await harness());
    const far = Date.UTC(10000, 0, 1);
    const res = await post({ events: [pageView({ ts: far })] });
    expect(res.statusCode).toBe(400);
    expect(res.json().results[0].code).toBe('GW_ERR_EVENT_INVALID');
    const res2 = await post({ sent_at: far, events: [pageView({ ts: far - 1000 })] });
    expect(res2.statusCode).toBe(400);
    expect(res2.json().error.code).toBe('GW_ERR_BATCH_INVALID');
    // Every date field of every event produced has a four-digit year.
    expect(kafka.records.filter((r) => r.topic === 'page_views')).toHaveLength(0);
  });

  test('pixel: a ts outside the window is refused (pixel ts is never skew-corrected)', async () => {
    ({ app, kafka } = await harness());
    const res = await app.inject({ method: 'GET', url: `/v1/p.gif?site=shop&url=${encodeURIComponent('https://shop.example/')}&ts=${Date.UTC(1999, 0, 1)}`, headers: { 'user-agent': UA.iphone } });
    expect(res.headers['x-event-status']).toBe('rejected');
    expect(kafka.on('events_dead_letter')[0].code).toBe('GW_ERR_EVENT_TIME_OUT_OF_RANGE');
  });
});
