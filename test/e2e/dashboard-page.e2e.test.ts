/**
 * The dashboard page in a real browser (Debian's chromium through playwright-core) over the real
 * Elasticsearch of the global set-up: an hour of raw events (two sites, two currencies, bots) and
 * per-partition partial documents relative to now go into an index prefix of this test's own, the
 * page loads, and what it shows must be the exact figures, counted here independently from the
 * fixtures. At both 1280 px and a 390 px phone width axe-core (evaluated in the page) must find no
 * serious or critical accessibility violation. Screenshots at desktop and phone widths are left in
 * DASHBOARD_ARTIFACTS (default .data/test-artifacts) for a person to look at.
 *
 * Chromium: CHROMIUM_PATH or /usr/bin/chromium (`scripts/ensure-deps.sh --browser` installs it).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from '../../dashboard/app.js';
import { esFromConfig } from '../../common/es-client.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { alertDoc, eventDoc, kpiDoc, sessionDoc, urlDoc, writeFixtures, type EventFixture, type KpiFixture, type UrlFixture } from '../integration/dashboard-fixtures.js';
import { unique } from '../integration/helpers.js';

const esUrl = inject('esUrl');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = process.env.DASHBOARD_ARTIFACTS || '.data/test-artifacts';
const MIN = 60_000;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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

/**
 * Shoppers on two sites: shop-a sells in EUR, shop-b in JPY; two bots on shop-a. Visitors 20-23
 * are active in the last two minutes, everyone else at least 15 minutes ago (far from the
 * 5-minute "now" edge, so a refresh a few seconds later sees the same).
 */
function shopEvents(now: number): EventFixture[] {
  const out: EventFixture[] = [];
  const pages = ['/', '/products/mug', '/products/teapot'];
  for (let i = 0; i < 24; i++) {
    const site = i % 3 === 0 ? 'shop-b' : 'shop-a';
    const t0 = i < 20 ? now - 50 * MIN + i * 110_000 : now - 2 * MIN;
    let k = 0;
    const ev = (o: Partial<EventFixture>) => {
      const n = k++;
      // As the gateway enriches: `url` normalised (no query string), `url_raw` as sent.
      const path = o.url_path ?? '/';
      o = { url: `https://${site}.example${path}`, url_raw: o.url_raw ?? `https://${site}.example${path}`, url_host: `${site}.example`, ...o };
      out.push(
        eventDoc(`e${i}-${n}`, t0 + n * 5000, {
          site_id: site,
          visitor_id: `v${i}`,
          session_id: `s${i}`,
          referrer_host: n === 0 ? [null, 'www.google.com', 'news.ycombinator.com', null][i % 4] : null,
          utm_campaign: i % 5 === 0 ? 'winter-sale' : null,
          country: ['FR', 'DE', 'US'][i % 3],
          browser: ['Chrome', 'Firefox'][i % 2],
          os: ['Linux', 'Windows', 'iOS'][i % 3],
          device_type: ['desktop', 'mobile'][i % 2],
          ...o,
        }),
      );
    };
    for (let p = 0; p <= i % 3; p++) ev({ url_raw: `https://${site}.example${pages[p]}?ref=x${i}`, url_path: pages[p] });
    // The SDK's engagement report: a page_view event that is not a view.
    if (i % 4 === 0) ev({ url_path: '/', engagement_ms: 12_000 });
    if (i % 2 === 0) {
      ev({ event_type: 'click', url_path: pages[i % 3] });
      ev({ event_type: 'add_to_cart', url_path: pages[i % 3], product_id: 'mug', price: 12, quantity: 1, currency: site === 'shop-a' ? 'EUR' : 'JPY' });
    }
    if (i % 4 === 0) {
      const [currency, revenue] = site === 'shop-a' ? ['EUR', 24.5 + i] : ['JPY', 1200 + i * 10];
      ev({ event_type: 'purchase', url_path: '/checkout', order_id: `o${i}`, currency, revenue });
      ev({ url_raw: `https://${site}.example/thanks.html?order=o${i}`, url_path: '/thanks.html' });
    }
  }
  for (let b = 0; b < 2; b++) for (let k = 0; k < 6; k++) out.push(eventDoc(`bot${b}-${k}`, now - 30 * MIN + k * 1000, { site_id: 'shop-a', visitor_id: `bot${b}`, session_id: `bs${b}`, is_bot: true, browser: 'HeadlessChrome' }));
  return out;
}

/** What the page must show for a site selection, counted from the fixtures. */
function expected(events: EventFixture[], sites: string[], now: number) {
  const sel = events.filter((e) => !sites.length || sites.includes(String(e.site_id)));
  const humans = sel.filter((e) => e.is_bot !== true);
  const distinct = (f: (e: EventFixture) => boolean) => new Set(humans.filter(f).map((e) => e.visitor_id)).size;
  const isView = (e: EventFixture) => e.event_type === 'page_view' && e.engagement_ms === undefined;
  const revenue = new Map<string, number>();
  for (const e of humans) if (e.event_type === 'purchase') revenue.set(String(e.currency), (revenue.get(String(e.currency)) ?? 0) + Number(e.revenue));
  const visitors = distinct(() => true);
  const buyers = distinct((e) => e.event_type === 'purchase');
  const carters = distinct((e) => e.event_type === 'add_to_cart');
  const bots = sel.length - humans.length;
  return {
    visitors,
    visitorsNow: distinct((e) => Date.parse(e.timestamp) >= now - 5 * MIN),
    pageViews: humans.filter(isView).length,
    purchases: humans.filter((e) => e.event_type === 'purchase').length,
    viewers: distinct(isView),
    carters,
    buyers,
    conversion: buyers / visitors,
    revenue: [...revenue].sort(([a], [b]) => a.localeCompare(b)),
    botShare: bots / sel.length,
    thanksVisitors: (site: string) => distinct((e) => e.url === `https://${site}.example/thanks.html`),
  };
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`;
const money = (n: number, currency: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' }).format(n).replace(/\u00a0/g, ' ');

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
            revenue_by_currency: bought ? [{ currency: 'EUR', purchases: bought, revenue: Math.round((bought * (9.99 + r(40)) + r(100) / 100) * 100) / 100 }] : [],
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
      revenue_by_currency: bought ? [{ currency: 'EUR', purchases: 1, revenue: 24.5 }] : [],
      closed: i > 2,
      partition: r(3),
    });
  });
  const alerts = [
    alertDoc('al-1', now - 3 * MIN, { visitor_id: 'visitor-bot-7', message: 'visitor-bot-7 clicked 63 times in 10 s', value: 63 }),
    alertDoc('al-2', now - 21 * MIN, { kind: 'kpi_anomaly', severity: 'warn', visitor_id: undefined, message: 'conversion rate 3.4 sigma below its 1-hour mean', value: 0.004, threshold: 0.021 }),
    alertDoc('al-3', now - 50 * MIN, { severity: 'medium', visitor_id: 'visitor-2211', message: 'visitor-2211 clicked 25 times in 10 s', value: 25 }),
  ];
  return { kpis, urls, sessions, alerts, events: shopEvents(now) };
}

describe('dashboard page in Chromium', () => {
  let es: Client;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  let prefix: string;
  let data: ReturnType<typeof fixtures>;
  let fixedAt: number;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser (apt-get install -y chromium) or set CHROMIUM_PATH`);
    prefix = unique('dashpage').toLowerCase();
    await installTemplates(esUrl, prefix);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    fixedAt = Date.now();
    data = fixtures(fixedAt);
    await writeFixtures(es, prefix, data);
    app = await buildDashboard({ config: { esUrl, esIndexPrefix: prefix, dashboardRefreshS: 2 }, logger: pino({ level: 'warn' }), es });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
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

  const shot = async (name: string) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  };
  /** axe-core's serious and critical violations of the page as it is now (WCAG 2.1 A/AA rules and best practices). */
  const axeViolations = async (): Promise<string[]> => {
    // Evaluated rather than added as a <script>: the page's Content-Security-Policy (script-src 'self') rightly refuses inline scripts.
    await page.evaluate(AXE);
    const found = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, where: v.nodes.slice(0, 3).map((n) => String(n.target[0])) }));
    });
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.where.join(', ')})`);
  };
  const text = async (sel: string) => ((await page.locator(sel).textContent()) ?? '').trim();
  const rowOf = (table: string, first: string) => page.locator(`#${table} tbody tr`, { has: page.locator('td', { hasText: new RegExp(`^${first.replace(/[.?*+^$()[\]\\/]/g, '\\$&')}$`) }) });

  test('all sites: exact figures for every tile, the funnel and the breakdowns; charts; desktop and phone', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    const want = expected(data.events, [], fixedAt);

    expect(await text('#scope')).toMatch(/^Showing all sites, \d\d:\d\d–\d\d:\d\d/);
    expect(digits(await tile('Visitors').textContent())).toBe(want.visitors);
    expect(digits(await tile('Visitors now').textContent())).toBe(want.visitorsNow);
    expect(digits(await tile('Page views').textContent())).toBe(want.pageViews);
    expect(digits(await tile('Purchases').textContent())).toBe(want.purchases);
    expect(await tile('Conversion rate').textContent()).toBe(pct(want.conversion));
    expect(await tile('Cart → purchase').textContent()).toBe(pct(want.buyers / want.carters));
    expect(await tile('Bot traffic').textContent()).toBe(pct(want.botShare));
    // Two currencies: one tile each, never a sum.
    expect(want.revenue.map(([c]) => c)).toEqual(['EUR', 'JPY']);
    for (const [currency, amount] of want.revenue) expect(await tile(`Revenue ${currency}`).textContent()).toBe(money(amount, currency));
    expect(await page.locator('.tile .label', { hasText: /^Revenue$/ }).count()).toBe(0);

    // Funnel: distinct visitors per step and drop-off.
    const funnel = await page.locator('#funnel tbody tr').allTextContents();
    expect(funnel).toHaveLength(3);
    expect(await rowOf('funnel', 'Viewed a page').locator('td').nth(1).textContent()).toBe(String(want.viewers));
    expect(await rowOf('funnel', 'Added to cart').locator('td').nth(3).textContent()).toBe(pct(1 - want.carters / want.viewers));
    expect(await rowOf('funnel', 'Purchased').locator('td').nth(1).textContent()).toBe(String(want.buyers));

    // Pages without query strings: every order's thanks page is one row.
    for (const site of ['shop-a', 'shop-b']) {
      expect(await rowOf('bd-page', `${site}.example/thanks.html`).count()).toBe(1);
      expect(await rowOf('bd-page', `${site}.example/thanks.html`).locator('td').nth(1).textContent()).toBe(String(want.thanksVisitors(site)));
    }
    expect(await page.locator('#bd-page td', { hasText: '?' }).count()).toBe(0);
    expect(await rowOf('bd-source', 'www.google.com').locator('td').nth(1).textContent()).toBe('6');
    expect(await rowOf('bd-utm_campaign', 'winter-sale').locator('td').nth(1).textContent()).toBe('5');
    expect(await rowOf('bd-country', 'FR').locator('td').nth(1).textContent()).toBe('8');
    expect(await rowOf('bd-browser', 'HeadlessChrome').count()).toBe(0);
    expect(await rowOf('bd-device_type', 'mobile').locator('td').nth(1).textContent()).toBe('12');
    expect(await page.locator('#bd-entry_page tbody tr').count()).toBeGreaterThan(0);

    expect(await page.locator('#chart-events path.line').count()).toBe(4);
    expect(await page.locator('#chart-conversion path.line').count()).toBe(2);
    expect(await page.locator('#chart-events .axis-title').allTextContents()).toEqual(['events per minute', 'time (local, 24-hour)']);
    expect(await page.locator('#window option').allTextContents()).toEqual(['per minute', '5-minute totals, every minute']);
    expect(await page.locator('body').textContent()).not.toMatch(/tumbling_|sliding_|\b(AM|PM)\b/);
    expect(await page.locator('#urls tr.group').count()).toBe(5);
    expect(await page.locator('#sessions tbody tr').count()).toBe(12);
    expect(await page.locator('#alerts tbody tr').count()).toBe(3);
    expect(await page.locator('#alerts tbody tr').first().textContent()).toContain('visitor-bot-7');
    expect(await page.locator('#status').getAttribute('class')).toBe('');
    expect(await axeViolations()).toEqual([]);
    await shot('dashboard-desktop.png');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(600);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await axeViolations()).toEqual([]);
    await shot('dashboard-phone.png');
    await page.setViewportSize({ width: 1280, height: 1000 });
    expect(problems).toEqual([]);
  });

  test('one site: every figure for that site only, in its own currency', async () => {
    const want = expected(data.events, ['shop-b'], fixedAt);
    expect(await page.locator('#site option').allTextContents()).toEqual(['All sites', 'shop-a', 'shop-b']);
    await page.selectOption('#site', 'shop-b');
    await expect.poll(async () => text('#scope'), { timeout: 15_000 }).toMatch(/^Showing site shop-b/);
    await expect.poll(async () => digits(await tile('Visitors').textContent()), { timeout: 15_000 }).toBe(want.visitors);
    expect(digits(await tile('Page views').textContent())).toBe(want.pageViews);
    expect(await tile('Conversion rate').textContent()).toBe(pct(want.conversion));
    expect(want.revenue.map(([c]) => c)).toEqual(['JPY']);
    expect(await tile('Revenue JPY').textContent()).toBe(money(want.revenue[0][1], 'JPY'));
    expect(await page.locator('.tile .label', { hasText: 'Revenue EUR' }).count()).toBe(0);
    expect(await tile('Bot traffic').textContent()).toBe(pct(0));
    await shot('dashboard-site-shop-b.png');
    await page.selectOption('#site', '');
    await expect.poll(async () => text('#scope'), { timeout: 15_000 }).toMatch(/^Showing all sites/);
    expect(problems).toEqual([]);
  });

  test('breakdowns sort by one currency\'s revenue (API over the same Elasticsearch)', async () => {
    for (const currency of ['EUR', 'JPY']) {
      const res = await fetch(`${base}/api/breakdown?by=country&sort=revenue&currency=${currency}&from=now-2h&to=now%2B5m`);
      expect(res.status).toBe(200);
      const rows = ((await res.json()) as { rows: { value: string; revenue: { currency: string; revenue: number }[] }[] }).rows;
      // Independent count: revenue of this currency per country, from the fixtures (bots apart).
      const want = new Map<string, number>();
      for (const e of data.events) if (e.event_type === 'purchase' && e.is_bot !== true && e.currency === currency) want.set(String(e.country), (want.get(String(e.country)) ?? 0) + Number(e.revenue));
      const got = rows.map((r) => r.revenue.find((c) => c.currency === currency)?.revenue ?? 0);
      expect(got).toEqual([...got].sort((a, b) => b - a));
      expect(rows[0].value).toBe([...want].sort((a, b) => b[1] - a[1])[0][0]);
      expect(got[0]).toBeCloseTo([...want].sort((a, b) => b[1] - a[1])[0][1], 6);
    }
    expect((await fetch(`${base}/api/breakdown?by=country&sort=revenue`)).status).toBe(400);
    // On the page: one sort option per currency sold; choosing it reorders every breakdown.
    expect(await page.locator('#sort option').allTextContents()).toEqual(['Visitors', 'Page views', 'Conversions', 'Revenue (EUR)', 'Revenue (JPY)']);
    await page.selectOption('#sort', 'revenue:JPY');
    const jpyTop = [...data.events.filter((e) => e.event_type === 'purchase' && e.currency === 'JPY').reduce((m, e) => m.set(String(e.country), (m.get(String(e.country)) ?? 0) + Number(e.revenue)), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0][0];
    await expect.poll(async () => page.locator('#bd-country tbody tr').first().locator('td').first().textContent(), { timeout: 15_000 }).toBe(jpyTop);
    await page.selectOption('#sort', 'visitors');
    expect(problems).toEqual([]);
  });

  test('refreshes by itself: a new visitor appears without a reload', async () => {
    const before = digits(await tile('Visitors').textContent());
    await writeFixtures(es, prefix, { events: [eventDoc('late-visitor', Date.now() - 1000, { site_id: 'shop-a', visitor_id: 'v-new' })] });
    await expect.poll(async () => digits(await tile('Visitors').textContent()), { timeout: 15_000 }).toBe(before + 1);
    expect(problems).toEqual([]);
  });
});
