// @vitest-environment happy-dom
/**
 * Several tabs: each page keeps its queue under its own key and only ever writes that one, so no
 * tab can overwrite another's events; the queues of pages that are gone are taken over (adopted)
 * by a live page. Other pages are simulated by writing their entries as the SDK does. The same
 * with real tabs in Chromium: test/e2e/sdk-tabs.e2e.test.ts.
 */
import { describe, expect, test, vi } from 'vitest';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { json, pageEntries, reload, sdkHooks, setHidden, settle, stored, T0, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;
sdkHooks((s, n) => ((sdk = s), (net = n)));

const ev = (id: string) => ({ event_id: id, type: 'click', ts: T0, visitor_id: 'v', session_id: 's', url: 'http://x/', referrer: '', title: '', language: 'en', screen: '1x1', viewport: '1x1' }) as ClientEvent;
/** Another page's entry, as its SDK writes it: [time written (0: gone), queue]; unconfirmed events carry `$`, when they left. */
const otherPage = (key: string, written: number, queue: string[], unconfirmed: string[] = []) =>
  localStorage.setItem(key, JSON.stringify([written, [...unconfirmed.map((id) => ({ ...ev(id), $: written || T0 })), ...queue.map(ev)]]));
const sentIds = () => net.ids();
/** pagehide / pageshow of a page entering or leaving the back/forward cache (happy-dom's PageTransitionEvent has no `persisted`). */
const bfcache = (type: string) => Object.assign(new Event(type), { persisted: true });

describe('one queue key per page; the queues of pages that are gone are adopted', () => {
  test("each page writes only its own key: two pages' events are both kept", async () => {
    otherPage('cs.other', T0, ['o1', 'o2']);
    net.offline();
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.click('mine');
    const entries = pageEntries();
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.key === 'cs.other')!.queue.map((e) => e.event_id)).toEqual(['o1', 'o2']);
    expect(stored()!.queue).toHaveLength(3);
  });

  test('a page that is gone (marked at pagehide) is adopted at load: sent once, its key removed after ours was written', async () => {
    otherPage('cs.closed', 0, ['c1', 'c2'], ['b1']);
    sdk.init({ siteKey: 'k', batchSize: 100, flushInterval: 1000 });
    expect(localStorage.getItem('cs.closed')).toBeNull();
    const [mine] = pageEntries();
    expect(mine.queue.map((e) => e.event_id)).toEqual(['c1', 'c2']);
    expect(mine.unconfirmed.map((e) => e.event_id)).toEqual(['b1']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sentIds()).toEqual(['c1', 'c2']);
  });

  test('queues taken over go first, whenever their events left: the probe is the event that left last, and confirms them all', async () => {
    // As a page that took a closed tab's queue over (beaconed later) before its own beaconed events stores it.
    const left = (id: string, $: number) => ({ ...ev(id), $ });
    localStorage.setItem('cs.gone', JSON.stringify([0, [left('closed-tab', T0 - 2000), left('own', T0 - 5000), left('own2', T0 - 5000)]]));
    net.reply(() => Promise.resolve(json({ accepted: 0, duplicate: 1 })));
    sdk.init({ siteKey: 'k', batchSize: 100, flushInterval: 1000 });
    await vi.advanceTimersByTimeAsync(7000);
    expect(sentIds()).toEqual([]); // 10 s after the last one left, not after the first
    await vi.advanceTimersByTimeAsync(3000);
    expect(sentIds()).toEqual(['closed-tab']);
    expect(pageEntries()).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sentIds()).toEqual(['closed-tab']);
  });

  test('an entry taken over again (its page wrote it after the first takeover): a copy that arrived by fetch never serves as the probe of a lost beacon', async () => {
    const left = (id: string, $?: number) => ({ ...ev(id), ...($ ? { $ } : {}) });
    // The gateway has what fetches carried: the closed tab's beacons were lost.
    const arrived = new Set<string>();
    net.reply((n) => {
      const ids = net.requests[n - 1].batch.events.map((e) => e.event_id);
      const duplicate = ids.filter((id) => arrived.has(id)).length;
      for (const id of ids) arrived.add(id);
      return Promise.resolve(json({ accepted: ids.length - duplicate, duplicate }));
    });
    sdk.init({ siteKey: 'k', batchSize: 100, flushInterval: 1000 });
    // The closed tab's pagehide: c and a beaconed; taken over here; then the tab records its
    // engagement report r (written unsent, taken over again) and beacons it (taken over again).
    for (const entry of [
      [left('c', T0), left('a', T0)],
      [left('c', T0), left('a', T0), left('r')],
      [left('c', T0), left('a', T0), left('r', T0 + 4)],
    ]) {
      localStorage.setItem('cs.closed', JSON.stringify([0, entry]));
      dispatchEvent(new StorageEvent('storage', { key: 'cs.closed' }));
    }
    await vi.advanceTimersByTimeAsync(30_000);
    expect([...arrived].sort()).toEqual(['a', 'c', 'r']);
    expect(pageEntries()).toEqual([]);
  });

  test('a page writing again after it is marked gone (its engagement report, its visibilitychange beacon): a page that read an earlier entry and removes it afterwards takes nothing away', async () => {
    const element = (e: ClientEvent) => (e as { element?: string }).element;
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.click('before');
    net.offline(); // the beacons are lost, as when the network is cut
    dispatchEvent(new Event('pagehide')); // marked gone: from now on another page may take the entry over
    // Another tab reads the entry (its storage event) ...
    const read = pageEntries();
    expect(read.flatMap((e) => [...e.queue, ...e.unconfirmed]).map(element)).toEqual(['before']);
    // ... this page records once more and writes (in Chromium the other tab's removal can reach
    // the storage after these writes, as other processes' writes do) ...
    sdk.click('after');
    setHidden(true);
    // ... and only then the other tab's removal of what it read lands.
    for (const e of read) localStorage.removeItem(e.key);
    const kept = pageEntries().flatMap((e) => [...e.queue, ...e.unconfirmed]);
    expect(kept.map(element), 'what the closing page wrote after the entry was read').toContain('after');
    expect(pageEntries().every((e) => e.written === 0), 'still marked gone').toBe(true);
  });

  test('a live page is left alone until it is gone; then a live page adopts it at once (storage event)', async () => {
    otherPage('cs.live', T0, ['l1']);
    sdk.init({ siteKey: 'k', batchSize: 100, flushInterval: 1000 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(sentIds()).toEqual([]);
    expect(localStorage.getItem('cs.live')).not.toBeNull();
    // The other tab is closed: its pagehide marks the entry (a storage event here).
    otherPage('cs.live', 0, ['l1', 'l2']);
    dispatchEvent(new StorageEvent('storage', { key: 'cs.live' }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(sentIds()).toEqual(['l1', 'l2']);
    expect(localStorage.getItem('cs.live')).toBeNull();
    expect(stored()!.queue).toEqual([]);
  });

  test('a page that stopped writing 30 minutes ago (crashed, killed) is adopted', async () => {
    otherPage('cs.crashed', T0 - 30 * 60e3 - 1, ['x1']);
    otherPage('cs.recent', T0 - 29 * 60e3, ['x2']);
    sdk.init({ siteKey: 'k', batchSize: 1 });
    await settle();
    expect(sentIds()).toEqual(['x1']);
    expect(localStorage.getItem('cs.recent')).not.toBeNull();
  });

  test('a crashed page of this tab (no pagehide) is adopted 30 minutes later', async () => {
    net.offline();
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.click('before-crash');
    const next = await reload({ crash: true });
    net.status(200);
    next.init({ siteKey: 'k', batchSize: 100, flushInterval: 1000 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(sentIds()).toEqual([]);
    vi.setSystemTime(T0 + 31 * 60e3);
    next.click('later');
    dispatchEvent(new StorageEvent('storage', { key: 'cs' }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.requests.at(-1)!.batch.events.map((e) => (e as { element?: string }).element)).toEqual(['before-crash', 'later']);
  });

  test('back from the back/forward cache after another page adopted our queue: nothing sent twice', async () => {
    net.offline();
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.click('a');
    net.beaconResult(false); // offline: nothing beaconed, the queue is left for the next page
    dispatchEvent(bfcache('pagehide'));
    const [entry] = pageEntries();
    expect(entry.written).toBe(0);
    // The next page (another instance) adopted it: simulated by removing the entry.
    localStorage.removeItem(entry.key);
    net.status(200);
    dispatchEvent(bfcache('pageshow'));
    sdk.flush();
    await settle();
    // The adopting page sends it; this one no longer holds it (the next test shows it would have).
    expect(net.requests.filter((r) => r.batch.events.some((e) => (e as { element?: string }).element === 'a'))).toHaveLength(0);
    expect(pageEntries()).toEqual([]);
  });

  test('back from the back/forward cache with the queue still ours: kept and sent', async () => {
    net.offline();
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.click('a');
    net.beaconResult(false);
    dispatchEvent(bfcache('pagehide'));
    net.status(200);
    dispatchEvent(bfcache('pageshow'));
    expect(pageEntries()[0].written).toBeGreaterThan(0);
    sdk.flush();
    await settle();
    expect(net.requests.at(-1)!.batch.events.map((e) => (e as { element?: string }).element)).toEqual(['a']);
    expect(stored()!.queue).toEqual([]);
  });

  test('consent(false) removes every page queue of the origin, not only this page', async () => {
    otherPage('cs.closed', 0, ['c1']);
    otherPage('cs.live', T0, ['l1']);
    localStorage.setItem('csrf', 'not ours');
    sdk.init({ siteKey: 'k', batchSize: 100 });
    sdk.consent(false);
    expect(Object.keys(localStorage)).toEqual(['csrf']);
  });
});
