// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { reload, sdkHooks, settle, stored, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;
const MIN = 60_000;

sdkHooks((s, n) => ((sdk = s), (net = n)), { before: () => history.replaceState(null, '', '/landing?utm_source=ads&utm_campaign=winter') });

const events = (): ClientEvent[] => net.requests.flatMap((r) => r.batch.events);

describe('sessions', () => {
  test('a session survives 30 minutes of inactivity to the millisecond, not one more', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    await vi.advanceTimersByTimeAsync(30 * MIN);
    sdk.click('still');
    await vi.advanceTimersByTimeAsync(30 * MIN + 1);
    sdk.click('new');
    const [a, b, c] = events();
    expect(b.session_id).toBe(a.session_id);
    expect(c.session_id).not.toBe(a.session_id);
    expect(new Set([a, b, c].map((e) => e.visitor_id)).size).toBe(1);
  });

  test('activity keeps it alive: two hours of events 29 minutes apart are one session', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    for (let i = 0; i < 5; i++) {
      sdk.page();
      await vi.advanceTimersByTimeAsync(29 * MIN);
    }
    expect(new Set(events().map((e) => e.session_id)).size).toBe(1);
  });

  test('the session and visitor carry over to the next page load; the session expires across loads too', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    const first = events()[0];
    await vi.advanceTimersByTimeAsync(10 * MIN);
    let page2 = await reload();
    page2.init({ siteKey: 'k', batchSize: 1 });
    page2.page();
    expect(events()[1]).toMatchObject({ visitor_id: first.visitor_id, session_id: first.session_id });

    await vi.advanceTimersByTimeAsync(31 * MIN);
    page2 = await reload();
    page2.init({ siteKey: 'k', batchSize: 1 });
    page2.page();
    expect(events()[2].visitor_id).toBe(first.visitor_id);
    expect(events()[2].session_id).not.toBe(first.session_id);
  });

  test('another tab that keeps the session alive keeps it alive here too (shared storage)', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    const sid = events()[0].session_id;
    // The other tab writes a fresh "last event" time into the shared storage.
    await vi.advanceTimersByTimeAsync(20 * MIN);
    const s = JSON.parse(localStorage.getItem('cs')!);
    s[2] = Date.now();
    localStorage.setItem('cs', JSON.stringify(s));
    await vi.advanceTimersByTimeAsync(20 * MIN);
    sdk.click('here');
    expect(events()[1].session_id).toBe(sid);
  });

  test('UTM parameters of the landing page stay on every event of the session, and only there (utm plugin)', async () => {
    sdk.utm();
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    history.replaceState(null, '', '/products/1');
    sdk.page();
    await vi.advanceTimersByTimeAsync(31 * MIN);
    sdk.page();
    const [landing, later, nextSession] = events();
    expect(landing).toMatchObject({ utm_source: 'ads', utm_campaign: 'winter' });
    expect(later).toMatchObject({ url: 'http://localhost:3000/products/1', utm_source: 'ads', utm_campaign: 'winter' });
    expect(nextSession).not.toHaveProperty('utm_source');
    expect(nextSession).not.toHaveProperty('utm_campaign');
  });

  test('identify() attaches the user id, across loads; reset() starts a new visitor and session without it', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    await settle();
    sdk.identify('user-7');
    sdk.click('a');
    await settle();
    const page2 = await reload();
    page2.init({ siteKey: 'k', batchSize: 1 });
    page2.click('b');
    await settle();
    page2.reset();
    page2.click('c');
    const [anon, known, knownNextPage, afterReset] = events();
    expect(anon).not.toHaveProperty('user_id');
    expect(known.user_id).toBe('user-7');
    expect(knownNextPage.user_id).toBe('user-7');
    expect(afterReset).not.toHaveProperty('user_id');
    expect(afterReset.visitor_id).not.toBe(anon.visitor_id);
    expect(afterReset.session_id).not.toBe(anon.session_id);
    expect(knownNextPage.visitor_id).toBe(anon.visitor_id);
    expect(stored()!.visitor).toBe(afterReset.visitor_id);
  });

  test('when writes start failing (storage full), an older stored state never comes back', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    const before = events()[0];
    const setItem = vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError');
    });
    // Property assignment (localStorage.cs = ...) goes through the same quota check in browsers.
    const real = Object.getOwnPropertyDescriptor(window, 'localStorage')!;
    const stale = localStorage.getItem('cs');
    Object.defineProperty(window, 'localStorage', {
      configurable: true,
      value: new Proxy(localStorage, {
        get: (t, k) => (k === 'cs' ? stale : Reflect.get(t, k)),
        set: () => {
          throw new DOMException('full', 'QuotaExceededError');
        },
      }),
    });
    try {
      await vi.advanceTimersByTimeAsync(MIN);
      sdk.reset();
      sdk.click('after-reset');
      await vi.advanceTimersByTimeAsync(20 * MIN);
      sdk.click('later');
      const [, afterReset, later] = events();
      expect(afterReset.visitor_id).not.toBe(before.visitor_id);
      expect(later.visitor_id).toBe(afterReset.visitor_id);
      expect(later.session_id).toBe(afterReset.session_id);
    } finally {
      Object.defineProperty(window, 'localStorage', real);
      setItem.mockRestore();
    }
  });
});
