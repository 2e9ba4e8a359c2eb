// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { json, reload, sdkHooks, setHidden, settle, stored, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;

sdkHooks((s, n) => ((sdk = s), (net = n)), { after: () => setHidden(false) });

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

  test('a refused beacon (quota, no sendBeacon) leaves the events for the next chance', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10 });
    sdk.page();
    net.beaconResult(false);
    setHidden(true);
    expect(net.beacons).toHaveLength(0);
    expect(stored()!.queue.map((e) => e.type)).toEqual(['page_view']);
    net.beaconResult(true);
    setHidden(false);
    setHidden(true);
    expect(net.beacons.map(types)).toEqual([['page_view']]);

    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: undefined });
    sdk.click('no-beacon-api');
    expect(() => dispatchEvent(new Event('pagehide'))).not.toThrow();
    expect(stored()!.queue.map((e) => e.type)).toEqual(['click']);
    expect(stored()!.unconfirmed.map((e) => e.type)).toEqual(['page_view']);
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

  test('a fetch in flight when the page is hidden is not beaconed again: its keepalive request outlives the page', async () => {
    sdk.init({ siteKey: 'k', batchSize: 2 });
    const inFlight = net.hang();
    sdk.page();
    sdk.click('a'); // the batch of 2 is fetched, unanswered
    sdk.click('b');
    setHidden(true);
    expect(net.requests.map(types)).toEqual([['page_view', 'click']]);
    expect(net.beacons.map(types)).toEqual([['click']]);
    // Answered while the page still lives: confirmed by the answer, nothing left.
    await inFlight.release(200);
    expect(stored()!.unconfirmed.map((e) => (e as { element?: string }).element)).toEqual(['b']);
    expect(stored()!.queue).toEqual([]);
  });
});

describe('what was beaconed is not sent again: one probe confirms it', () => {
  const ids = (events: { event_id: string }[]) => events.map((e) => e.event_id);
  /** The gateway's 200: per-event results (as now), or only the counts when every event was accepted. */
  const answer = (dupOf: (id: string) => boolean, withResults = true) =>
    net.reply((n) => {
      const events = net.requests[n - 1].batch.events;
      const results = events.map((e, index) => ({ index, event_id: e.event_id, status: dupOf(e.event_id) ? 'duplicate' : 'accepted' }));
      const duplicate = results.filter((r) => r.status === 'duplicate').length;
      return Promise.resolve(json(duplicate || withResults ? { accepted: events.length - duplicate, duplicate, results } : { accepted: events.length }));
    });

  test('page close with pending events: one beacon; the next page sends them again only as one probe, which confirms them all', async () => {
    sdk.init({ siteKey: 'k', batchSize: 20, flushInterval: 1000 });
    sdk.page();
    for (let i = 0; i < 9; i++) sdk.click(`c${i}`);
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons).toHaveLength(1);
    const beaconed = ids(net.beacons[0].batch.events);
    expect(beaconed).toHaveLength(10);
    expect(net.requests).toHaveLength(0);
    expect(stored()!.unconfirmed.map((e) => e.event_id)).toEqual(beaconed);

    const next = await reload({ crash: true }); // pagehide already fired
    const arrived = new Set(beaconed);
    answer((id) => arrived.has(id));
    next.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    next.page();
    await vi.advanceTimersByTimeAsync(1000);
    // The new view goes out; nothing beaconed yet (grace of 10 s).
    expect(net.requests.map((r) => ids(r.batch.events))).toHaveLength(1);
    expect(ids(net.requests[0].batch.events).filter((id) => arrived.has(id))).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    // One probe: the newest beaconed event, alone; the gateway had it: all ten are confirmed.
    expect(net.requests.map((r) => ids(r.batch.events))).toEqual([ids(net.requests[0].batch.events), [beaconed[9]]]);
    expect(stored()!.unconfirmed).toEqual([]);
    expect(stored()!.queue).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(2);
    // Copies the gateway saw: 1 for 10 events.
    expect(net.ids().filter((id) => arrived.has(id))).toHaveLength(1);
  });

  test.each([
    ['per-event results', true],
    ['counts only (every event accepted)', false],
  ])('a probe the gateway did not have (%s): the beacon was lost, every event of it is sent again', async (_, withResults) => {
    sdk.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    sdk.page();
    sdk.click('a');
    sdk.click('b');
    dispatchEvent(new Event('pagehide'));
    const beaconed = ids(net.beacons[0].batch.events);
    const next = await reload({ crash: true });
    answer(() => false, withResults);
    next.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    await vi.advanceTimersByTimeAsync(12_000);
    expect(net.requests.map((r) => ids(r.batch.events))).toEqual([[beaconed[2]], [beaconed[0], beaconed[1]]]);
    expect(stored()!.unconfirmed).toEqual([]);
    expect(stored()!.queue).toEqual([]);
  });

  test('the probe goes alone, before events waiting to be sent: the answer\'s duplicate count is about it', async () => {
    sdk.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    sdk.page();
    sdk.click('a');
    dispatchEvent(new Event('pagehide'));
    const beaconed = ids(net.beacons[0].batch.events);
    const next = await reload({ crash: true });
    // Counts only, as the gateway answers when it was asked for no per-event results.
    net.reply((n) => Promise.resolve(json({ accepted: 0, duplicate: n == 1 ? 1 : 0 })));
    next.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    vi.setSystemTime(Date.now() + 11_000);
    next.click('waiting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.requests[0].batch.events.map((e) => e.event_id)).toEqual([beaconed[1]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.requests.map((r) => r.batch.events.map((e) => (e as { element?: string }).element))).toEqual([['a'], ['waiting']]);
    expect(stored()!.unconfirmed).toEqual([]);
    expect(stored()!.queue).toEqual([]);
  });

  test('a fetch that fails after a beacon: the beaconed events are sent again (the network was down)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    sdk.init({ siteKey: 'k', batchSize: 10, flushInterval: 1000 });
    sdk.page();
    setHidden(true);
    const beaconed = ids(net.beacons[0].batch.events);
    setHidden(false);
    net.offline();
    sdk.click('x');
    await vi.advanceTimersByTimeAsync(1000); // fails
    net.status(200);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.requests.at(-1)!.batch.events.map((e) => e.event_id)).toEqual([...beaconed, net.requests[0].batch.events[0].event_id]);
    expect(stored()!.queue).toEqual([]);
  });

  test('while fetches fail, a page hide still beacons once but keeps the events queued', async () => {
    sdk.init({ siteKey: 'k', batchSize: 1 });
    net.offline();
    sdk.page();
    await settle();
    sdk.click('x');
    dispatchEvent(new Event('pagehide'));
    expect(net.beacons.map(types)).toEqual([['page_view'], ['click']]);
    expect(stored()!.queue.map((e) => e.type)).toEqual(['page_view', 'click']);
    expect(stored()!.unconfirmed).toEqual([]);
  });
});
