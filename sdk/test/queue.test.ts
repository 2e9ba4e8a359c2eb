// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { pageEntries, reload, sdkHooks, settle, stored, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;

sdkHooks((s, n) => ((sdk = s), (net = n)));

const elements = (events: object[]) => events.map((e) => (e as { element?: string }).element);

describe('offline queue in localStorage', () => {
  test('bounded: the oldest events go first, in memory as in storage (what is sent is what is kept)', async () => {
    sdk.init({ siteKey: 'k', batchSize: 100, maxBytes: 2500 });
    net.offline();
    for (let i = 0; i < 8; i++) sdk.click(`e${i}`);
    const kept = elements(stored()!.queue);
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length).toBeLessThan(8);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `e${8 - kept.length + i}`));
    sdk.flush();
    expect(elements(net.requests[0].batch.events)).toEqual(kept);
  });

  test('bounded in bytes: what is stored stays under maxBytes, keeping the newest events', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1000, maxBytes: 4000 });
    net.offline();
    for (let i = 0; i < 40; i++) sdk.click(`event-${i}`);
    const [page] = pageEntries();
    const raw = localStorage.getItem(page.key)!;
    expect(raw.length).toBeLessThanOrEqual(4000);
    const kept = elements(stored()!.queue);
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(40);
    // Contiguous and ending with the newest.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `event-${40 - kept.length + i}`));
    // One more event would not have fitted.
    expect(raw.length + JSON.stringify(stored()!.queue[0]).length + 1).toBeGreaterThan(4000);
  });

  test('a bound smaller than the identity itself keeps nothing, without hanging', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1000, maxBytes: 10 });
    net.offline();
    sdk.page();
    expect(stored()!.queue).toEqual([]);
  });

  test('survives a reload: events recorded offline are sent, with their ids, by the next page', async () => {
    sdk.init({ siteKey: 'k', batchSize: 2 });
    net.offline();
    sdk.click('a');
    sdk.click('b');
    sdk.click('c');
    await settle();
    const before = stored()!.queue.map((e) => e.event_id);
    expect(before).toHaveLength(3);

    const n = net.requests.length;
    const next = await reload();
    net.status(200);
    next.init({ siteKey: 'k', batchSize: 2 });
    next.page();
    await vi.advanceTimersByTimeAsync(5000);
    const delivered = net.requests.slice(n).map((r) => r.batch.events.map((e) => e.type));
    expect(delivered).toEqual([['click', 'click'], ['click', 'page_view']]);
    expect(net.ids().slice(-4, -1)).toEqual(before);
    expect(stored()!.queue).toEqual([]);
  });

  test('queued events from an earlier page go out after the interval even with no new event', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10, flushInterval: 3000 });
    net.offline();
    sdk.click('left-over');
    sdk.flush();
    await settle();
    const next = await reload();
    net.status(200);
    const n = net.requests.length;
    next.init({ siteKey: 'k', batchSize: 10, flushInterval: 3000 });
    await vi.advanceTimersByTimeAsync(3000);
    expect(net.requests).toHaveLength(n + 1);
    expect(elements(net.requests[n].batch.events)).toEqual(['left-over']);
  });

  test('without localStorage (blocked or throwing) the SDK works from memory', async () => {
    vi.spyOn(Storage.prototype, 'getItem').mockImplementation(() => {
      throw new DOMException('blocked', 'SecurityError');
    });
    vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('quota', 'QuotaExceededError');
    });
    const real = Object.getOwnPropertyDescriptor(window, 'localStorage')!;
    Object.defineProperty(window, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('blocked', 'SecurityError');
      },
    });
    try {
      sdk.init({ siteKey: 'k', batchSize: 2 });
      sdk.page();
      sdk.click('a');
      sdk.identify('u1');
      sdk.click('b');
      sdk.click('c');
      await settle();
      const [first, second] = net.requests.map((r) => r.batch.events);
      expect(first.map((e) => e.type)).toEqual(['page_view', 'click']);
      expect(second.map((e) => e.user_id)).toEqual(['u1', 'u1']);
      const visitors = new Set([...first, ...second].map((e) => e.visitor_id));
      const sessions = new Set([...first, ...second].map((e) => e.session_id));
      expect(visitors.size).toBe(1);
      expect(sessions.size).toBe(1);
    } finally {
      Object.defineProperty(window, 'localStorage', real);
    }
  });
});
