// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fresh, network, reload, setHidden, settle, stored, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;

beforeEach(async () => {
  vi.useFakeTimers({ now: new Date('2026-11-22T10:00:00Z') });
  sdk = await fresh();
  net = network();
});
afterEach(() => {
  setHidden(false);
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const types = (b: { batch: { events: { type: string }[] } }) => b.batch.events.map((e) => e.type);

describe('sendBeacon when the page is hidden or unloaded', () => {
  test('visibilitychange to hidden beacons every queued event as text (no preflight), with the site key in the URL', async () => {
    sdk.init({ siteKey: 'shop 1', batchSize: 10 });
    sdk.page();
    sdk.purchase({ orderId: 'o-9', revenue: 40, currency: 'EUR' });
    expect(net.requests).toHaveLength(0);
    setHidden(true);
    expect(net.requests).toHaveLength(0);
    expect(net.beacons).toHaveLength(1);
    const [b] = net.beacons;
    expect(b.url).toBe('/v1/events?site=shop%201');
    // A string: the browser sends it as text/plain;charset=UTF-8, a CORS simple request.
    expect(typeof b.data).toBe('string');
    expect(types(b)).toEqual(['page_view', 'purchase']);
    expect(b.batch.sent_at).toBe(Date.now());
  });

  test('pagehide beacons too; an event is beaconed once even when both fire', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10 });
    sdk.page();
    setHidden(true);
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons).toHaveLength(1);
    sdk.click('late');
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons.map(types)).toEqual([['page_view'], ['click']]);
  });

  test('beacons are cut into batches of batchSize (one beacon carries 64 KB at most)', async () => {
    sdk.init({ siteKey: 'k', batchSize: 3 });
    net.offline();
    for (let i = 0; i < 3; i++) sdk.click(`x${i}`); // in flight, failing
    await settle();
    for (let i = 3; i < 8; i++) sdk.click(`x${i}`);
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons.map((b) => b.batch.events.length)).toEqual([3, 3, 2]);
    expect(net.beacons.flatMap((b) => b.batch.events.map((e) => (e as { element?: string }).element))).toEqual(
      Array.from({ length: 8 }, (_, i) => `x${i}`),
    );
  });

  test('beaconed events stay queued until a fetch is acknowledged, and the next page resends them with the same ids', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10 });
    sdk.page();
    sdk.click('buy');
    dispatchEvent(new Event('pagehide'));
    const beaconed = net.beacons[0].batch.events.map((e) => e.event_id);
    expect(stored()!.queue.map((e) => e.event_id)).toEqual(beaconed);

    // The beacon may have been lost (offline, browser killed): the next page sends them again;
    // the gateway drops the copy if the beacon did arrive.
    const next = await reload();
    next.init({ siteKey: 'k', batchSize: 10 });
    next.flush();
    await settle();
    expect(net.requests[0].batch.events.map((e) => e.event_id)).toEqual(beaconed);
    expect(stored()!.queue).toEqual([]);
  });

  test('a refused beacon (quota, no sendBeacon) leaves the events for the next chance', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10 });
    sdk.page();
    net.beaconResult(false);
    setHidden(true);
    expect(net.beacons).toHaveLength(0);
    net.beaconResult(true);
    setHidden(false);
    setHidden(true);
    expect(net.beacons.map(types)).toEqual([['page_view']]);

    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: undefined });
    sdk.click('no-beacon-api');
    expect(() => dispatchEvent(new Event('pagehide'))).not.toThrow();
    expect(stored()!.queue.map((e) => e.type)).toEqual(['page_view', 'click']);
  });

  test('nothing queued, no beacon; tab shown again, nothing beaconed', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    await settle();
    setHidden(true);
    setHidden(false);
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons).toHaveLength(0);
    expect(net.requests).toHaveLength(1);
  });
});
