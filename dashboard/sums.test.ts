import { describe, expect, test } from 'vitest';
import {
  eventTotals,
  finishSessions,
  kpiWindowsFromAgg,
  kpiWindowsFromPartials,
  ratio,
  roundRevenue,
  sumKpiPartials,
  sumUrlPartials,
  urlStatsFromAgg,
  type KpiPartial,
  type KpiSums,
  type KpiWindowBucket,
  type UrlBucket,
  type UrlPartial,
} from './sums.js';
import { KPI_SUM_FIELDS, REVENUE_SCALE, type CurrencyRevenue } from '../contracts/documents.js';
import { kpiMappings, urlStatsMappings } from '../contracts/indices.js';

const zero: KpiSums = Object.fromEntries(KPI_SUM_FIELDS.map((f) => [f, 0])) as KpiSums;
type Part = Partial<KpiSums> & { revenue_by_currency?: CurrencyRevenue[] };
const part = (o: Part): Part => ({ ...zero, ...o });
const eur = (revenue: number, purchases = 1): CurrencyRevenue[] => [{ currency: 'EUR', purchases, revenue }];

describe('ratio', () => {
  test.each([
    [1, 4, 0.25],
    [0, 4, 0],
    [3, 0, null],
    [0, 0, null],
    [7, 7, 1],
  ])('%d / %d = %s', (n, d, want) => {
    expect(ratio(n, d)).toBe(want);
  });
});

describe('roundRevenue: a float sum of 1/10,000 multiples back to the exact decimal', () => {
  test.each([
    [[0.1, 0.2], 0.3],
    [[0.1, 0.2, 19.99], 20.29],
    [[12.3456, 0.0001, 7.6543], 20],
    [[1e6 + 0.0001, 2e6 + 0.0002], 3e6 + 0.0003],
    [Array.from({ length: 1000 }, () => 0.01), 10],
    [[], 0],
  ])('%j -> %d', (parts, want) => {
    const floatSum = parts.reduce((s, x) => s + x, 0);
    expect(roundRevenue(floatSum)).toBe(want);
  });
});

describe('sumKpiPartials: the partials of one window across partitions', () => {
  test.each<{ name: string; parts: Part[]; want: Part & { conversion_rate?: number | null; cart_to_purchase_rate?: number | null } }>([
    {
      name: 'conversion is Σ bought / Σ visitors, not the mean of the partitions rates (1/5, 1/2, 2/13)',
      parts: [
        part({ unique_visitors: 5, visitors_purchased: 1, visitors_added_to_cart: 2, visitors_carted_and_purchased: 1 }),
        part({ unique_visitors: 2, visitors_purchased: 1, visitors_added_to_cart: 1 }),
        part({ unique_visitors: 13, visitors_purchased: 2 }),
      ],
      want: { unique_visitors: 20, visitors_purchased: 4, visitors_added_to_cart: 3, visitors_carted_and_purchased: 1, conversion_rate: 0.2, cart_to_purchase_rate: 1 / 3 },
    },
    {
      name: 'a partition with many visitors and no sales weighs by its visitors',
      parts: [part({ unique_visitors: 1, visitors_purchased: 1 }), part({ unique_visitors: 99 })],
      want: { unique_visitors: 100, visitors_purchased: 1, conversion_rate: 0.01, cart_to_purchase_rate: null },
    },
    {
      name: 'event counts, sessions and late events add up',
      parts: [part({ page_views: 10, clicks: 3, add_to_cart: 2, purchases: 1, sessions: 4, late_events: 2 }), part({ page_views: 5, clicks: 1, sessions: 1 })],
      want: { page_views: 15, clicks: 4, add_to_cart: 2, purchases: 1, sessions: 5, late_events: 2, conversion_rate: null, cart_to_purchase_rate: null },
    },
    {
      name: 'revenue adds in 1/10,000 units: 0.1 + 0.2 + 19.99 = 20.29 exactly',
      parts: [part({ revenue_by_currency: eur(0.1) }), part({ revenue_by_currency: eur(0.2) }), part({ revenue_by_currency: eur(19.99) })],
      want: { revenue_by_currency: eur(20.29, 3), conversion_rate: null, cart_to_purchase_rate: null },
    },
    {
      name: 'two currencies stay two: 100 EUR and 100 JPY are never 200',
      parts: [
        part({ revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 100 }, { currency: 'JPY', purchases: 2, revenue: 100 }] }),
        part({ revenue_by_currency: [{ currency: 'JPY', purchases: 1, revenue: 1250 }] }),
        part({ revenue_by_currency: [{ currency: 'CHF', purchases: 1, revenue: 0.05 }] }),
      ],
      want: {
        revenue_by_currency: [
          { currency: 'CHF', purchases: 1, revenue: 0.05 },
          { currency: 'EUR', purchases: 1, revenue: 100 },
          { currency: 'JPY', purchases: 3, revenue: 1350 },
        ],
      },
    },
    {
      name: 'no partials: zeros and no rates',
      parts: [],
      want: { ...zero, revenue_by_currency: [], conversion_rate: null, cart_to_purchase_rate: null },
    },
    {
      name: 'missing fields count as 0 (a document written before a field existed)',
      parts: [{ page_views: 2 }, { unique_visitors: 4, visitors_purchased: 1 }],
      want: { page_views: 2, unique_visitors: 4, visitors_purchased: 1, conversion_rate: 0.25 },
    },
  ])('$name', ({ parts, want }) => {
    expect(sumKpiPartials(parts)).toMatchObject(want);
  });

  test('the order of the partials does not change the result (revenue included)', () => {
    const parts = [0.07, 1.1, 2.2, 3.3, 0.0001, 99.99].map((revenue, i) => part({ revenue_by_currency: eur(revenue), page_views: i, unique_visitors: i + 1, visitors_purchased: i % 2 }));
    const a = sumKpiPartials(parts);
    const b = sumKpiPartials([...parts].reverse());
    expect(b).toEqual(a);
    expect(a.revenue_by_currency).toEqual(eur(106.6601, 6));
  });

  test('every summed field is a numeric field of the KPI mapping (a mapping change breaks this test)', () => {
    for (const f of KPI_SUM_FIELDS) expect(['long', 'double'], f).toContain((kpiMappings.properties as Record<string, { type: string }>)[f]?.type);
  });

  test('revenue precision is the stored one (REVENUE_SCALE)', () => {
    expect(roundRevenue(1 / REVENUE_SCALE)).toBe(0.0001);
  });
});

describe('kpiWindowsFromPartials: grouped by window start, oldest first', () => {
  const doc = (start: string, partition: number, o: Partial<KpiSums>, final = true): KpiPartial => ({
    window_start: start,
    window_end: new Date(Date.parse(start) + 60_000).toISOString(),
    partition,
    final,
    ...part(o),
  });
  test.each([
    {
      name: 'two windows, three and one partitions',
      docs: [doc('2026-01-01T00:01:00.000Z', 0, { page_views: 1 }), doc('2026-01-01T00:00:00.000Z', 0, { page_views: 2 }), doc('2026-01-01T00:00:00.000Z', 1, { page_views: 3 }), doc('2026-01-01T00:00:00.000Z', 2, { page_views: 4 })],
      want: [
        { window_start: '2026-01-01T00:00:00.000Z', partitions: 3, page_views: 9, final: true },
        { window_start: '2026-01-01T00:01:00.000Z', partitions: 1, page_views: 1, final: true },
      ],
    },
    {
      name: 'a window is final only when every partial is',
      docs: [doc('2026-01-01T00:00:00.000Z', 0, {}), doc('2026-01-01T00:00:00.000Z', 1, {}, false)],
      want: [{ partitions: 2, final: false, window_end: '2026-01-01T00:01:00.000Z' }],
    },
    { name: 'nothing', docs: [], want: [] },
  ])('$name', ({ docs, want }) => {
    expect(kpiWindowsFromPartials(docs)).toMatchObject(want);
  });
});

describe('eventTotals: counts and revenue across windows (tumbling ones)', () => {
  test.each([
    {
      windows: [part({ page_views: 3, revenue_by_currency: eur(0.1) }), part({ page_views: 4, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.2 }, { currency: 'JPY', purchases: 1, revenue: 500 }], late_events: 1 })],
      want: { page_views: 7, clicks: 0, add_to_cart: 0, purchases: 0, late_events: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 0.3 }, { currency: 'JPY', purchases: 1, revenue: 500 }] },
    },
    { windows: [], want: { page_views: 0, clicks: 0, add_to_cart: 0, purchases: 0, late_events: 0, revenue_by_currency: [] } },
  ])('%#', ({ windows, want }) => {
    expect(eventTotals(windows as KpiSums[])).toEqual(want);
  });
  test('leaves the distinct counts out (a visitor in two windows is not two visitors)', () => {
    expect(Object.keys(eventTotals([]))).not.toContain('unique_visitors');
    expect(Object.keys(eventTotals([]))).not.toContain('sessions');
  });
});

describe('sumUrlPartials: per URL and per URL x country', () => {
  const u = (url: string, country: string, o: Partial<UrlPartial>): UrlPartial => ({ window_start: '2026-01-01T00:00:00.000Z', url, country, ...o });
  test.each([
    {
      name: 'average time on page is Σ time / Σ timed views, not the mean of the partials averages',
      docs: [u('/a', 'FR', { page_views: 1, time_spent_ms: 1000, time_spent_samples: 1 }), u('/a', 'FR', { page_views: 9, time_spent_ms: 90_000, time_spent_samples: 3, views_without_time: 6 })],
      want: [{ url: '/a', page_views: 10, time_spent_ms: 91_000, time_spent_samples: 4, views_without_time: 6, avg_time_spent_ms: 22_750 }],
    },
    {
      name: 'no timed view: no average',
      docs: [u('/a', 'FR', { page_views: 2, views_without_time: 2 })],
      want: [{ url: '/a', avg_time_spent_ms: null, countries: [{ country: 'FR', avg_time_spent_ms: null }] }],
    },
    {
      name: 'unique users add up across partitions and countries',
      docs: [u('/a', 'FR', { unique_users: 2, page_views: 1 }), u('/a', 'DE', { unique_users: 3, page_views: 1 }), u('/a', 'FR', { unique_users: 4, page_views: 1 })],
      want: [{ url: '/a', unique_users: 9, countries: [{ country: 'FR', unique_users: 6 }, { country: 'DE', unique_users: 3 }] }],
    },
  ])('$name', ({ docs, want }) => {
    expect(sumUrlPartials(docs)).toMatchObject(want);
  });

  test('revenue per URL and per URL x country, summed currency by currency across partitions and windows', () => {
    const eur = (revenue: number) => [{ currency: 'EUR', purchases: 1, revenue }];
    const rows = sumUrlPartials([
      u('/checkout', 'FR', { page_views: 1, revenue_by_currency: eur(0.1) }),
      u('/checkout', 'FR', { page_views: 1, revenue_by_currency: [...eur(0.2), { currency: 'JPY', purchases: 2, revenue: 2400 }] }),
      u('/checkout', 'JP', { page_views: 1, revenue_by_currency: [{ currency: 'JPY', purchases: 1, revenue: 1200 }] }),
      u('/checkout', 'DE', { page_views: 1 }), // written before URL documents carried revenue
    ]);
    expect(rows[0].revenue_by_currency).toEqual([
      { currency: 'EUR', purchases: 2, revenue: 0.3 },
      { currency: 'JPY', purchases: 3, revenue: 3600 },
    ]);
    expect(Object.fromEntries(rows[0].countries.map((c) => [c.country, c.revenue_by_currency]))).toEqual({
      FR: [{ currency: 'EUR', purchases: 2, revenue: 0.3 }, { currency: 'JPY', purchases: 2, revenue: 2400 }],
      JP: [{ currency: 'JPY', purchases: 1, revenue: 1200 }],
      DE: [],
    });
  });

  test('top URLs by total page views, each with its top countries; ties by name', () => {
    const docs = [
      u('/b', 'US', { page_views: 5 }),
      u('/a', 'FR', { page_views: 3 }),
      u('/a', 'DE', { page_views: 3 }),
      u('/c', 'FR', { page_views: 1 }),
      u('/b', 'FR', { page_views: 1 }),
    ];
    const rows = sumUrlPartials(docs, 2, 1);
    expect(rows.map((r) => [r.url, r.page_views, r.countries.map((c) => c.country)])).toEqual([
      ['/a', 6, ['DE']],
      ['/b', 6, ['US']],
    ]);
  });

  test('every summed field is a numeric field of the URL-stats mapping', () => {
    const props = urlStatsMappings.properties as Record<string, { type: string }>;
    for (const f of ['unique_users', 'page_views', 'clicks', 'time_spent_ms', 'time_spent_samples', 'views_without_time']) expect(['long', 'double']).toContain(props[f].type);
  });
});

describe('reading Elasticsearch aggregations gives what summing the documents gives', () => {
  const sumsOf = <F extends string>(fields: readonly F[], docs: Partial<Record<F, number>>[]) =>
    Object.fromEntries(fields.map((f) => [f, { value: docs.reduce((s, d) => s + (d[f] ?? 0), 0) }])) as Record<F, { value: number }>;

  test('KPI windows (terms on window_start, newest first as asked, returned oldest first)', () => {
    const start = Date.UTC(2026, 0, 1);
    const docs: KpiPartial[] = [0.1, 0.2, 19.99].map((revenue, p) => ({
      window_start: new Date(start).toISOString(),
      window_end: new Date(start + 60_000).toISOString(),
      partition: p,
      final: p !== 1,
      ...part({ revenue_by_currency: eur(revenue), unique_visitors: p + 1, visitors_purchased: 1, page_views: 10 * p }),
    }));
    const later: KpiPartial = { window_start: new Date(start + 60_000).toISOString(), window_end: new Date(start + 120_000).toISOString(), final: true, ...part({ page_views: 1 }) };
    const bucket = (key: number, ds: KpiPartial[]): KpiWindowBucket => ({
      key,
      doc_count: ds.length,
      window_end: { value: Math.max(...ds.map((d) => Date.parse(d.window_end))) },
      not_final: { doc_count: ds.filter((d) => d.final !== true).length },
      ...sumsOf(KPI_SUM_FIELDS, ds as Partial<KpiSums>[]),
      // As the nested aggregation answers: float sums per currency.
      revenue_by_currency: { currencies: { buckets: [{ key: 'EUR', purchases: { value: ds.reduce((n, d) => n + (d.revenue_by_currency?.length ?? 0), 0) }, revenue: { value: ds.reduce((n, d) => n + (d.revenue_by_currency?.[0]?.revenue ?? 0), 0) } }].filter((b) => b.purchases.value > 0) } },
    });
    const fromAgg = kpiWindowsFromAgg([bucket(start + 60_000, [later]), bucket(start, docs)]);
    expect(fromAgg).toEqual(kpiWindowsFromPartials([...docs, later]));
    expect(fromAgg[0]).toMatchObject({ revenue_by_currency: eur(20.29, 3), conversion_rate: 0.5, final: false, partitions: 3 });
  });

  test('URL rows (terms url > terms country)', () => {
    const fields = ['unique_users', 'page_views', 'clicks', 'time_spent_ms', 'time_spent_samples', 'views_without_time'] as const;
    const fr = [{ unique_users: 1, page_views: 2, time_spent_ms: 500, time_spent_samples: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.1 }] }, { unique_users: 2, page_views: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.2 }] }];
    const de = [{ unique_users: 1, page_views: 1, views_without_time: 1 }];
    // Elasticsearch's float sum of 0.1 + 0.2, read back to the exact decimal.
    const eurAgg = { currencies: { buckets: [{ key: 'EUR', purchases: { value: 2 }, revenue: { value: 0.1 + 0.2 } }] } };
    const b: UrlBucket = {
      key: '/a',
      doc_count: 3,
      ...sumsOf(fields, [...fr, ...de]),
      revenue_by_currency: eurAgg,
      countries: {
        buckets: [
          { key: 'FR', doc_count: 2, ...sumsOf(fields, fr), revenue_by_currency: eurAgg },
          { key: 'DE', doc_count: 1, ...sumsOf(fields, de) },
        ],
      },
    };
    const docs = [...fr.map((d) => ({ ...d, url: '/a', country: 'FR', window_start: '' })), ...de.map((d) => ({ ...d, url: '/a', country: 'DE', window_start: '' }))];
    expect(urlStatsFromAgg([b])).toEqual(sumUrlPartials(docs));
    expect(urlStatsFromAgg([b])[0].revenue_by_currency).toEqual([{ currency: 'EUR', purchases: 2, revenue: 0.3 }]);
  });

  test('an empty sum (null from Elasticsearch) is 0', () => {
    const [w] = kpiWindowsFromAgg([
      { key: 0, doc_count: 1, window_end: { value: 60_000 }, not_final: { doc_count: 0 }, ...(Object.fromEntries(KPI_SUM_FIELDS.map((f) => [f, { value: null }])) as Record<keyof KpiSums, { value: null }>) },
    ]);
    expect(w).toMatchObject({ page_views: 0, revenue_by_currency: [], conversion_rate: null });
  });
});

describe('finishSessions', () => {
  test.each([
    {
      sums: { sessions: 4, open: 1, purchased: 1, added_to_cart: 2, bounced: 2, pages: 10, events: 30, duration_ms: 100_000, revenue_by_currency: eur(0.3) },
      want: { purchase_rate: 0.25, bounce_rate: 0.5, avg_duration_ms: 25_000, avg_pages: 2.5, revenue_by_currency: eur(0.3) },
    },
    {
      sums: { sessions: 0, open: 0, purchased: 0, added_to_cart: 0, bounced: 0, pages: 0, events: 0, duration_ms: 0, revenue_by_currency: [] },
      want: { purchase_rate: null, bounce_rate: null, avg_duration_ms: null, avg_pages: null },
    },
  ])('%#', ({ sums, want }) => {
    expect(finishSessions(sums)).toMatchObject(want);
  });
});
