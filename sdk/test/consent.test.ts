// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { fresh, sdkHooks, setHidden, settle, stored, T0, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;
sdkHooks((s, n) => ((sdk = s), (net = n)), {
  after: () => {
    for (const k of ['doNotTrack', 'globalPrivacyControl']) delete (navigator as unknown as Record<string, unknown>)[k];
    setHidden(false);
  },
});

const nav = (k: string, v: unknown) => Object.defineProperty(navigator, k, { configurable: true, value: v });

describe('consent', () => {
  test("'hold': nothing sent or stored until consent(true), then the held events go out with their own times", async () => {
    sdk.init({ siteKey: 'k', batchSize: 10, consent: 'hold' });
    sdk.page();
    await vi.advanceTimersByTimeAsync(2000);
    sdk.addToCart({ productId: 'p1', price: 3, currency: 'EUR' });
    setHidden(true); // not even a beacon
    setHidden(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(0);
    expect(net.beacons).toHaveLength(0);
    expect(localStorage.length).toBe(0);

    sdk.consent(true);
    sdk.flush();
    expect(net.requests).toHaveLength(1);
    const events = net.requests[0].batch.events;
    expect(events.map((e) => [e.type, e.ts - T0])).toEqual([
      ['page_view', 0],
      ['add_to_cart', 2000],
    ]);
    expect(stored()!.visitor).toBe(events[0].visitor_id);
  });

  test("'hold' then consent(false): the held events are dropped, and so is everything after", async () => {
    sdk.init({ siteKey: 'k', batchSize: 1, consent: 'hold' });
    sdk.page();
    sdk.click('a');
    sdk.consent(false);
    sdk.click('b');
    sdk.flush();
    setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(0);
    expect(net.beacons).toHaveLength(0);
    expect(localStorage.length).toBe(0);
  });

  test("'drop': events before consent are discarded; after consent(true) they are sent", async () => {
    sdk.init({ siteKey: 'k', batchSize: 1, consent: 'drop' });
    sdk.page();
    sdk.click('before');
    expect(localStorage.length).toBe(0);
    sdk.consent(true);
    sdk.click('after');
    await settle();
    expect(net.requests.flatMap((r) => r.batch.events.map((e) => (e as { element?: string }).element))).toEqual(['after']);
  });

  test('consent(false) after consent was given forgets the stored ids and the queue', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10 });
    net.offline();
    sdk.page();
    expect(stored()!.queue).toHaveLength(1);
    sdk.consent(false);
    expect(localStorage.getItem('cs')).toBeNull();
    net.status(200);
    sdk.click('x');
    sdk.flush();
    setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(0);
    expect(net.beacons).toHaveLength(0);
  });

  test.each([
    ['Do Not Track', 'doNotTrack', '1'],
    ['Global Privacy Control', 'globalPrivacyControl', true],
  ])('respectDnt (script-tag builds) with %s: nothing is stored or sent, consent(true) included', async (_name, key, value) => {
    nav(key, value);
    const { scriptApi } = await import('../src/script-api.js');
    scriptApi().init({ siteKey: 'k', batchSize: 1, respectDnt: true });
    sdk.consent(true);
    sdk.page();
    sdk.flush();
    setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(0);
    expect(net.beacons).toHaveLength(0);
    expect(localStorage.length).toBe(0);
  });

  test('DNT is ignored unless respectDnt is set; DNT "0" is not an opt-out', async () => {
    nav('doNotTrack', '1');
    const { scriptApi } = await import('../src/script-api.js');
    scriptApi().init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    expect(net.requests).toHaveLength(1);

    const again = await fresh();
    nav('doNotTrack', '0');
    (await import('../src/script-api.js')).scriptApi().init({ siteKey: 'k', batchSize: 1, respectDnt: true });
    again.page();
    expect(net.requests).toHaveLength(2);
  });

  test('doNotTrack() (@clickstream/sdk/dnt, for npm users to not start the SDK): DNT "1" or GPC', async () => {
    const { doNotTrack } = await import('../src/plugins/dnt.js');
    expect(doNotTrack()).toBe(false);
    nav('doNotTrack', '0');
    expect(doNotTrack()).toBe(false);
    nav('doNotTrack', '1');
    expect(doNotTrack()).toBe(true);
    nav('doNotTrack', null);
    nav('globalPrivacyControl', true);
    expect(doNotTrack()).toBe(true);
  });
});
