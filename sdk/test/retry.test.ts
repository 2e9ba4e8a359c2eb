// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { reload, sdkHooks, settle, stored, T0, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;
sdkHooks((s, n) => ((sdk = s), (net = n)));

/** Offsets from T0 at which fetch was called. */
const times = () => net.requests.map((r) => r.at - T0);

describe('retry with exponential backoff and jitter', () => {
  test('network errors: 1 s, 2 s, 4 s ... times a jitter factor in [0.5, 1)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await vi.advanceTimersByTimeAsync(20_000);
    // Delays 500, 1000, 2000, 4000, 8000 (factor 0.5), then the next would be at 31,500.
    expect(times()).toEqual([0, 500, 1500, 3500, 7500, 15_500]);
  });

  test('the jitter factor scales every delay', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await vi.advanceTimersByTimeAsync(6000);
    // factor 0.75: 750, 1500, 3000
    expect(times()).toEqual([0, 750, 2250, 5250]);
  });

  test('delays stop growing at 60 s', async () => {
    // The top of the jitter range (Math.random() itself stays below 1).
    vi.spyOn(Math, 'random').mockReturnValue(1);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const t = times();
    const gaps = t.slice(1).map((x, i) => x - t[i]);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000]);
  });

  test.each([503, 429])('%i with Retry-After: the next attempt comes exactly that many seconds later', async (code) => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.status(code, { 'Retry-After': '7' });
    sdk.page();
    await vi.advanceTimersByTimeAsync(6999);
    expect(times()).toEqual([0]);
    net.status(200);
    await vi.advanceTimersByTimeAsync(1);
    expect(times()).toEqual([0, 7000]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(times()).toEqual([0, 7000]);
  });

  test.each([500, 502, 503, 504, 429])('%i without Retry-After is retried with backoff', async (code) => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.status(code);
    sdk.page();
    await vi.advanceTimersByTimeAsync(1500);
    expect(times()).toEqual([0, 500, 1500]);
  });

  test('a Retry-After that is an HTTP date falls back to the backoff', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.status(503, { 'Retry-After': 'Wed, 21 Oct 2026 07:28:00 GMT' });
    sdk.page();
    await vi.advanceTimersByTimeAsync(600);
    expect(times()).toEqual([0, 500]);
  });

  test.each([400, 401, 403, 404, 413, 415])('%i is not retried and the batch is dropped', async (code) => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.status(code);
    sdk.page();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(times()).toEqual([0]);
    expect(stored()!.queue).toEqual([]);
    // The next event goes out alone.
    net.status(200);
    sdk.click('x');
    expect(net.requests[1].batch.events.map((e) => e.type)).toEqual(['click']);
  });

  test('a retried batch carries the same event ids (and a new sent_at)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 3 });
    net.status(503);
    sdk.page();
    sdk.click('a');
    sdk.click('b');
    await vi.advanceTimersByTimeAsync(500);
    net.status(200);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.requests).toHaveLength(3);
    const ids = net.requests.map((r) => r.batch.events.map((e) => e.event_id));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    expect(net.requests.map((r) => r.batch.sent_at! - T0)).toEqual([0, 500, 1500]);
    expect(net.requests[2].batch.events.map((e) => e.ts - T0)).toEqual([0, 0, 0]);
  });

  test('events recorded during backoff wait for it, even past batchSize; retried ids come first', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 2 });
    net.offline();
    sdk.click('a');
    sdk.click('b');
    expect(times()).toEqual([0]);
    await settle();
    sdk.click('c');
    sdk.click('d');
    sdk.flush();
    expect(times()).toEqual([0]);
    net.status(200);
    await vi.advanceTimersByTimeAsync(500);
    const elements = net.requests.map((r) => r.batch.events.map((e) => (e as { element?: string }).element).join(''));
    expect(elements).toEqual(['ab', 'ab', 'cd']);
  });

  test('coming back online retries at once instead of waiting out the backoff', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 3000);
    expect(times()).toHaveLength(3);
    net.status(200);
    dispatchEvent(new Event('online'));
    await settle();
    expect(net.requests).toHaveLength(4);
    expect(net.requests[3].at - T0).toBe(6000);
    expect(stored()!.queue).toEqual([]);
  });

  test('the backoff starts again from 1 s after a success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await vi.advanceTimersByTimeAsync(3500); // attempts at 0, 500, 1500, 3500
    net.status(200);
    await vi.advanceTimersByTimeAsync(4000); // 7500: success
    expect(times()).toEqual([0, 500, 1500, 3500, 7500]);
    net.offline();
    sdk.click('x');
    await vi.advanceTimersByTimeAsync(500);
    expect(times()).toEqual([0, 500, 1500, 3500, 7500, 7500, 8000]);
  });
});

describe('acknowledged batches are never sent again', () => {
  test.each([200, 202, 204, 207])('after %i: not by the timers, not by flush, not after a reload', async (code) => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 2 });
    net.status(code);
    sdk.page();
    sdk.click('a');
    await settle();
    const acked = net.requests[0].batch.events.map((e) => e.event_id);
    expect(stored()!.queue).toEqual([]);

    // More traffic with failures and retries, a flush, a hide (beacon) and a reload.
    net.offline();
    sdk.click('b');
    sdk.flush();
    await vi.advanceTimersByTimeAsync(30_000);
    const s2 = await reload();
    net.status(200);
    s2.init({ siteKey: 'k', batchSize: 2 });
    s2.flush();
    await vi.advanceTimersByTimeAsync(30_000);

    const all = net.ids();
    for (const id of acked) expect(all.filter((x) => x === id)).toHaveLength(1);
    expect(net.beacons.flatMap((b) => b.batch.events.map((e) => e.event_id)).filter((id) => acked.includes(id))).toEqual([]);
    // The unacknowledged click was retried until it got through after the reload.
    expect(net.requests.at(-1)!.batch.events.map((e) => (e as { element?: string }).element)).toEqual(['b']);
    expect(stored()!.queue).toEqual([]);
  });
});
