// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { schemaErrors, sdkHooks, settle, stored, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;

sdkHooks((s, n) => ((sdk = s), (net = n)), {
  before: () => {
    history.replaceState(null, '', '/products/mug?utm_source=newsletter&utm_medium=email&utm_campaign=nov&ref=x');
    document.title = 'Blue mug';
  },
});

describe('batching', () => {
  test('holds events until batchSize is reached, then sends them in one request, in order', async () => {
    sdk.init({ siteKey: 'shop-1', batchSize: 3, flushInterval: 10_000 });
    sdk.page();
    sdk.click('button#buy', 'http://localhost:3000/cart');
    expect(net.requests).toHaveLength(0);
    sdk.addToCart({ productId: 'mug-1', name: 'Blue mug', price: 12.5, quantity: 2, currency: 'EUR' });
    expect(net.requests).toHaveLength(1);
    const [r] = net.requests;
    expect(r.url).toBe('/v1/events?site=shop-1');
    expect(r.init.method).toBe('POST');
    expect(r.init.keepalive).toBe(true);
    // A string body: sent as text/plain, a CORS simple request (no preflight).
    expect(typeof r.init.body).toBe('string');
    expect(r.init.headers).toBeUndefined();
    expect(r.batch.events.map((e) => e.type)).toEqual(['page_view', 'click', 'add_to_cart']);
    expect(r.batch.sent_at).toBe(Date.now());
  });

  test('sends a partial batch flushInterval ms after the first event, not before', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10, flushInterval: 2000 });
    sdk.page();
    await vi.advanceTimersByTimeAsync(1000);
    sdk.click('a#home');
    await vi.advanceTimersByTimeAsync(999);
    expect(net.requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(net.requests).toHaveLength(1);
    expect(net.requests[0].batch.events).toHaveLength(2);
    expect(net.requests[0].at).toBe(new Date('2026-11-22T10:00:02Z').getTime());
  });

  test('flush() sends at once; an endpoint with a query string gets &site=', async () => {
    sdk.init({ endpoint: 'https://collect.example.com/v1/events?v=1', siteKey: 'a b', batchSize: 10 });
    sdk.page();
    sdk.flush();
    expect(net.requests).toHaveLength(1);
    expect(net.requests[0].url).toBe('https://collect.example.com/v1/events?v=1&site=a%20b');
  });

  test('one request in flight at a time; the rest follows when it is answered', async () => {
    sdk.init({ siteKey: 'k', batchSize: 2 });
    const first = net.hang();
    for (let i = 0; i < 5; i++) sdk.click(`b${i}`);
    expect(net.requests).toHaveLength(1);
    net.status(200);
    await first.release(200);
    await settle();
    // Second batch went out as soon as the first was acknowledged; the fifth event waits for the interval.
    expect(net.requests.map((r) => r.batch.events.map((e) => (e as { element?: string }).element))).toEqual([
      ['b0', 'b1'],
      ['b2', 'b3'],
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(net.requests.map((r) => r.batch.events.length)).toEqual([2, 2, 1]);
    expect(stored()!.queue).toEqual([]);
  });

  test('every event carries identity, page and device context, and the landing page UTM (utm plugin)', async () => {
    sdk.utm();
    sdk.init({ siteKey: 'k', batchSize: 2 });
    sdk.identify('user-42');
    sdk.page();
    sdk.purchase({ orderId: 'o-1', revenue: 25, currency: 'EUR', items: [{ productId: 'mug-1', price: 12.5, quantity: 2 }] });
    const [a, b] = net.requests[0].batch.events;
    for (const e of [a, b]) {
      expect(e.event_id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
      expect(e.ts).toBe(Date.now());
      expect(e.url).toBe('http://localhost:3000/products/mug?utm_source=newsletter&utm_medium=email&utm_campaign=nov&ref=x');
      expect(e.title).toBe('Blue mug');
      expect(e.user_id).toBe('user-42');
      expect(e.screen).toMatch(/^\d+x\d+$/);
      expect(e.viewport).toBe(`${innerWidth}x${innerHeight}`);
      expect(e.language).toBe(navigator.language);
      expect(e.referrer).toBe(document.referrer);
      expect(e.utm_source).toBe('newsletter');
      expect(e.utm_medium).toBe('email');
      expect(e.utm_campaign).toBe('nov');
      expect(e).not.toHaveProperty('ref');
      expect(e).not.toHaveProperty('utm_term');
    }
    expect(a.event_id).not.toBe(b.event_id);
    expect(a.visitor_id).toBe(b.visitor_id);
    expect(a.session_id).toBe(b.session_id);
    expect(a.visitor_id).not.toBe(a.session_id);
    expect(b).toMatchObject({
      type: 'purchase',
      order_id: 'o-1',
      revenue: 25,
      currency: 'EUR',
      items: [{ product_id: 'mug-1', price: 12.5, quantity: 2 }],
    });
  });

  test('every builder produces events the gateway schema accepts (full field names, nothing extra)', async () => {
    sdk.utm();
    sdk.init({ siteKey: 'k', batchSize: 6 });
    document.title = 'x'.repeat(2000);
    history.replaceState(null, '', '/p?utm_term=' + 'y'.repeat(300) + '&q=' + 'z'.repeat(5000));
    sdk.reset();
    sdk.page();
    sdk.page({ url: 'http://localhost:3000/spa/route', referrer: 'http://localhost:3000/spa', title: 'Route' });
    sdk.click();
    sdk.click('a#long "' + 'w'.repeat(600) + '"', 'https://elsewhere.example/');
    sdk.addToCart({ productId: 'p', price: 0, currency: 'USD' });
    sdk.purchase({ orderId: 'o', revenue: 10.99, currency: 'USD' });
    const events = net.requests[0].batch.events;
    expect(events).toHaveLength(6);
    for (const e of events) expect(schemaErrors(e)).toEqual([]);
    expect(events[4]).toMatchObject({ type: 'add_to_cart', product_id: 'p', price: 0, quantity: 1, currency: 'USD' });
    expect(events[0].title).toHaveLength(1024);
    expect(events[0].url).toHaveLength(4096);
    expect(events[0].utm_term).toHaveLength(256);
    expect((events[3] as { element: string }).element).toHaveLength(512);
    expect(events[1]).toMatchObject({ url: 'http://localhost:3000/spa/route', referrer: 'http://localhost:3000/spa', title: 'Route' });
  });

  test('without the utm plugin (the npm core alone) no utm_* field is sent', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    expect(net.requests[0].batch.events[0].url).toContain('utm_source=newsletter');
    expect(Object.keys(net.requests[0].batch.events[0]).filter((k) => k.startsWith('utm_'))).toEqual([]);
  });

  test('calls before init are ignored; init twice keeps the first options', async () => {
    sdk.page();
    sdk.flush();
    sdk.init({ siteKey: 'first', batchSize: 1 });
    sdk.init({ siteKey: 'second', batchSize: 1 });
    sdk.page();
    expect(net.requests).toHaveLength(1);
    expect(net.requests[0].url).toBe('/v1/events?site=first');
    expect(net.requests[0].batch.events).toHaveLength(1);
  });

  test('no cookies are written', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    sdk.identify('u');
    sdk.reset();
    expect(document.cookie).toBe('');
  });
});
