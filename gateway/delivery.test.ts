import { afterEach, describe, expect, test, vi } from 'vitest';
import { contentDigest } from './content-digest.js';
import { RecentIds } from './dedup.js';
import { Delivery } from './delivery.js';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView, UA } from '../test/unit/fixtures.js';
import { waitFor } from '../common/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  h?.kafka.release();
  await h?.app.close();
  h = undefined;
  vi.restoreAllMocks();
});
/** Waits until the held request has reached the producer (no fixed sleeps: CI machines are busy). */
const sending = (n: number) => waitFor(() => h!.kafka.sends >= n, `${n} send(s) to reach the producer`, 10_000, 5);

/**
 * Counts events that found their original still on its way to Kafka (and so wait for it): a
 * request racing another has reached that point once the count moves.
 */
function waitsOnOriginals(): (n: number) => Promise<unknown> {
  const pending = vi.spyOn(RecentIds.prototype, 'pendingOf');
  const count = () => pending.mock.results.filter((r) => r.type === 'return' && r.value !== undefined).length;
  return (n) => waitFor(() => count() >= n, `${n} event(s) waiting on their original`, 10_000, 5);
}

/** In flight no more: Kafka's late answer has been taken into account (dedup remembers it). */
const settledAll = () => waitFor(async () => /gateway_events_in_flight 0\b/.test((await h!.app.inject('/metrics')).body), 'no events in flight', 10_000, 5);

describe('Kafka slow or down', () => {
  test('a stalled broker: 503 with Retry-After after the produce timeout, not later', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 150, gatewayRetryAfterS: 3 });
    h.kafka.hold = true;
    const t0 = Date.now();
    const res = await postEvents(h.app, { events: [pageView()] });
    const took = Date.now() - t0;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json().error.code).toBe('GW_ERR_KAFKA_UNAVAILABLE');
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(2000);
  });

  test('in-flight events are bounded: beyond GATEWAY_MAX_IN_FLIGHT requests get 503 at once', async () => {
    h = await harness({ gatewayMaxInFlight: 5, gatewayMaxBatch: 5, gatewayProduceTimeoutMs: 5000 });
    h.kafka.hold = true;
    const first = postEvents(h.app, { events: [pageView(), pageView(), pageView()] });
    await sending(1);
    const t0 = Date.now();
    const second = await postEvents(h.app, { events: [pageView(), pageView(), pageView()] });
    expect(second.statusCode).toBe(503);
    expect(second.json().error.code).toBe('GW_ERR_OVERLOADED');
    expect(second.headers['retry-after']).toBe('1');
    expect(Date.now() - t0).toBeLessThan(500);
    expect((await h.app.inject('/metrics')).body).toMatch(/gateway_events_in_flight 3/);
    h.kafka.release();
    expect((await first).statusCode).toBe(200);
    expect((await h.app.inject('/metrics')).body).toMatch(/gateway_events_in_flight 0/);
  });

  test('an acknowledgement that comes after the 503 is remembered: the retry is a duplicate, not a second copy', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 100 });
    const batch = { events: [pageView(), pageView()] };
    h.kafka.hold = true;
    expect((await postEvents(h.app, batch)).statusCode).toBe(503);
    h.kafka.release(); // the stalled send completes after all
    await settledAll();
    const retry = await postEvents(h.app, batch);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toMatchObject({ accepted: 0, duplicate: 2 });
    expect(h.kafka.records).toHaveLength(2);
  });

  test('a retry racing its original waits for it instead of producing twice', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 2000 });
    const batch = { events: [pageView(), pageView()] };
    h.kafka.hold = true;
    const waiting = waitsOnOriginals();
    const original = postEvents(h.app, batch);
    await sending(1);
    const retry = postEvents(h.app, { events: [...batch.events, pageView()] });
    await waiting(2);
    h.kafka.release();
    expect((await original).json()).toMatchObject({ accepted: 2 });
    expect((await retry).json()).toMatchObject({ accepted: 1, duplicate: 2 });
    expect(h.kafka.records).toHaveLength(3);
  });

  test('a copy of an event whose request is still waiting on another original is not produced twice', async () => {
    // Seen in the browser e2e: [x] in flight; [x, y] waits for x; [y] (a beacon copy) arrives meanwhile.
    h = await harness({ gatewayProduceTimeoutMs: 2000 });
    const [x, y] = [pageView(), pageView()];
    h.kafka.hold = true;
    const waiting = waitsOnOriginals();
    const first = postEvents(h.app, { events: [x] });
    await sending(1);
    const second = postEvents(h.app, { events: [x, y] });
    await waiting(1); // x waits on the first request; the second has claimed y
    const third = postEvents(h.app, { events: [y] });
    await waiting(2); // y waits on the second request
    h.kafka.release();
    const replies = await Promise.all([first, second, third]);
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(replies[1].json()).toMatchObject({ accepted: 1, duplicate: 1 });
    expect(replies[2].json()).toMatchObject({ accepted: 0, duplicate: 1 });
    const ids = h.kafka.records.map((r) => JSON.parse(r.value).event_id).sort();
    expect(ids).toEqual([x.event_id, y.event_id].sort());
  });

  test('a retry racing an original that fails is produced', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 2000 });
    const batch = { events: [pageView()] };
    h.kafka.hold = true;
    const waiting = waitsOnOriginals();
    const original = postEvents(h.app, batch);
    await sending(1);
    const retry = postEvents(h.app, batch);
    await waiting(1);
    h.kafka.release(true); // the original's send fails
    expect((await original).statusCode).toBe(503);
    expect((await retry).json()).toMatchObject({ accepted: 1, duplicate: 0 });
    expect(h.kafka.records).toHaveLength(1);
  });

  test('graceful shutdown: close waits for in-flight sends, then disconnects the producer', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 5000 });
    h.kafka.hold = true;
    const pending = postEvents(h.app, { events: [pageView()] });
    await sending(1);
    const drain = vi.spyOn(Delivery.prototype, 'drain');
    const closing = h.app.close();
    await waitFor(() => drain.mock.calls.length > 0, 'shutdown waiting for in-flight sends', 10_000, 5);
    expect(h.kafka.closed).toBe(false);
    h.kafka.release();
    await closing;
    expect((await pending).statusCode).toBe(200);
    expect(h.kafka.closed).toBe(true);
    expect(h.kafka.records).toHaveLength(1);
    h = undefined;
  });
});

test('GATEWAY_MAX_IN_FLIGHT below GATEWAY_MAX_BATCH is refused at start', async () => {
  await expect(harness({ gatewayMaxInFlight: 10, gatewayMaxBatch: 20 })).rejects.toThrow(/GATEWAY_MAX_IN_FLIGHT/);
});

describe('dedup window', () => {
  test('bounded in count: the oldest ids are forgotten first, never more than max kept', () => {
    const r = new RecentIds(4, 60_000);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
      r.add(id, 1000);
      expect(r.size).toBeLessThanOrEqual(4);
    }
    expect(r.has('a', 1000)).toBe(false);
    expect(r.has('f', 1000)).toBe(true);
    expect(r.has('g', 1000)).toBe(true);
  });
  test('bounded in time: ids older than the window are forgotten', () => {
    const r = new RecentIds(100, 1000);
    r.add('a', 0);
    expect(r.has('a', 999)).toBe(true);
    expect(r.has('a', 1000)).toBe(false);
    r.add('b', 5000);
    r.add('c', 7000); // two windows later the generation holding "a" is gone
    expect(r.size).toBe(2);
  });
  test('adding stays fast however many ids went through (no FIFO walk)', () => {
    const r = new RecentIds(20_000, 60_000);
    const t0 = performance.now();
    for (let i = 0; i < 400_000; i++) r.add(`id-${i}`, 1000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.size).toBeLessThanOrEqual(20_000);
    expect(r.has('id-399999', 1000)).toBe(true);
  });
  test('exact across many ids: every remembered id is found with its digest, no new id is (64-bit hashes in a probed table)', () => {
    const r = new RecentIds(400_000, 60_000);
    const n = 150_000;
    for (let i = 0; i < n; i++) r.add(`site\u0000id-${i}`, 1000, contentDigest(`d${i}`));
    let found = 0;
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      const d = r.digest(`site\u0000id-${i}`, 1000);
      if (d === contentDigest(`d${i}`)) found++;
      if (r.digest(`site\u0000new-${i}`, 1000) !== undefined) wrong++;
    }
    expect(found).toBe(n);
    expect(wrong).toBe(0);
    // Re-adding an id keeps one entry and the newer digest.
    r.add('site\u0000id-7', 1000, contentDigest('again'));
    expect(r.digest('site\u0000id-7', 1000)).toBe(contentDigest('again'));
    // Accepted without a digest (the pixel's ids before digests existed): remembered, digest ''.
    r.add('site\u0000plain', 1000);
    expect(r.digest('site\u0000plain', 1000)).toBe('');
    // Only contentDigest's text is stored; anything else is a programming error, not a silent miss.
    expect(() => r.add('site\u0000x', 1000, 'not-a-digest')).toThrow(/16 hex digits/);
  });
  test('GATEWAY_DEDUP_WINDOW_S=0 disables it', async () => {
    h = await harness({ gatewayDedupWindowS: 0 });
    const batch = { events: [pageView()] };
    await postEvents(h.app, batch);
    expect((await postEvents(h.app, batch)).json()).toMatchObject({ accepted: 1 });
  });
  test('the same id twice in one batch: the second is a duplicate', async () => {
    h = await harness();
    const ev = pageView();
    expect((await postEvents(h.app, { events: [ev, ev] })).json()).toMatchObject({ accepted: 1, duplicate: 1 });
  });
  test('a rejected event is not remembered: fixed and resent, it is accepted', async () => {
    h = await harness();
    const ev = pageView();
    await postEvents(h.app, { events: [{ ...ev, ts: 'now' }] });
    expect((await postEvents(h.app, { events: [ev] })).json()).toMatchObject({ accepted: 1 });
  });
});

describe('BOT_POLICY', () => {
  const fromBot = (h: Harness) => postEvents(h.app, { events: [pageView(), pageView()] }, { headers: { 'user-agent': UA.googlebot } });

  test('flag (default): stored in the type topic with is_bot', async () => {
    h = await harness();
    expect((await fromBot(h)).json()).toMatchObject({ accepted: 2 });
    expect(h.kafka.on('page_views').map((e) => [e.is_bot, e.device_type])).toEqual([
      [true, 'unknown'],
      [true, 'unknown'],
    ]);
  });

  test('route: to the bots topic, never the type topic', async () => {
    h = await harness({ botPolicy: 'route', topicPrefix: 'x_' });
    expect((await fromBot(h)).json()).toMatchObject({ accepted: 2 });
    expect(h.kafka.on('x_page_views')).toHaveLength(0);
    expect(h.kafka.on('x_bots').map((e) => e.event_type)).toEqual(['page_view', 'page_view']);
    await postEvents(h.app, { events: [pageView()] }, { headers: { 'user-agent': UA.iphone } });
    expect(h.kafka.on('x_page_views')).toHaveLength(1);
  });

  test('drop: not stored, but reported per event and counted', async () => {
    h = await harness({ botPolicy: 'drop' });
    const res = await fromBot(h);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 0, dropped: 2 });
    expect(res.json().results[0]).toMatchObject({ status: 'dropped', code: 'GW_BOT_DROPPED' });
    expect(h.kafka.records).toHaveLength(0);
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toMatch(/gateway_events_dropped_total\{reason="bot"\} 2/);
    expect(metrics).toMatch(/gateway_bot_events_total\{action="dropped"\} 2/);
  });

  test('invalid events from bots are still dead-lettered', async () => {
    h = await harness({ botPolicy: 'drop' });
    await postEvents(h.app, { events: [{ type: 'page_view' }] }, { headers: { 'user-agent': UA.googlebot } });
    expect(h.kafka.on('events_dead_letter')).toHaveLength(1);
  });
});

describe('observability', () => {
  test('/metrics: requests by route and status for every route (errors and 404 too), latency histogram, Kafka state', async () => {
    h = await harness();
    await postEvents(h.app, { events: [pageView()] });
    await postEvents(h.app, '{nope');
    await h.app.inject('/nowhere');
    await h.app.inject('/healthz');
    const text = (await h.app.inject('/metrics')).body;
    expect(text).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="200"\} 1/);
    expect(text).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="400"\} 1/);
    expect(text).toMatch(/gateway_requests_total\{route="unmatched",method="GET",status="404"\} 1/);
    expect(text).toMatch(/gateway_requests_total\{route="\/healthz",method="GET",status="200"\} 1/);
    expect(text).toMatch(/gateway_produce_seconds_bucket\{le="0.005",outcome="ack"\} \d/);
    expect(text).toMatch(/gateway_dead_letters_total\{code="GW_ERR_MALFORMED_JSON"\} 1/);
    expect(text).toMatch(/gateway_kafka_available 1/);
    expect(text).toMatch(/gateway_events_in_flight 0/);
  });

  test('every answer carries its request id; a caller\'s x-request-id is kept and logged', async () => {
    h = await harness({ gatewayProduceTimeoutMs: 50 });
    h.kafka.hold = true;
    const res = await postEvents(h.app, { events: [pageView()] }, { headers: { 'x-request-id': 'trace-abc' } });
    expect(res.headers['x-request-id']).toBe('trace-abc');
    expect(res.json().request_id).toBe('trace-abc');
    expect(h.logs.some((l) => l.reqId === 'trace-abc' && l.level === 40)).toBe(true);
    const other = await h.app.inject('/healthz');
    expect(other.headers['x-request-id']).toBeTruthy();
  });
});
