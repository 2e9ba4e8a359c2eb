import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import type { EnrichedEvent, EventType } from '../../contracts/event-schema.js';
import * as kpi from './kpi.js';
import { addToSession, initSession, sessionResult, visitTimes, VisitTracker } from './session.js';
import { addUrlEvent, addUrlTime, initUrl, urlResult } from './url-stats.js';
import { Handles } from './handles.js';
import { sliding, tumbling } from '../../contracts/windows.js';
import { windowStarts } from './windows.js';
import { enriched } from '../../test/harness/traffic.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const min = 60_000;

let seq = 0;
function ev(type: EventType, at: number, over: Partial<EnrichedEvent> = {}): EnrichedEvent {
  return enriched({
    event_id: `id${String(seq++).padStart(5, '0')}`,
    event_type: type,
    timestamp: new Date(at).toISOString(),
    visitor_id: 'v1',
    session_id: 's1',
    url: '/a',
    ...over,
  });
}

describe('windows', () => {
  test.each([
    ['tumbling 1m, at a start', tumbling(min), T0, [T0]],
    ['tumbling 1m, inside', tumbling(min), T0 + 59_999, [T0]],
    ['tumbling 1m, next', tumbling(min), T0 + 60_000, [T0 + min]],
    ['sliding 5m/1m', sliding(5 * min, min), T0 + 30_000, [T0 - 4 * min, T0 - 3 * min, T0 - 2 * min, T0 - min, T0]],
    ['sliding 5m/1m at a step', sliding(5 * min, min), T0, [T0 - 4 * min, T0 - 3 * min, T0 - 2 * min, T0 - min, T0]],
    ['sliding 10m/5m', sliding(10 * min, 5 * min), T0 + 7 * min, [T0, T0 + 5 * min]],
  ])('%s', (_name, spec, ts, expected) => {
    expect(windowStarts(ts, spec)).toEqual(expected);
    for (const s of windowStarts(ts, spec)) expect(s <= ts && ts < s + spec.sizeMs).toBe(true);
  });

  test.each([
    [tumbling(min), 'tumbling_1m'],
    [sliding(5 * min, min), 'sliding_5m_1m'],
    [sliding(90_000, 30_000), 'sliding_90s_30s'],
    [sliding(2 * min, 2 * min), 'tumbling_2m'],
  ])('kind name %#', (spec, kind) => expect(spec.kind).toBe(kind));

  test('a size that is not a multiple of the step is refused', () => {
    expect(() => sliding(5 * min, 2 * min)).toThrow(/multiple/);
  });
});

/** One window of one pane, as the engine keeps it: the pane's members (by handle) and the window's counts. */
function oneWindow() {
  const acc = kpi.init();
  const members = kpi.initMembers();
  const handles = new Map<string, number>();
  const handle = (id: string) => handles.get(id) ?? handles.set(id, handles.size).size - 1;
  return {
    acc,
    add(e: EnrichedEvent) {
      const v = handle(`v:${e.visitor_id}`);
      const gained = kpi.addMembers(members, e, v, handle(`s:${e.session_id}`));
      kpi.addCounts(acc, e);
      const both = ((gained & kpi.NEW_CARTER) !== 0 && members[kpi.BUYERS].has(v)) || ((gained & kpi.NEW_BUYER) !== 0 && members[kpi.CARTERS].has(v));
      kpi.addDistinct(acc, gained, both);
    },
  };
}

describe('KPI aggregate (init / addMembers, addCounts, addDistinct / result)', () => {
  const pv = (v: string, s = `s-${v}`) => ev('page_view', T0, { visitor_id: v, session_id: s });
  const click = (v: string) => ev('click', T0, { visitor_id: v, session_id: `s-${v}` });
  const cart = (v: string) => ev('add_to_cart', T0, { visitor_id: v, session_id: `s-${v}`, price: 5, quantity: 1 });
  const buy = (v: string, revenue: number, currency = 'EUR') => ev('purchase', T0, { visitor_id: v, session_id: `s-${v}`, revenue, currency });
  const engagement = (v: string) => ev('page_view', T0, { visitor_id: v, session_id: `s-${v}`, engagement_ms: 5000 });

  test.each<[string, EnrichedEvent[], number, Partial<kpi.KpiResult>]>([
    ['empty window', [], 0, { page_views: 0, unique_visitors: 0, conversion_rate: 0, cart_to_purchase_rate: 0, revenue_by_currency: [] }],
    ['views and clicks', [pv('a'), pv('a'), click('a'), pv('b')], 0, { page_views: 3, clicks: 1, unique_visitors: 2, sessions: 2 }],
    ['engagement report is not a view', [pv('a'), engagement('a')], 0, { page_views: 1, unique_visitors: 1 }],
    ['two sessions of one visitor', [pv('a', 's1'), pv('a', 's2')], 0, { unique_visitors: 1, sessions: 2 }],
    [
      'conversion = visitors who bought / visitors',
      [pv('a'), pv('b'), pv('c'), pv('d'), buy('a', 10), buy('a', 5)],
      0,
      { purchases: 2, visitors_purchased: 1, unique_visitors: 4, conversion_rate: 0.25, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 15 }] },
    ],
    [
      'cart to purchase = carted and bought / carted',
      [cart('a'), cart('b'), buy('a', 1), buy('c', 1)],
      0,
      { add_to_cart: 2, visitors_added_to_cart: 2, visitors_purchased: 2, visitors_carted_and_purchased: 1, cart_to_purchase_rate: 0.5 },
    ],
    ['revenue summed exactly', [buy('a', 0.1), buy('a', 0.2), buy('b', 19.99)], 0, { revenue_by_currency: [{ currency: 'EUR', purchases: 3, revenue: 20.29 }] }],
    [
      'revenue kept per currency, never added across currencies',
      [buy('a', 100), buy('b', 100, 'JPY'), buy('c', 0.5, 'CHF'), buy('b', 250, 'JPY')],
      0,
      { purchases: 4, revenue_by_currency: [{ currency: 'CHF', purchases: 1, revenue: 0.5 }, { currency: 'EUR', purchases: 1, revenue: 100 }, { currency: 'JPY', purchases: 2, revenue: 350 }] },
    ],
    ['late events counted, not added', [pv('a')], 3, { page_views: 1, late_events: 3 }],
  ])('%s', (_name, events, lateCount, expected) => {
    const w = oneWindow();
    for (const e of events) w.add(e);
    for (let i = 0; i < lateCount; i++) kpi.addLate(w.acc);
    expect(kpi.result(w.acc)).toMatchObject(expected);
  });

  test('the result does not depend on the order of events', () => {
    const events = [pv('a'), buy('a', 0.1), buy('b', 0.2), cart('b'), click('c'), buy('c', 0.3), engagement('a')];
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (order) => {
        const a = oneWindow();
        const b = oneWindow();
        for (const e of events) a.add(e);
        for (const e of order) b.add(e);
        expect(kpi.result(b.acc)).toEqual(kpi.result(a.acc));
      }),
    );
  });

  test.each([
    [{ site_id: 'shop', country: 'FR', device_type: 'mobile' }, [['all', 'all'], ['site', 'shop'], ['country', 'FR'], ['device', 'mobile']]],
    [{ site_id: null, country: null, device_type: '' }, [['all', 'all'], ['site', 'unknown'], ['country', 'unknown'], ['device', 'unknown']]],
    [{ event_type: 'add_to_cart', site_id: 'shop', country: 'FR', device_type: 'mobile', currency: 'EUR' }, [['all', 'all'], ['site', 'shop'], ['country', 'FR'], ['device', 'mobile']]],
    [{ event_type: 'purchase', site_id: 'shop', country: 'FR', device_type: 'mobile', currency: 'JPY' }, [['all', 'all'], ['site', 'shop'], ['country', 'FR'], ['device', 'mobile'], ['currency', 'JPY']]],
    [{ event_type: 'purchase', site_id: 'shop', country: 'FR', device_type: 'mobile', currency: null }, [['all', 'all'], ['site', 'shop'], ['country', 'FR'], ['device', 'mobile'], ['currency', 'unknown']]],
  ])('dimension values %#', (e, expected) => expect(kpi.dimensionValues(e as never)).toEqual(expected));
});

describe('session aggregate', () => {
  test.each<[string, EnrichedEvent[], Partial<ReturnType<typeof sessionResult>>]>([
    [
      'views, cart and purchase',
      [
        ev('page_view', T0, { url: '/home' }),
        ev('click', T0 + 5000, { url: '/home' }),
        ev('page_view', T0 + 10_000, { url: '/mug' }),
        ev('add_to_cart', T0 + 12_000, { url: '/mug' }),
        ev('purchase', T0 + 20_000, { url: '/checkout', revenue: 12.5, currency: 'EUR' }),
      ],
      {
        start: new Date(T0).toISOString(),
        end: new Date(T0 + 20_000).toISOString(),
        duration_ms: 20_000,
        pages: 2,
        events: 5,
        entry_page: '/home',
        exit_page: '/mug',
        added_to_cart: true,
        purchased: true,
        revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 12.5 }],
      },
    ],
    [
      'only clicks: no entry page',
      [ev('click', T0), ev('click', T0 + 1000)],
      { pages: 0, events: 2, entry_page: null, exit_page: null, duration_ms: 1000, purchased: false },
    ],
    [
      'same time: event id breaks the tie',
      [ev('page_view', T0, { url: '/first', event_id: 'b' }), ev('page_view', T0, { url: '/second', event_id: 'a' })],
      { entry_page: '/second', exit_page: '/first', duration_ms: 0 },
    ],
  ])('%s, in any order', (_name, events, expected) => {
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (order) => {
        const acc = initSession('s1');
        for (const e of order) addToSession(acc, e, Date.parse(e.timestamp));
        expect(sessionResult(acc, false)).toMatchObject(expected);
      }),
      { numRuns: 20 },
    );
  });
});

describe('time on page', () => {
  const at = (s: number) => T0 + s * 1000;
  test.each<[string, EnrichedEvent[], (number | null)[]]>([
    ['until the next view', [ev('page_view', at(0), { url: '/a' }), ev('page_view', at(30), { url: '/b' }), ev('page_view', at(45), { url: '/c' })], [30_000, 15_000, null]],
    ['clicks in between do not cut the view', [ev('page_view', at(0)), ev('click', at(10)), ev('click', at(20)), ev('page_view', at(60), { url: '/b' })], [60_000, null]],
    ['last view uses its engagement reports', [ev('page_view', at(0)), ev('page_view', at(10), { url: '/b' }), ev('page_view', at(50), { url: '/b', engagement_ms: 7000 }), ev('page_view', at(80), { url: '/b', engagement_ms: 3000 })], [10_000, 10_000]],
    ['an engagement report for another URL does not count', [ev('page_view', at(0), { url: '/b' }), ev('page_view', at(50), { url: '/a', engagement_ms: 7000 })], [null]],
    ['a report before the last view does not count for it', [ev('page_view', at(0), { url: '/b' }), ev('page_view', at(5), { url: '/b', engagement_ms: 4000 }), ev('page_view', at(9), { url: '/b' })], [9000, null]],
    ['single view without report: unknown', [ev('page_view', at(0))], [null]],
    ['no views at all', [ev('click', at(0)), ev('purchase', at(3))], []],
  ])('%s', (_name, events, expected) => {
    const times = visitTimes(events.map((e) => ({ ts: Date.parse(e.timestamp), e })));
    expect(times.map((v) => v.ms)).toEqual(expected);
  });

  test('the incremental tracker settles the same times in any arrival order', () => {
    const arb = fc.array(
      fc.record({
        dt: fc.integer({ min: 0, max: 20_000 }),
        kind: fc.constantFrom('view', 'click', 'report'),
        url: fc.constantFrom('/a', '/b'),
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 1e9 }), (steps, seed) => {
        let t = T0;
        const events = steps.map((s) => {
          t += s.dt;
          return s.kind === 'view' ? ev('page_view', t, { url: s.url }) : s.kind === 'click' ? ev('click', t, { url: s.url }) : ev('page_view', t, { url: s.url, engagement_ms: 1000 });
        });
        const expected = visitTimes(events.map((e) => ({ ts: Date.parse(e.timestamp), e })));
        // Arrive shuffled within a lateness of 30 s; settle against a watermark that trails
        // the latest arrival by that lateness, as the engine does.
        const order = [...events].sort((a, b) => Date.parse(a.timestamp) + ((seed * Date.parse(a.timestamp)) % 30_000) - (Date.parse(b.timestamp) + ((seed * Date.parse(b.timestamp)) % 30_000)));
        const tracker = new VisitTracker();
        const got: { id: string; ms: number | null }[] = [];
        let max = -Infinity;
        for (const e of order) {
          const ts = Date.parse(e.timestamp);
          tracker.add(e, ts, { url: e.url });
          max = Math.max(max, ts);
          for (const v of tracker.finalize(max - 30_000)) got.push({ id: v.id, ms: v.ms });
        }
        for (const v of tracker.close()) got.push({ id: v.id, ms: v.ms });
        expect(got).toEqual(expected.map((v) => ({ id: v.id, ms: v.ms })));
      }),
    );
  });
});

describe('URL x country aggregate', () => {
  test.each<[string, [EnrichedEvent[], (number | null)[]], Partial<ReturnType<typeof urlResult>>]>([
    ['users, views and clicks', [[ev('page_view', T0, { visitor_id: 'a' }), ev('click', T0, { visitor_id: 'a' }), ev('click', T0, { visitor_id: 'b' })], []], { unique_users: 2, page_views: 1, clicks: 2 }],
    ['average over views with a known time only', [[], [10_000, 20_000, null]], { time_spent_ms: 30_000, time_spent_samples: 2, views_without_time: 1, avg_time_spent_ms: 15_000 }],
    ['no known time: no average', [[], [null]], { avg_time_spent_ms: null, views_without_time: 1 }],
    [
      'purchases on the page: revenue per currency, never summed across currencies',
      [[ev('purchase', T0, { currency: 'EUR', revenue: 10.1 }), ev('purchase', T0, { currency: 'JPY', revenue: 1200 }), ev('purchase', T0, { currency: 'EUR', revenue: 0.2 }), ev('purchase', T0, { currency: null, revenue: 5 }), ev('page_view', T0)], []],
      { page_views: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 10.3 }, { currency: 'JPY', purchases: 1, revenue: 1200 }, { currency: 'unknown', purchases: 1, revenue: 5 }] },
    ],
    ['no purchase: an empty list', [[ev('page_view', T0)], []], { revenue_by_currency: [] }],
  ])('%s', (_name, [events, times], expected) => {
    const acc = initUrl();
    const visitors = new Handles();
    for (const e of events) addUrlEvent(acc, e, visitors.of(e.visitor_id));
    for (const ms of times) addUrlTime(acc, ms);
    expect(urlResult(acc)).toMatchObject(expected);
  });
});
