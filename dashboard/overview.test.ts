/**
 * GET /api/overview and /api/breakdown: parameters, the searches sent, and the answers built from
 * Elasticsearch's aggregations (fake client; the real one in test/e2e/dashboard-page.e2e.test.ts).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import type { FastifyInstance } from 'fastify';
import { buildDashboard } from './app.js';
import { overviewResponse, overviewSearch, parseSiteRange, parseSites } from './overview-query.js';
import { breakdownResponse, breakdownSearch, parseBreakdownQuery } from './breakdown-query.js';
import { windowLabel } from './labels.js';
import { parseKpiQuery } from './kpis-query.js';
import { ParamError } from './errors.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('window labels', () => {
  test.each([
    ['tumbling_1m', 'per minute'],
    ['tumbling_5m', 'per 5 minutes'],
    ['tumbling_1h', 'per hour'],
    ['sliding_5m_1m', '5-minute totals, every minute'],
    ['sliding_1h_5m', '1-hour totals, every 5 minutes'],
    ['custom', 'custom'],
  ])('%s -> %s', (kind, label) => expect(windowLabel(kind)).toBe(label));
});

test('KPI windows of one currency: dimension=currency', () => {
  expect(parseKpiQuery({ dimension: 'currency', value: 'JPY' }, NOW, 'tumbling_1m')).toMatchObject({ dimension: 'currency', value: 'JPY' });
});

describe('site selection', () => {
  test.each([
    [undefined, []],
    ['', []],
    ['shop-a', ['shop-a']],
    ['shop-a, shop-b,shop-a', ['shop-a', 'shop-b']],
  ])('%j -> %j', (raw, want) => expect(parseSites(raw)).toEqual(want));
  test('refuses too many sites and control characters', () => {
    expect(() => parseSites(Array.from({ length: 21 }, (_, i) => `s${i}`).join(','))).toThrow(ParamError);
    expect(() => parseSites('a\u0001')).toThrow(ParamError);
  });
});

describe('overview search and answer', () => {
  const q = parseSiteRange({ from: '1000', to: '2000', site: 'shop-a,shop-b' }, NOW);
  test('range on event time for everything; sites only inside `selected`; bots apart', () => {
    const s = overviewSearch('cs-events-*', q, NOW);
    expect(s.index).toBe('cs-events-*');
    expect(s.query).toEqual({ bool: { filter: [{ range: { timestamp: { gte: 1000, lt: 2000, format: 'epoch_millis' } } }] } });
    const sel = s.aggs!.selected;
    expect(sel.filter).toEqual({ bool: { filter: [{ terms: { site_id: ['shop-a', 'shop-b'] } }] } });
    expect(sel.aggs!.humans.filter).toEqual({ bool: { must_not: [{ term: { is_bot: true } }] } });
    expect(sel.aggs!.bots.filter).toEqual({ term: { is_bot: true } });
    expect(JSON.stringify(sel.aggs!.humans.aggs!.now)).toContain(`"gte":${NOW - 300_000}`);
    expect(JSON.stringify(s)).not.toMatch(/script|runtime_mappings|bucket_/);
  });
  test('answer: distinct counts, funnel with drop-off, revenue per currency, bot share', () => {
    const res = {
      aggregations: {
        sites: { buckets: [{ key: 'shop-a', doc_count: 30 }, { key: 'shop-b', doc_count: 10 }] },
        first_event: { value: 1500, value_as_string: '1970-01-01T00:00:01.500Z' },
        selected: {
          doc_count: 40,
          bots: { doc_count: 10, visitors: { value: 2 } },
          humans: {
            doc_count: 30,
            visitors: { value: 8 },
            sessions: { value: 9 },
            types: { buckets: [{ key: 'page_view', doc_count: 20 }, { key: 'click', doc_count: 5 }, { key: 'add_to_cart', doc_count: 3 }, { key: 'purchase', doc_count: 2 }] },
            views: { doc_count: 18, visitors: { value: 8 } },
            carts: { doc_count: 3, visitors: { value: 4 } },
            purchases: {
              doc_count: 2,
              visitors: { value: 1 },
              currencies: { buckets: [{ key: 'EUR', doc_count: 1, revenue: { value: 24.5 } }, { key: 'JPY', doc_count: 1, revenue: { value: 1200.00000000001 } }] },
            },
            now: { doc_count: 4, visitors: { value: 3 } },
          },
        },
      },
    };
    const r = overviewResponse(q, res as never);
    expect(r).toMatchObject({
      sites: ['shop-a', 'shop-b'],
      available_sites: [{ site: 'shop-a', events: 30 }, { site: 'shop-b', events: 10 }],
      first_event: '1970-01-01T00:00:01.500Z',
      visitors: 8,
      sessions: 9,
      page_views: 18,
      clicks: 5,
      add_to_cart: 3,
      purchases: 2,
      conversion_rate: 1 / 8,
      cart_to_purchase_rate: 1 / 4,
      revenue: [
        { currency: 'EUR', purchases: 1, revenue: 24.5 },
        { currency: 'JPY', purchases: 1, revenue: 1200 },
      ],
      visitors_now: 3,
      bots: { events: 10, visitors: 2, share_of_events: 0.25 },
    });
    expect(r.funnel).toEqual([
      { step: 'page_view', visitors: 8, from_previous: null, drop_off: null },
      { step: 'add_to_cart', visitors: 4, from_previous: 0.5, drop_off: 0.5 },
      { step: 'purchase', visitors: 1, from_previous: 0.25, drop_off: 0.75 },
    ]);
  });
  test('an empty index: zeros and no rates, never NaN', () => {
    const r = overviewResponse(q, { aggregations: {} } as never);
    expect(r).toMatchObject({ visitors: 0, conversion_rate: null, revenue: [], first_event: null, bots: { events: 0, share_of_events: null } });
    expect(r.funnel.map((s) => s.from_previous)).toEqual([null, null, null]);
  });
});

describe('breakdown search and answer', () => {
  test.each([
    [{ by: 'nope' }, /by must be/],
    [{ sort: 'revenue' }, /sort=revenue needs currency=/],
    [{ sort: 'total' }, /sort must be/],
    [{ limit: '101' }, /limit/],
  ])('%j is refused', (raw, msg) => expect(() => parseBreakdownQuery(raw, NOW)).toThrow(msg));
  test('pages: grouped by the URL the gateway normalised, bots out, sorted by conversions then key', () => {
    const q = parseBreakdownQuery({ by: 'page', sort: 'conversions', site: 'shop-a' }, NOW);
    const s = breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, q);
    expect(s.index).toBe('cs-events-*');
    expect(s.aggs!.rows.terms).toMatchObject({ field: 'url', size: 10, order: [{ 'conversions>n': 'desc' }, { _key: 'asc' }] });
    expect(JSON.stringify(s.query)).toContain('"must_not":[{"term":{"is_bot":true}}]');
    expect(JSON.stringify(s.query)).toContain('{"terms":{"site_id":["shop-a"]}}');
  });
  test('sources: external referrers only (a click from the site\'s own pages is no source)', () => {
    const internal = '{"must_not":[{"term":{"referrer_type":"internal"}}]}';
    const s = breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, parseBreakdownQuery({ by: 'source' }, NOW));
    expect(s.aggs!.rows.terms).toMatchObject({ field: 'referrer_host' });
    expect(JSON.stringify(s.query)).toContain(internal);
    expect(JSON.stringify(breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, parseBreakdownQuery({ by: 'country' }, NOW)).query)).not.toContain(internal);
  });
  test('sort=revenue orders by one currency\'s revenue and needs that currency', () => {
    expect(() => parseBreakdownQuery({ by: 'country', sort: 'revenue' }, NOW)).toThrow(/currency=/);
    expect(() => parseBreakdownQuery({ by: 'country', sort: 'revenue', currency: 'eur' }, NOW)).toThrow(/ISO 4217/);
    const s = breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, parseBreakdownQuery({ by: 'country', sort: 'revenue', currency: 'JPY' }, NOW));
    expect(s.aggs!.rows.terms).toMatchObject({ order: [{ 'sort_revenue>v': 'desc' }, { _key: 'asc' }] });
    expect(s.aggs!.rows.aggs!.sort_revenue).toEqual({ filter: { bool: { filter: [{ term: { event_type: 'purchase' } }, { term: { currency: 'JPY' } }] } }, aggs: { v: { sum: { field: 'revenue' } } } });
    const e = breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, parseBreakdownQuery({ by: 'entry_page', sort: 'revenue', currency: 'EUR' }, NOW));
    expect(e.aggs!.rows.terms).toMatchObject({ order: [{ 'sort_revenue>c>v': 'desc' }, { _key: 'asc' }] });
    expect(JSON.stringify(e.aggs!.rows.aggs!.sort_revenue)).toContain('"nested":{"path":"revenue_by_currency"}');
  });
  test('entry pages come from the sessions that started in the range', () => {
    const q = parseBreakdownQuery({ by: 'entry_page', from: '1000', to: '2000' }, NOW);
    const s = breakdownSearch({ eventsPattern: 'cs-events-*', sessions: 'cs-sessions' }, q);
    expect(s.index).toBe('cs-sessions');
    expect(s.query).toEqual({ bool: { filter: [{ range: { start: { gte: 1000, lt: 2000, format: 'epoch_millis' } } }] } });
    expect(s.aggs!.rows.terms).toMatchObject({ field: 'entry_page' });
  });
  test('answer rows', () => {
    const q = parseBreakdownQuery({ by: 'page' }, NOW);
    const r = breakdownResponse(q, {
      aggregations: {
        rows: {
          sum_other_doc_count: 7,
          buckets: [
            { key: 'https://shop.example/thanks.html', doc_count: 4, visitors: { value: 2 }, views: { doc_count: 2 }, conversions: { doc_count: 2, n: { value: 2 }, currencies: { buckets: [{ key: 'EUR', doc_count: 2, revenue: { value: 10.1 } }] } } },
          ],
        },
      },
    } as never);
    expect(r.rows).toEqual([{ value: 'https://shop.example/thanks.html', visitors: 2, views: 2, conversions: 2, revenue: [{ currency: 'EUR', purchases: 2, revenue: 10.1 }] }]);
    expect(r.others).toBe(7);
  });
});

describe('routes', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  const seen: { index?: string }[] = [];
  const es = { search: async (req: { index?: string }) => (seen.push(req), { hits: { hits: [] }, aggregations: {} }), close: async () => {} } as unknown as Client;

  test('/api/overview and /api/breakdown answer; a bad parameter is DASH_ERR_PARAM', async () => {
    app = await buildDashboard({ es, config: { esIndexPrefix: 'cs' }, logger: pino({ level: 'silent' }), now: () => NOW });
    const o = await app.inject('/api/overview?site=shop-a');
    expect(o.statusCode).toBe(200);
    expect(o.json()).toMatchObject({ sites: ['shop-a'], visitors: 0, from: new Date(NOW - 3_600_000).toISOString() });
    expect(o.headers['cache-control']).toBe('no-store');
    expect(seen.at(-1)!.index).toBe('cs-events-*');
    const b = await app.inject('/api/breakdown?by=exit_page');
    expect(b.statusCode).toBe(200);
    expect(seen.at(-1)!.index).toBe('cs-sessions');
    const bad = await app.inject('/api/breakdown?by=zip');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('DASH_ERR_PARAM');
    const meta = await app.inject('/api/meta');
    expect(meta.json().window_labels).toEqual({ tumbling_1m: 'per minute', sliding_5m_1m: '5-minute totals, every minute' });
  });
});
