/**
 * The dashboard's parameters, the searches it sends, and the Fastify app around them with a
 * fake Elasticsearch client (the real one is in test/integration/dashboard.integration.test.ts).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { errors, type Client } from '@elastic/elasticsearch';
import type { FastifyInstance } from 'fastify';
import { buildDashboard } from './app.js';
import { DASH_ERRORS, ParamError } from './errors.js';
import { kpiSearch, parseKpiQuery } from './kpis-query.js';
import { parseTime } from './params.js';
import { parseUrlQuery, urlStatsSearch } from './url-stats-query.js';
import { ConfigError } from '../contracts/config.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('parseTime', () => {
  test.each([
    [undefined, 42],
    ['', 42],
    ['now', NOW],
    ['now-15m', NOW - 15 * 60_000],
    ['-2h', NOW - 7_200_000],
    ['now-30s', NOW - 30_000],
    ['now-1d', NOW - 86_400_000],
    ['now+5m', NOW + 300_000],
    ['1767225600000', 1767225600000],
    ['2026-03-01T10:00:00Z', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T10:00:00.000+01:00', Date.UTC(2026, 2, 1, 9)],
    ['2026-03-01', Date.UTC(2026, 2, 1)],
  ])('%j', (raw, want) => {
    expect(parseTime(raw, NOW, 42)).toBe(want);
  });
  test.each(['yesterday', 'now-15x', '+5m', 'now-+5m', '1 May 2026', '12.5', '2026-13-45T99:00:00Z', 'now-999999999d', 'now+999999999d', '999999999999999'])('refuses %j', (raw) => {
    expect(() => parseTime(raw, NOW, 0)).toThrow(ParamError);
  });
});

describe('parseKpiQuery', () => {
  test('defaults: the first window kind, all/all, the last 30 minutes', () => {
    expect(parseKpiQuery({}, NOW, 'tumbling_1m')).toEqual({ window: 'tumbling_1m', dimension: 'all', value: 'all', from: NOW - 30 * 60_000, to: NOW, limit: 1500 });
  });
  test.each([
    [{ window: 'hourly' }, /window/],
    [{ window: 'tumbling_1m"}' }, /window/],
    [{ dimension: 'browser' }, /dimension/],
    [{ dimension: 'country' }, /value is required/],
    [{ from: 'now', to: 'now-1h' }, /before/],
    [{ limit: '0' }, /limit/],
    [{ limit: '10001' }, /limit/],
    [{ limit: '1e3' }, /limit/],
    [{ dimension: 'site', value: 'a\u0000b' }, /value/],
  ])('%j is refused', (q, msg) => {
    expect(() => parseKpiQuery(q, NOW, 'tumbling_1m')).toThrow(msg);
  });
  test('all/all ignores a value', () => {
    expect(parseKpiQuery({ value: 'FR' }, NOW, 'tumbling_1m').value).toBe('all');
  });
});

describe('the searches sent to Elasticsearch', () => {
  test('KPIs: one window kind, one dimension value, windows starting in [from, to), sums and finality per window', () => {
    const q = parseKpiQuery({ window: 'sliding_5m_1m', dimension: 'country', value: 'FR', from: '1000', to: '2000' }, NOW, 'tumbling_1m');
    const s = kpiSearch('p-kpis', q);
    expect(s.index).toBe('p-kpis');
    expect(s.size).toBe(0);
    expect(s.query).toEqual({
      bool: {
        filter: [
          { term: { window_kind: 'sliding_5m_1m' } },
          { term: { dimension: 'country' } },
          { term: { dimension_value: 'FR' } },
          { range: { window_start: { gte: 1000, lt: 2000, format: 'epoch_millis' } } },
        ],
      },
    });
    const windows = s.aggs!.windows;
    expect(windows.terms).toMatchObject({ field: 'window_start', order: { _key: 'desc' } });
    expect(windows.aggs).toMatchObject({
      // Revenue summed per currency (nested terms), never across currencies.
      revenue_by_currency: { nested: { path: 'revenue_by_currency' }, aggs: { currencies: { terms: { field: 'revenue_by_currency.currency' }, aggs: { revenue: { sum: { field: 'revenue_by_currency.revenue' } } } } } },
    });
    expect(windows.aggs).not.toHaveProperty('revenue');
    expect(windows.aggs).toMatchObject({ unique_visitors: { sum: { field: 'unique_visitors' } }, window_end: { max: { field: 'window_end' } } });
    // No scripts, runtime fields or pipeline aggregations: the local Elasticsearch has none.
    expect(JSON.stringify(s)).not.toMatch(/script|runtime_mappings|bucket_/);
  });
  test('URL stats: URLs then countries, both ordered by summed page views, ties by key', () => {
    const s = urlStatsSearch('p-url-stats', parseUrlQuery({ limit: '3', countries: '2', country: 'FR' }, NOW));
    expect(s.aggs!.urls.terms).toMatchObject({ field: 'url', size: 3, order: [{ page_views: 'desc' }, { _key: 'asc' }] });
    expect(s.aggs!.urls.aggs!.countries.terms).toMatchObject({ field: 'country', size: 2 });
    expect(JSON.stringify(s.query)).toContain('"country":"FR"');
    expect(JSON.stringify(s)).not.toMatch(/script|runtime_mappings|bucket_/);
  });
});

describe('the app, with a fake Elasticsearch client', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const fakeEs = (search: (req: unknown) => unknown) =>
    ({
      search: async (req: unknown) => search(req),
      cluster: { health: async () => ({ status: 'green' }) },
      close: async () => {},
    }) as unknown as Client;
  const build = (es: Client, config = {}) => buildDashboard({ es, config: { esIndexPrefix: 'cs', ...config }, logger: pino({ level: 'silent' }), now: () => NOW });

  test('serves the page and its assets with a strict CSP; the API is not cached', async () => {
    app = await build(fakeEs(() => ({ hits: { total: { value: 0 }, hits: [] } })));
    const page = await app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<script type="module" src="dashboard.js"');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    for (const asset of ['/dashboard.js', '/panels.js', '/chart.js', '/dom.js', '/format.js', '/dashboard.css']) expect((await app.inject(asset)).statusCode).toBe(200);
    const meta = await app.inject('/api/meta');
    expect(meta.json()).toMatchObject({ windows: ['tumbling_1m', 'sliding_5m_1m'], default_window: 'tumbling_1m', refresh_s: 5, indices: { kpis: 'cs-kpis' } });
    expect(meta.headers['cache-control']).toBe('no-store');
  });

  test('queries the prefixed indices and answers the summed windows', async () => {
    const seen: { index?: string }[] = [];
    app = await build(
      fakeEs((req) => {
        seen.push(req as { index?: string });
        return {
          hits: { total: { value: 0 }, hits: [] },
          aggregations: {
            windows: {
              sum_other_doc_count: 0,
              buckets: [{ key: NOW - 60_000, doc_count: 2, window_end: { value: NOW }, not_final: { doc_count: 0 }, page_views: { value: 5 }, unique_visitors: { value: 4 }, visitors_purchased: { value: 1 },
                  revenue_by_currency: { currencies: { buckets: [
                    { key: 'EUR', purchases: { value: 2 }, revenue: { value: 0.30000000000000004 } },
                    { key: 'JPY', purchases: { value: 1 }, revenue: { value: 100 } },
                  ] } } }],
            },
          },
        };
      }),
    );
    const r = await app.inject('/api/kpis?from=now-5m');
    expect(r.statusCode).toBe(200);
    expect(seen[0].index).toBe('cs-kpis');
    expect(r.json()).toMatchObject({ window: 'tumbling_1m', windows: [{ partitions: 2, page_views: 5, conversion_rate: 0.25, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 0.3 }, { currency: 'JPY', purchases: 1, revenue: 100 }], final: true }], totals: { page_views: 5, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 0.3 }, { currency: 'JPY', purchases: 1, revenue: 100 }] } });
    await app.inject('/api/url-stats');
    await app.inject('/api/sessions');
    await app.inject('/api/alerts');
    expect(seen.map((s) => s.index)).toEqual(['cs-kpis', 'cs-url-stats', 'cs-sessions', 'cs-alerts']);
  });

  test('the windows that may still change are read by id in real time and put over the search', async () => {
    const asked: string[][] = [];
    const W = NOW - 60_000;
    const es = {
      search: async () => ({
        aggregations: {
          partition_max: { value: 6 },
          windows: { sum_other_doc_count: 0, buckets: [{ key: W, doc_count: 1, window_end: { value: NOW }, not_final: { doc_count: 1 }, page_views: { value: 5 } }] },
        },
      }),
      // Partition 0 of the window a minute ago updated since the refresh; partition 6 (beyond TOPIC_PARTITIONS) of the window starting now only here.
      mget: async (req: { ids: string[]; realtime: boolean; index: string }) => {
        asked.push(req.ids);
        expect(req).toMatchObject({ index: 'cs-kpis', realtime: true });
        const doc = (start: number, partition: number, page_views: number) => ({ window_start: new Date(start).toISOString(), window_end: new Date(start + 60_000).toISOString(), partition, page_views, final: false });
        return { docs: req.ids.map((id) => (id === `tumbling_1m|${new Date(W).toISOString()}|all|all|0` ? { found: true, _source: doc(W, 0, 9) } : id === `tumbling_1m|${new Date(NOW).toISOString()}|all|all|6` ? { found: true, _source: doc(NOW, 6, 2) } : { found: false })) };
      },
      close: async () => {},
    } as unknown as Client;
    app = await build(es, { topicPartitions: 6, kpiAllowedLatenessS: 60 });
    const r = await app.inject('/api/kpis?from=now-10m&to=now%2B1m');
    expect(r.json()).toMatchObject({ windows: [{ page_views: 9, partitions: 1 }, { page_views: 2, partitions: 1 }], realtime_windows: 2, totals: { page_views: 11 } });
    // The open windows (ending after now - 60 s) of partitions 0-5, then partition 6 that the search saw.
    expect(asked[0]).toHaveLength(2 * 6);
    expect(asked[1]).toEqual([`tumbling_1m|${new Date(W).toISOString()}|all|all|6`, `tumbling_1m|${new Date(NOW).toISOString()}|all|all|6`]);
    // A failed read leaves the search's figures.
    (es as unknown as { mget: () => never }).mget = () => {
      throw new Error('mget down');
    };
    expect((await app.inject('/api/kpis?from=now-10m')).json()).toMatchObject({ windows: [{ page_views: 5 }], realtime_windows: 0 });
  });

  test('bad parameters: 400 with a code; Elasticsearch failing: 502', async () => {
    app = await build(
      fakeEs(() => {
        throw new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200');
      }),
    );
    const bad = await app.inject('/api/kpis?window=x');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'DASH_ERR_PARAM' } });
    // Out-of-range times: 400 before any query (the fake Elasticsearch would answer 502).
    for (const q of ['from=now-999999999d', 'to=now%2B999999999d', 'from=999999999999999']) {
      for (const api of ['kpis', 'url-stats', 'sessions', 'alerts']) {
        const r = await app.inject(`/api/${api}?${q}`);
        expect(r.statusCode, `${api}?${q}`).toBe(400);
        expect(r.json()).toMatchObject({ error: { code: 'DASH_ERR_PARAM', message: expect.stringMatching(/out of range/) } });
      }
    }
    const down = await app.inject('/api/kpis');
    expect(down.statusCode).toBe(502);
    expect(down.json()).toMatchObject({ error: { code: 'DASH_ERR_ES' } });
    const missing = await app.inject('/api/nope');
    expect(missing.statusCode).toBe(DASH_ERRORS.DASH_ERR_NOT_FOUND.status);
    expect(missing.json()).toEqual({ error: { code: 'DASH_ERR_NOT_FOUND', message: 'No route GET /api/nope' } });
  });

  test('basic auth when configured (except /healthz)', async () => {
    app = await build(fakeEs(() => ({ hits: { total: { value: 0 }, hits: [] } })), { dashboardUsername: 'ops', dashboardPassword: 's3cret' });
    expect((await app.inject('/')).statusCode).toBe(401);
    expect((await app.inject('/')).headers['www-authenticate']).toContain('Basic');
    expect((await app.inject('/api/kpis')).json()).toEqual({ error: { code: 'DASH_ERR_AUTH', message: 'Authentication required' } });
    expect((await app.inject('/api/meta')).statusCode).toBe(401);
    const wrong = `Basic ${Buffer.from('ops:nope').toString('base64')}`;
    expect((await app.inject({ url: '/api/meta', headers: { authorization: wrong } })).statusCode).toBe(401);
    const right = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
    expect((await app.inject({ url: '/api/meta', headers: { authorization: right } })).statusCode).toBe(200);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  test('a user without a password is a configuration error', async () => {
    await expect(build(fakeEs(() => ({})), { dashboardUsername: 'ops' })).rejects.toThrow(ConfigError);
  });
});
