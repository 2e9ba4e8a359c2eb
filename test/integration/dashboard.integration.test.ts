/**
 * The dashboard API against the real Elasticsearch of the global set-up: known per-partition
 * partial documents go into an index prefix of this test's own, and the API must return their
 * exact sums, and rates recomputed from the summed numerators and denominators (never an average
 * of the partitions' rates). Noise documents (other dimensions, the sliding window kind, windows
 * out of range) must not leak into the sums.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from '../../dashboard/app.js';
import { kpiWindowsFromPartials, sumUrlPartials } from '../../dashboard/sums.js';
import { esFromConfig } from '../../common/es-client.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { buildApp } from '../../gateway/app.js';
import { startProcessor } from '../../processor/main.js';
import type { Config } from '../../contracts/config.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { makeVisit, rng, USER_AGENTS } from '../../scripts/traffic-generator.js';
import { alertDoc, eventDoc, kpiDoc, sessionDoc, urlDoc, writeFixtures, type KpiFixture, type UrlFixture } from './dashboard-fixtures.js';
import { unique, waitFor } from './helpers.js';

const esUrl = inject('esUrl');
const brokers = inject('kafkaBrokers');
const MIN = 60_000;
const T = Date.UTC(2026, 2, 1, 10, 0, 0);
const W1 = T;
const W2 = T + MIN;
const range = { from: new Date(T).toISOString(), to: new Date(T + 2 * MIN).toISOString() };

// Window 1: three partitions whose own conversion rates are 1/5, 1/2 and 2/13 (mean 0.2846);
// the global rate is (1 + 1 + 2) / (5 + 2 + 13) = 0.2 exactly. Revenue 0.1 + 0.2 + 19.99 is not
// 20.29 in floating point, but must come out as 20.29.
const w1 = [
  kpiDoc('tumbling_1m', W1, MIN, 0, { page_views: 10, clicks: 4, add_to_cart: 2, purchases: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.1 }], unique_visitors: 5, visitors_added_to_cart: 2, visitors_purchased: 1, visitors_carted_and_purchased: 1, sessions: 5 }),
  kpiDoc('tumbling_1m', W1, MIN, 1, { page_views: 7, clicks: 9, add_to_cart: 1, purchases: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.2 }], unique_visitors: 2, visitors_added_to_cart: 1, visitors_purchased: 1, sessions: 3, late_events: 1 }),
  kpiDoc('tumbling_1m', W1, MIN, 2, { page_views: 20, clicks: 1, purchases: 2, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 19.99 }, { currency: 'JPY', purchases: 1, revenue: 500 }], unique_visitors: 13, visitors_purchased: 2, sessions: 14 }),
];
// Window 2: partition 1 still open.
const w2 = [
  kpiDoc('tumbling_1m', W2, MIN, 0, { page_views: 3, clicks: 2, unique_visitors: 3, sessions: 3 }),
  kpiDoc('tumbling_1m', W2, MIN, 1, { page_views: 4, add_to_cart: 3, purchases: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 5.55 }], unique_visitors: 4, visitors_added_to_cart: 2, visitors_purchased: 1, visitors_carted_and_purchased: 1, sessions: 4 }, { final: false }),
];
const countryFR = [
  kpiDoc('tumbling_1m', W1, MIN, 0, { page_views: 6, unique_visitors: 3, visitors_purchased: 1 }, { dimension: 'country', value: 'FR' }),
  kpiDoc('tumbling_1m', W1, MIN, 2, { page_views: 9, unique_visitors: 6, visitors_purchased: 1 }, { dimension: 'country', value: 'FR' }),
];
const noise: KpiFixture[] = [
  kpiDoc('tumbling_1m', W1, MIN, 1, { page_views: 1000, unique_visitors: 1000 }, { dimension: 'country', value: 'DE' }),
  kpiDoc('tumbling_1m', W1, MIN, 0, { page_views: 1000, unique_visitors: 1000 }, { dimension: 'device', value: 'mobile' }),
  kpiDoc('sliding_5m_1m', W1, 5 * MIN, 0, { page_views: 1000, unique_visitors: 1000 }),
  kpiDoc('tumbling_1m', T - MIN, MIN, 0, { page_views: 1000, unique_visitors: 1000 }),
  kpiDoc('tumbling_1m', T + 2 * MIN, MIN, 0, { page_views: 1000, unique_visitors: 1000 }),
];

const A = 'https://shop.example/products/mug';
const B = 'https://shop.example/';
const urls: UrlFixture[] = [
  urlDoc(W1, MIN, A, 'FR', 0, { unique_users: 3, page_views: 5, clicks: 2, time_spent_ms: 30_000, time_spent_samples: 4, views_without_time: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.1 }] }),
  urlDoc(W1, MIN, A, 'FR', 1, { unique_users: 1, page_views: 1, clicks: 0, time_spent_ms: 0, time_spent_samples: 0, views_without_time: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 0.2 }, { currency: 'JPY', purchases: 1, revenue: 1200 }] }),
  urlDoc(W1, MIN, A, 'DE', 2, { unique_users: 2, page_views: 3, clicks: 1, time_spent_ms: 9_000, time_spent_samples: 3, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 19.99 }] }),
  urlDoc(W1, MIN, B, 'FR', 0, { unique_users: 4, page_views: 4, clicks: 6, time_spent_ms: 1_000, time_spent_samples: 1, views_without_time: 3 }),
  urlDoc(W2, MIN, A, 'FR', 1, { unique_users: 2, page_views: 2, clicks: 1, time_spent_ms: 5_000, time_spent_samples: 2 }, false),
];
const urlNoise = [urlDoc(T - MIN, MIN, B, 'US', 0, { unique_users: 500, page_views: 500 })];
// The raw events behind them: distinct users over the range come from these (a1 and a2 in both
// windows of A, so A's distinct users are fewer than the windows' sum), bots and events out of range left out.
const urlEvents = [
  ...['a1', 'a2', 'a3', 'a4'].map((v, i) => eventDoc(`ua-${v}`, W1 + i * 1000, { url: A, visitor_id: v, country: 'FR' })),
  ...['d1', 'd2'].map((v, i) => eventDoc(`ud-${v}`, W1 + i * 1000, { url: A, visitor_id: v, country: 'DE' })),
  ...['a1', 'a2'].map((v, i) => eventDoc(`ua2-${v}`, W2 + i * 1000, { event_type: 'click', url: A, visitor_id: v, country: 'FR' })),
  ...['b1', 'b2', 'b3', 'b4'].map((v, i) => eventDoc(`ub-${v}`, W1 + i * 1000, { url: B, visitor_id: v, country: 'FR' })),
  eventDoc('u-bot', W1, { url: A, visitor_id: 'bot', country: 'FR', is_bot: true }),
  eventDoc('u-out', T - MIN, { url: B, visitor_id: 'b9', country: 'FR' }),
];

const sessions = [
  sessionDoc('s1', T - 70_000, T + 50_000, { pages: 3, events: 7, added_to_cart: true, purchased: true, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 19.99 }], partition: 2 }),
  sessionDoc('s2', T + 100_000, T + 110_000, { closed: false, pages: 1, events: 2, partition: 1 }),
  sessionDoc('s3', T + 10_000, T + 30_000, { pages: 2, events: 4, added_to_cart: true, partition: 0, country: 'DE' }),
  sessionDoc('s-old', T - 20 * MIN, T - 10 * MIN, { pages: 9, events: 9 }),
];
const alerts = [
  alertDoc('a1', T + 20_000),
  alertDoc('a2', T + 70_000, { severity: 'medium' }),
  alertDoc('a3', T + 100_000, { kind: 'kpi_anomaly', severity: 'warn', visitor_id: undefined, message: 'conversion rate 3 sigma below its mean' }),
  alertDoc('a-old', T - 5 * MIN),
];

describe('dashboard API over real Elasticsearch', () => {
  let app: FastifyInstance;
  let es: Client;
  let prefix: string;

  beforeAll(async () => {
    prefix = unique('dash').toLowerCase();
    await installTemplates(esUrl, prefix);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    await writeFixtures(es, prefix, { kpis: [...w1, ...w2, ...countryFR, ...noise], urls: [...urls, ...urlNoise], sessions, alerts, events: urlEvents });
    app = await buildDashboard({ config: { esUrl, esIndexPrefix: prefix, logLevel: 'warn' }, logger: pino({ level: 'warn' }), es });
  });
  afterAll(async () => {
    await app?.close();
    await es?.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await es?.close();
  });

  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> & { [k: string]: unknown } };
  };
  const qs = (o: Record<string, string | number>) => new URLSearchParams(Object.entries(o).map(([k, v]) => [k, String(v)])).toString();

  test('KPI windows are the exact sums of their partition partials; rates from summed parts', async () => {
    const { status, body } = await get(`/api/kpis?${qs({ window: 'tumbling_1m', ...range })}`);
    expect(status).toBe(200);
    expect(body.windows).toEqual([
      {
        window_start: '2026-03-01T10:00:00.000Z',
        window_end: '2026-03-01T10:01:00.000Z',
        partitions: 3,
        final: true,
        page_views: 37,
        clicks: 14,
        add_to_cart: 3,
        purchases: 4,
        revenue_by_currency: [{ currency: 'EUR', purchases: 3, revenue: 20.29 }, { currency: 'JPY', purchases: 1, revenue: 500 }],
        unique_visitors: 20,
        visitors_added_to_cart: 3,
        visitors_purchased: 4,
        visitors_carted_and_purchased: 1,
        sessions: 22,
        late_events: 1,
        conversion_rate: 0.2,
        cart_to_purchase_rate: 1 / 3,
      },
      {
        window_start: '2026-03-01T10:01:00.000Z',
        window_end: '2026-03-01T10:02:00.000Z',
        partitions: 2,
        final: false,
        page_views: 7,
        clicks: 2,
        add_to_cart: 3,
        purchases: 1,
        revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 5.55 }],
        unique_visitors: 7,
        visitors_added_to_cart: 2,
        visitors_purchased: 1,
        visitors_carted_and_purchased: 1,
        sessions: 7,
        late_events: 0,
        conversion_rate: 1 / 7,
        cart_to_purchase_rate: 0.5,
      },
    ]);
    // The same as the pure definition applied to the documents written.
    expect(body.windows).toEqual(kpiWindowsFromPartials([...w1, ...w2]));
    expect(body.totals).toEqual({ page_views: 44, clicks: 16, add_to_cart: 6, purchases: 5, late_events: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 4, revenue: 25.84 }, { currency: 'JPY', purchases: 1, revenue: 500 }] });
    expect(body.truncated).toBe(false);
    // Not the mean of the partitions' own rates.
    const mean = w1.reduce((s, d) => s + (d.conversion_rate ?? 0), 0) / w1.length;
    expect((body.windows as { conversion_rate: number }[])[0].conversion_rate).not.toBeCloseTo(mean, 3);
  });

  test('one dimension value; sliding windows have no range totals; limit keeps the newest windows', async () => {
    const fr = await get(`/api/kpis?${qs({ window: 'tumbling_1m', dimension: 'country', value: 'FR', ...range })}`);
    expect(fr.status).toBe(200);
    expect(fr.body.windows).toMatchObject([{ partitions: 2, page_views: 15, unique_visitors: 9, visitors_purchased: 2, conversion_rate: 2 / 9 }]);

    const sliding = await get(`/api/kpis?${qs({ window: 'sliding_5m_1m', ...range })}`);
    expect(sliding.body.windows).toMatchObject([{ page_views: 1000, window_end: '2026-03-01T10:05:00.000Z' }]);
    expect(sliding.body.totals).toBeNull();

    const newest = await get(`/api/kpis?${qs({ window: 'tumbling_1m', limit: 1, ...range })}`);
    expect(newest.body.windows).toMatchObject([{ window_start: '2026-03-01T10:01:00.000Z', page_views: 7 }]);
    expect(newest.body.truncated).toBe(true);
  });

  test('URL x country: sums per URL and per country, distinct users over the range, average time on page = Σ time / Σ timed views', async () => {
    const { status, body } = await get(`/api/url-stats?${qs({ ...range, limit: 10, countries: 10 })}`);
    expect(status).toBe(200);
    expect(body.first_window).toBe('2026-03-01T10:00:00.000Z');
    expect(body.last_window).toBe('2026-03-01T10:01:00.000Z');
    expect(body.unique_users_exact).toBe(true);
    expect(body.urls).toEqual([
      {
        url: A,
        unique_users: 6,
        page_views: 11,
        clicks: 4,
        time_spent_ms: 44_000,
        time_spent_samples: 9,
        views_without_time: 2,
        avg_time_spent_ms: 44_000 / 9,
        // Per currency, summed across partitions and countries; never EUR + JPY.
        revenue_by_currency: [
          { currency: 'EUR', purchases: 4, revenue: 20.29 },
          { currency: 'JPY', purchases: 1, revenue: 1200 },
        ],
        countries: [
          {
            country: 'FR',
            unique_users: 4,
            page_views: 8,
            clicks: 3,
            time_spent_ms: 35_000,
            time_spent_samples: 6,
            views_without_time: 2,
            avg_time_spent_ms: 35_000 / 6,
            revenue_by_currency: [
              { currency: 'EUR', purchases: 2, revenue: 0.3 },
              { currency: 'JPY', purchases: 1, revenue: 1200 },
            ],
          },
          { country: 'DE', unique_users: 2, page_views: 3, clicks: 1, time_spent_ms: 9_000, time_spent_samples: 3, views_without_time: 0, avg_time_spent_ms: 3_000, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 19.99 }] },
        ],
      },
      {
        url: B,
        unique_users: 4,
        page_views: 4,
        clicks: 6,
        time_spent_ms: 1_000,
        time_spent_samples: 1,
        views_without_time: 3,
        avg_time_spent_ms: 1_000,
        revenue_by_currency: [],
        countries: [{ country: 'FR', unique_users: 4, page_views: 4, clicks: 6, time_spent_ms: 1_000, time_spent_samples: 1, views_without_time: 3, avg_time_spent_ms: 1_000, revenue_by_currency: [] }],
      },
    ]);
    // Everything but unique users is the sum of the partials; unique users are not (6 and 4, not 8 and 6).
    const summed = sumUrlPartials(urls);
    expect(summed[0].unique_users).toBe(8);
    const users = (rows: typeof summed) => rows.map((r) => ({ ...r, unique_users: 0, countries: r.countries.map((c) => ({ ...c, unique_users: 0 })) }));
    expect(users(body.urls as typeof summed)).toEqual(users(summed));

    const one = await get(`/api/url-stats?${qs({ from: range.from, to: new Date(T + MIN).toISOString(), limit: 1, countries: 1 })}`);
    expect(one.body.unique_users_exact).toBe(true);
    expect(one.body.urls).toMatchObject([{ url: A, unique_users: 6, page_views: 9, countries: [{ country: 'FR', unique_users: 4, page_views: 6 }] }]);
  });

  test('sessions active in the range, most recent first, with a summary over all of them', async () => {
    const { status, body } = await get(`/api/sessions?${qs({ ...range, limit: 2 })}`);
    expect(status).toBe(200);
    expect((body.sessions as { session_id: string }[]).map((s) => s.session_id)).toEqual(['s2', 's1']);
    expect(body.summary).toEqual({
      sessions: 3,
      open: 1,
      purchased: 1,
      added_to_cart: 2,
      bounced: 1,
      pages: 6,
      events: 13,
      duration_ms: 120_000 + 10_000 + 20_000,
      revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 19.99 }],
      purchase_rate: 1 / 3,
      bounce_rate: 1 / 3,
      avg_duration_ms: 50_000,
      avg_pages: 2,
    });
    const open = await get(`/api/sessions?${qs({ ...range, closed: 'false' })}`);
    expect((open.body.sessions as { session_id: string }[]).map((s) => s.session_id)).toEqual(['s2']);
  });

  test('alerts newest first with counts by kind and severity', async () => {
    const { status, body } = await get(`/api/alerts?${qs(range)}`);
    expect(status).toBe(200);
    expect((body.alerts as { alert_id: string }[]).map((a) => a.alert_id)).toEqual(['a3', 'a2', 'a1']);
    expect(body.total).toBe(3);
    expect(body.by_kind).toEqual({ click_burst: 2, kpi_anomaly: 1 });
    expect(body.by_severity).toEqual({ high: 1, medium: 1, warn: 1 });
    const bursts = await get(`/api/alerts?${qs({ ...range, kind: 'click_burst', limit: 1 })}`);
    expect(bursts.body).toMatchObject({ total: 2, alerts: [{ alert_id: 'a2' }] });
  });

  test('indices that do not exist yet answer empty, not an error; bad parameters answer 400', async () => {
    const empty = await buildDashboard({ config: { esUrl, esIndexPrefix: unique('none').toLowerCase(), logLevel: 'warn' }, logger: pino({ level: 'warn' }), es });
    try {
      for (const path of ['/api/kpis', '/api/url-stats', '/api/sessions', '/api/alerts']) {
        const r = await empty.inject({ method: 'GET', url: path });
        expect(r.statusCode, path).toBe(200);
      }
      expect((await empty.inject('/api/kpis')).json()).toMatchObject({ windows: [], totals: { page_views: 0, revenue_by_currency: [] } });
      expect((await empty.inject('/api/sessions')).json()).toMatchObject({ sessions: [], summary: { sessions: 0, purchase_rate: null } });
    } finally {
      await empty.close();
    }
    for (const bad of ['/api/kpis?window=hourly', '/api/kpis?dimension=country', '/api/kpis?from=yesterday', '/api/url-stats?limit=0', '/api/sessions?closed=maybe']) {
      const r = await get(bad);
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'DASH_ERR_PARAM' } });
    }
    expect((await get('/readyz')).status).toBe(200);
  });
});

describe('dashboard API over what the real gateway and processor wrote', () => {
  let cfg: Partial<Config>;
  let gateway: FastifyInstance;
  let dashboard: FastifyInstance;
  let processor: Awaited<ReturnType<typeof startProcessor>>;

  beforeAll(async () => {
    const topicPrefix = `${unique('dp')}_`;
    cfg = {
      kafkaBrokers: brokers,
      esUrl,
      topicPrefix,
      esIndexPrefix: unique('dashp').toLowerCase(),
      processorGroupId: unique('group'),
      processorMetricsPort: 0,
      archiveBackend: 'none',
      logLevel: 'warn',
    };
    await ensureTopics(brokers, { prefix: topicPrefix, partitions: 3 });
    await installTemplates(esUrl, cfg.esIndexPrefix!);
    gateway = await buildApp({ config: cfg, logger: pino({ level: 'warn' }) });
    const base = await gateway.listen({ host: '127.0.0.1', port: 0 });
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 30_000);
    processor = await startProcessor(cfg);
    dashboard = await buildDashboard({ config: cfg, logger: pino({ level: 'warn' }) });

    // Visits of the traffic generator, squeezed into a few seconds of event time so that no event
    // is late (lateness would move it out of the counts) and sent as one non-bot browser.
    const r = rng(7);
    const now = Date.now();
    const events: ClientEvent[] = [];
    while (events.length < 400) events.push(...makeVisit(r, now).events);
    events.forEach((e, i) => (e.ts = now - 20_000 + i * 5));
    sent.push(...events);
    for (let i = 0; i < events.length; i += 50) {
      const res = await fetch(`${base}/v1/events?site=it`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[2] },
        body: JSON.stringify({ sent_at: Date.now(), events: events.slice(i, i + 50) }),
      });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await processor?.stop();
    await gateway?.close();
    await dashboard?.close();
  });
  const sent: ClientEvent[] = [];

  test('KPI totals, URL page views and sessions equal what was sent', async () => {
    const count = (t: string) => sent.filter((e) => e.type === t).length;
    const revenue = Math.round(sent.reduce((s, e) => s + (e.type === 'purchase' ? e.revenue * 10_000 : 0), 0)) / 10_000;
    const want = { page_views: count('page_view'), clicks: count('click'), add_to_cart: count('add_to_cart'), purchases: count('purchase'), late_events: 0, revenue_by_currency: [{ currency: 'EUR', purchases: count('purchase'), revenue }] };
    const range = 'from=now-10m&to=now%2B10m';
    let last: unknown;
    await waitFor(
      async () => {
        const body = (await dashboard.inject(`/api/kpis?${range}`)).json() as { totals: typeof want };
        last = body.totals;
        return JSON.stringify(body.totals) === JSON.stringify(want) || undefined;
      },
      `KPI totals ${JSON.stringify(want)}`,
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
    });

    // Every URL an event happened on has a row (the purchase's thank-you page with 0 views too).
    const views = new Map<string, number>();
    for (const e of sent) views.set(e.url, (views.get(e.url) ?? 0) + (e.type === 'page_view' ? 1 : 0));
    const wantViews = JSON.stringify(Object.fromEntries([...views].sort()));
    await waitFor(
      async () => {
        const body = (await dashboard.inject(`/api/url-stats?${range}&limit=500`)).json() as { urls: { url: string; page_views: number }[] };
        last = JSON.stringify(Object.fromEntries(body.urls.map((u) => [u.url, u.page_views]).sort()));
        return last === wantViews || undefined;
      },
      'URL page views',
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message} ${wantViews}; last seen ${String(last)}`);
    });

    const sessions = new Set(sent.map((e) => e.session_id));
    await waitFor(
      async () => ((await dashboard.inject(`/api/sessions?${range}&limit=0`)).json() as { summary: { sessions: number } }).summary.sessions === sessions.size || undefined,
      `${sessions.size} sessions`,
      60_000,
      500,
    );
  });
});
