/**
 * The dashboard page in a real browser (Debian's chromium through playwright-core) over the real
 * Elasticsearch of the global set-up: an hour of per-partition partial documents relative to now
 * goes into an index prefix of this test's own, the page loads, and what it shows must be the
 * exact sums. A screenshot is left in DASHBOARD_SCREENSHOT (default .data/screenshots/dashboard.png)
 * for a person to look at.
 *
 * Chromium: CHROMIUM_PATH or /usr/bin/chromium (`scripts/ensure-deps.sh --browser` installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from '../../dashboard/app.js';
import { eventTotals, kpiWindowsFromPartials } from '../../dashboard/sums.js';
import { esFromConfig } from '../../common/es-client.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { alertDoc, kpiDoc, sessionDoc, urlDoc, writeFixtures, type KpiFixture, type UrlFixture } from '../integration/dashboard-fixtures.js';
import { unique } from '../integration/helpers.js';

const esUrl = inject('esUrl');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT || '.data/screenshots/dashboard.png';
const MIN = 60_000;

/** Small seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function fixtures(now: number) {
  const r = rng(20260301);
  const current = Math.floor(now / MIN) * MIN;
  const kpis: KpiFixture[] = [];
  const urls: UrlFixture[] = [];
  const pages = ['https://shop.example/', 'https://shop.example/products/mug', 'https://shop.example/products/teapot', 'https://shop.example/cart', 'https://shop.example/checkout'];
  const countries = ['FR', 'DE', 'US', 'GB', 'ES'];
  for (let m = 44; m >= 0; m--) {
    const start = current - m * MIN;
    const wave = 1 + Math.sin((m / 44) * Math.PI * 2) * 0.4;
    for (let p = 0; p < 3; p++) {
      const visitors = Math.round((8 + r(6)) * wave);
      const carts = r(Math.max(1, Math.floor(visitors / 3)));
      const bought = r(carts + 1);
      kpis.push(
        kpiDoc(
          'tumbling_1m',
          start,
          MIN,
          p,
          {
            page_views: visitors * 3 + r(5),
            clicks: visitors * 2 + r(7),
            add_to_cart: carts + r(2),
            purchases: bought,
            revenue: bought * (9.99 + r(40)) + r(100) / 100,
            unique_visitors: visitors,
            visitors_added_to_cart: carts,
            visitors_purchased: bought,
            visitors_carted_and_purchased: Math.min(bought, carts),
            sessions: visitors + r(2),
          },
          { final: m > 1 },
        ),
      );
    }
    // Sliding 5-minute windows every minute, roughly five tumbling windows' worth.
    for (let p = 0; p < 3; p++) {
      const visitors = 35 + r(10);
      const bought = 2 + r(4);
      kpis.push(
        kpiDoc('sliding_5m_1m', start - 4 * MIN, 5 * MIN, p, { page_views: visitors * 3, unique_visitors: visitors, visitors_purchased: bought, visitors_added_to_cart: bought + 3, visitors_carted_and_purchased: bought }, { final: m > 1 }),
      );
    }
    if (m < 15)
      for (const [i, url] of pages.entries())
        for (const c of countries.slice(0, 5 - i))
          urls.push(
            urlDoc(start, MIN, url, c, r(3), { unique_users: 1 + r(4), page_views: 5 - i + r(4), clicks: r(5), time_spent_ms: 20_000 + r(60_000), time_spent_samples: 2 + r(2), views_without_time: r(2) }, m > 1),
          );
  }
  const sessions = Array.from({ length: 14 }, (_, i) => {
    const end = now - i * 170_000 - r(60_000);
    const pagesSeen = 1 + r(6);
    const bought = r(4) === 0;
    return sessionDoc(`sess-${i}`, end - pagesSeen * 40_000, end, {
      visitor_id: `visitor-${1000 + i}`,
      pages: pagesSeen,
      events: pagesSeen * 2,
      country: countries[r(5)],
      device_type: ['desktop', 'mobile', 'tablet'][r(3)],
      entry_page: pages[r(3)],
      exit_page: pages[3 + r(2)],
      added_to_cart: bought || r(2) === 0,
      purchased: bought,
      revenue: bought ? 24.5 : 0,
      closed: i > 2,
      partition: r(3),
    });
  });
  const alerts = [
    alertDoc('al-1', now - 3 * MIN, { visitor_id: 'visitor-bot-7', message: 'visitor-bot-7 clicked 63 times in 10 s', value: 63 }),
    alertDoc('al-2', now - 21 * MIN, { kind: 'kpi_anomaly', severity: 'warn', visitor_id: undefined, message: 'conversion rate 3.4 sigma below its 1-hour mean', value: 0.004, threshold: 0.021 }),
    alertDoc('al-3', now - 50 * MIN, { severity: 'medium', visitor_id: 'visitor-2211', message: 'visitor-2211 clicked 25 times in 10 s', value: 25 }),
  ];
  return { kpis, urls, sessions, alerts };
}

describe('dashboard page in Chromium', () => {
  let es: Client;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  let prefix: string;
  let data: ReturnType<typeof fixtures>;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser (apt-get install -y chromium) or set CHROMIUM_PATH`);
    prefix = unique('dashpage').toLowerCase();
    await installTemplates(esUrl, prefix);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    data = fixtures(Date.now());
    await writeFixtures(es, prefix, data);
    app = await buildDashboard({ config: { esUrl, esIndexPrefix: prefix, dashboardRefreshS: 2 }, logger: pino({ level: 'warn' }), es });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  });
  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.close();
    await es?.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await es?.close();
  });

  const digits = (s: string | null) => Number((s ?? '').replace(/[^\d.]/g, ''));
  const tile = (label: string) => page.locator('.tile', { has: page.locator('.label', { hasText: new RegExp(`^${label}$`) }) }).locator('.value');

  test('shows the exact sums of the partials, charts, URLs, sessions and alerts', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });

    const windows = kpiWindowsFromPartials(data.kpis.filter((d) => d.window_kind === 'tumbling_1m'));
    const totals = eventTotals(windows);
    expect(digits(await tile('Page views').textContent())).toBe(totals.page_views);
    expect(digits(await tile('Clicks').textContent())).toBe(totals.clicks);
    expect(digits(await tile('Purchases').textContent())).toBe(totals.purchases);
    expect((await tile('Revenue').textContent())?.replace(/,/g, '')).toBe(totals.revenue.toFixed(2));

    // Conversion: the newest complete sliding window, Σ bought / Σ visitors over its partitions.
    // (As of the page's last refresh, which may be a few seconds before now.)
    const sliding = kpiWindowsFromPartials(data.kpis.filter((d) => d.window_kind === 'sliding_5m_1m'));
    const shown = (at: number) => {
      const done = sliding.filter((w) => Date.parse(w.window_end) <= at);
      const r = done[done.length - 1].conversion_rate!;
      return `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`;
    };
    expect([shown(Date.now()), shown(Date.now() - 10_000)]).toContain(await tile('Conversion rate').textContent());

    expect(await page.locator('#chart-events path.line').count()).toBe(4);
    expect(await page.locator('#chart-revenue rect').count()).toBe(windows.length);
    expect(await page.locator('#chart-conversion path.line').count()).toBe(2);
    expect(await page.locator('#urls tr.group').count()).toBe(5);
    expect(await page.locator('#urls tr.group td.url').first().getAttribute('title')).toBe('https://shop.example/');
    expect(await page.locator('#sessions tbody tr').count()).toBe(12);
    expect(await page.locator('#alerts tbody tr').count()).toBe(3);
    expect(await page.locator('#alerts tbody tr').first().textContent()).toContain('visitor-bot-7');
    expect(await page.locator('#status').getAttribute('class')).toBe('');

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
  });

  test('refreshes by itself: a new window appears without a reload', async () => {
    const before = digits(await tile('Page views').textContent());
    const start = Math.floor(Date.now() / MIN) * MIN - 50 * MIN;
    await writeFixtures(es, prefix, { kpis: [kpiDoc('tumbling_1m', start, MIN, 0, { page_views: 1000, unique_visitors: 10 })] });
    await expect.poll(async () => digits(await tile('Page views').textContent()), { timeout: 15_000 }).toBe(before + 1000);
    expect(problems).toEqual([]);
  });
});
