/**
 * The dashboard page over data written by the real pipeline: shoppers in Chromium (each its own
 * browser context, user agent and client address) on the demo shop served under two site ids,
 * `shop-eur` (the shop as it is, EUR) and `shop-jpy` (the same pages, the shop's calls to the SDK
 * made in JPY), with a headless bot among them -> SDK -> gateway -> Kafka -> processor ->
 * Elasticsearch -> dashboard page in Chromium.
 *
 * Each shopper's SDK posts through a reverse proxy of its own on loopback (a trusted proxy to the
 * gateway) that adds the shopper's client address as X-Forwarded-For, as a load balancer would:
 * Chromium sends beacons without a context's extra headers.
 *
 * An init script in every shop page records every event the SDK hands to fetch or sendBeacon.
 * Once each shopper's SDK has nothing left to send, the test counts, from those events and from
 * what it set per shopper (site, country through X-Forwarded-For, browser, OS and device through
 * the user agent, referrer), every figure the page must show: tiles, revenue per currency, funnel,
 * every breakdown list (pages, sources, entry and exit pages, UTM campaigns, countries, browsers,
 * OS, devices), visitors now, bot share and the time-on-page table's views, clicks and revenue; then the
 * page must show exactly those, for all sites and for each site through the site selector.
 * Screenshots at 1280 px and 390 px go to DASHBOARD_ARTIFACTS (default .data/test-artifacts).
 *
 * Chromium: CHROMIUM_PATH or /usr/bin/chromium (`scripts/ensure-deps.sh --browser` installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from '../../dashboard/app.js';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import type { Config } from '../../contracts/config.js';
import { waitFor } from '../integration/helpers.js';
import { ensureSdkBuilt } from './builds.js';
import { shopPipeline, startShopGateway } from './shop-pipeline.js';
import { closeInOrder, type TeardownStep } from '../harness/teardown.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = process.env.DASHBOARD_ARTIFACTS || '.data/test-artifacts';
const SITES = ['shop-eur', 'shop-jpy'];
const T0 = Date.now();
const log = (m: string) => process.env.E2E_TRACE && console.log(`${((Date.now() - T0) / 1000).toFixed(1)}s ${m}`);

// ---------------------------------------------------------------------------------------------
// The shoppers.

const UA = {
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
};

type Step =
  | { go: string } // click the link to this demo page (index.html, product-mug.html ...)
  | { cart: true } // click "Add to cart" (the shop's own EUR call)
  | { checkout: true } // cart -> checkout -> place order -> thanks (EUR)
  | { sdk: 'addToCart' | 'purchase'; jpy: number }; // the shop's call to the SDK, in JPY; a purchase then opens thanks.html

interface Shopper {
  name: string;
  site: string;
  /** undefined: Chromium's own headless user agent (a bot to the gateway). */
  ua?: string;
  /** Client address the gateway sees (X-Forwarded-For from a trusted proxy), and what geo makes of it. */
  ip: string;
  country: string;
  browser: string;
  os: string;
  device: string;
  bot?: boolean;
  /** First page, with its query string (the demo's own `site` parameter is added). */
  landing: string;
  /** The page the shopper came from (external referrer), if any. */
  referer?: string;
  steps: Step[];
}

const SHOPPERS: Shopper[] = [
  { name: 'gb-desktop-buyer', site: 'shop-eur', ua: UA.windowsChrome, ip: '81.2.69.142', country: 'GB', browser: 'Chrome', os: 'Windows', device: 'desktop', landing: 'index.html', referer: 'https://www.google.com/', steps: [{ go: 'product-mug.html' }, { cart: true }, { checkout: true }] },
  { name: 'us-phone-campaign', site: 'shop-eur', ua: UA.iphone, ip: '8.8.8.8', country: 'US', browser: 'Mobile Safari', os: 'iOS', device: 'mobile', landing: 'index.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale', steps: [{ go: 'product-tee.html' }, { cart: true }, { go: 'cart.html' }] },
  { name: 'nl-firefox-browser', site: 'shop-eur', ua: UA.linuxFirefox, ip: '2.16.6.1', country: 'NL', browser: 'Firefox', os: 'Linux', device: 'desktop', landing: 'product-cap.html', steps: [{ go: 'index.html' }] },
  { name: 'jp-android-buyer', site: 'shop-jpy', ua: UA.android, ip: '133.242.187.207', country: 'JP', browser: 'Chrome', os: 'Android', device: 'mobile', landing: 'index.html', referer: 'https://news.ycombinator.com/', steps: [{ go: 'product-notebook.html' }, { sdk: 'addToCart', jpy: 1200 }, { sdk: 'purchase', jpy: 1200 }] },
  { name: 'gb-desktop-jpy-campaign', site: 'shop-jpy', ua: UA.windowsChrome, ip: '5.62.60.1', country: 'GB', browser: 'Chrome', os: 'Windows', device: 'desktop', landing: 'product-mug.html?utm_source=partner&utm_campaign=spring-promo', steps: [{ sdk: 'addToCart', jpy: 2400 }, { sdk: 'purchase', jpy: 2400 }, { go: 'index.html' }] },
  { name: 'headless-bot', site: 'shop-eur', ip: '8.8.4.4', country: 'US', browser: 'Chrome Headless', os: 'Linux', device: 'desktop', bot: true, landing: 'index.html', steps: [{ go: 'product-mug.html' }, { go: 'index.html' }] },
];

/** A reverse proxy to the gateway that says the client is `ip` (X-Forwarded-For); resolves with its port. */
async function forwardingProxy(gatewayPort: number, ip: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: gatewayPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': ip } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Records the events of every body sent to the endpoint (one localStorage key per page, synchronous, so what a page beacons while it unloads is kept). */
const RECORDER = `(() => {
  if (location.protocol !== 'http:') return;
  var KEY = 'e2e_sent.' + Date.now() + '.' + Math.random().toString(36).slice(2);
  var add = function (url, body) {
    if (!/\\/v1\\/events/.test(String(url)) || typeof body !== 'string') return;
    try {
      var list = JSON.parse(localStorage.getItem(KEY) || '[]');
      list.push.apply(list, JSON.parse(body).events || []);
      localStorage.setItem(KEY, JSON.stringify(list));
    } catch (e) {}
  };
  var f = window.fetch;
  window.fetch = function (input, init) { add(typeof input === 'string' ? input : input && input.url, init && init.body); return f.apply(this, arguments); };
  var b = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, data) { add(url, data); return b(url, data); };
  try { sessionStorage.setItem('demo_panel', 'closed'); } catch (e) {}
})();`;

/** A wire event as the SDK sent it (the fields this test counts with). */
interface WireEvent {
  event_id: string;
  type: string;
  visitor_id: string;
  session_id: string;
  ts: number;
  url: string;
  referrer?: string;
  engagement_ms?: number;
  currency?: string;
  revenue?: number;
  utm_campaign?: string;
}

/** A sent event with what the test set for its shopper. */
interface Sent extends WireEvent {
  shopper: Shopper;
}

// ---------------------------------------------------------------------------------------------
// The independent count: what the page must show, from the events sent.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const int = (n: number) => intFmt.format(n);
const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`);
const money = (n: number, currency: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' }).format(n).replace(/\u00a0/g, ' ');
const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** The page URL as the pipeline keeps it: no fragment, only utm_* parameters, sorted by name. */
function normal(url: string): string {
  const u = new URL(url);
  const kept = u.search
    .slice(1)
    .split('&')
    .filter((p) => p.startsWith('utm_'))
    .sort((a, b) => (a.split('=')[0] < b.split('=')[0] ? -1 : 1));
  return `${u.origin}${u.pathname}${kept.length ? `?${kept.join('&')}` : ''}`;
}

const isView = (e: WireEvent) => e.type === 'page_view' && e.engagement_ms === undefined;
const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

type Row = string[];

/** Breakdown rows as the page lists them: visitors desc, then value; at most 8. */
function rowsOf(events: Sent[], key: (e: Sent) => string | null, withRevenue: boolean): Row[] {
  const groups = new Map<string, Sent[]>();
  for (const e of events) {
    const k = key(e);
    if (k !== null) groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  return [...groups]
    .map(([value, es]) => {
      const visitors = new Set(es.map((e) => e.visitor_id)).size;
      const buys = es.filter((e) => e.type === 'purchase');
      const revenue = new Map<string, number>();
      for (const e of buys) revenue.set(e.currency!, (revenue.get(e.currency!) ?? 0) + e.revenue!);
      const cells = [value, int(visitors), int(es.filter(isView).length), int(new Set(buys.map((e) => e.visitor_id)).size)];
      if (withRevenue) cells.push([...revenue].sort(byKey).map(([c, n]) => money(n, c)).join(' · ') || '–');
      return { visitors, cells };
    })
    .sort((a, b) => b.visitors - a.visitors || (a.cells[0] < b.cells[0] ? -1 : 1))
    .slice(0, 8)
    .map((r) => r.cells);
}

/** Entry or exit page rows, from the shoppers' sessions: visitors, pages seen in those sessions, visitors whose session bought. */
function sessionRows(events: Sent[], which: 'entry' | 'exit'): Row[] {
  const sessions = new Map<string, Sent[]>();
  for (const e of events) sessions.set(e.session_id, [...(sessions.get(e.session_id) ?? []), e]);
  const groups = new Map<string, { visitors: Set<string>; pages: number; buyers: Set<string> }>();
  for (const es of sessions.values()) {
    const views = es.filter(isView).sort((a, b) => a.ts - b.ts);
    if (!views.length) continue;
    const page = normal((which === 'entry' ? views[0] : views[views.length - 1]).url);
    const g = groups.get(page) ?? { visitors: new Set(), pages: 0, buyers: new Set() };
    g.visitors.add(es[0].visitor_id);
    g.pages += views.length;
    if (es.some((e) => e.type === 'purchase')) g.buyers.add(es[0].visitor_id);
    groups.set(page, g);
  }
  return [...groups]
    .sort((a, b) => b[1].visitors.size - a[1].visitors.size || (a[0] < b[0] ? -1 : 1))
    .slice(0, 8)
    .map(([page, g]) => [page, int(g.visitors.size), int(g.pages), int(g.buyers.size)]);
}

/** External referrers only: a link from the shop's own pages is not a source. */
function sourceOf(e: Sent): string | null {
  if (!e.referrer) return null;
  const host = new URL(e.referrer).hostname;
  return host === new URL(e.url).hostname ? null : host;
}

interface Screen {
  sites: string[];
  tiles: Record<string, string>;
  funnel: Row[];
  lists: Record<string, Row[]>;
}

function expectedScreen(all: Sent[], sites: string[]): Screen {
  const sel = all.filter((e) => !sites.length || sites.includes(e.shopper.site));
  const humans = sel.filter((e) => !e.shopper.bot);
  const distinct = (f: (e: Sent) => boolean) => new Set(humans.filter(f).map((e) => e.visitor_id)).size;
  const visitors = distinct(() => true);
  const viewers = distinct(isView);
  const carters = distinct((e) => e.type === 'add_to_cart');
  const buyers = distinct((e) => e.type === 'purchase');
  const revenue = new Map<string, [number, number]>();
  for (const e of humans.filter((x) => x.type === 'purchase')) {
    const [n, sum] = revenue.get(e.currency!) ?? [0, 0];
    revenue.set(e.currency!, [n + 1, sum + e.revenue!]);
  }
  const count = (type: string) => humans.filter((e) => e.type === type).length;
  const tiles: Record<string, string> = {
    Visitors: int(visitors),
    'Visitors now': int(visitors), // everyone shopped in the last few minutes
    Sessions: int(new Set(humans.map((e) => e.session_id)).size),
    'Page views': int(humans.filter(isView).length),
    'Add to cart': int(count('add_to_cart')),
    Purchases: int(count('purchase')),
    ...Object.fromEntries([...revenue].map(([c, [, sum]]) => [`Revenue ${c}`, money(sum, c)])),
    ...(revenue.size ? {} : { Revenue: '–' }),
    'Conversion rate': pct(ratio(buyers, visitors)),
    'Cart → purchase': pct(ratio(buyers, carters)),
    'Bot traffic': pct(ratio(sel.length - humans.length, sel.length)),
  };
  const funnelStep = (name: string, n: number, prev: number | null): Row => [name, int(n), pct(prev === null ? null : ratio(n, prev)), pct(prev === null ? null : prev > 0 ? 1 - n / prev : null)];
  return {
    sites: ['All sites', ...SITES],
    tiles,
    funnel: [funnelStep('Viewed a page', viewers, null), funnelStep('Added to cart', carters, viewers), funnelStep('Purchased', buyers, carters)],
    lists: {
      page: rowsOf(humans, (e) => normal(e.url), true),
      source: rowsOf(humans, sourceOf, true),
      entry_page: sessionRows(humans, 'entry'),
      exit_page: sessionRows(humans, 'exit'),
      utm_campaign: rowsOf(humans, (e) => e.utm_campaign ?? null, true),
      country: rowsOf(humans, (e) => e.shopper.country, true),
      browser: rowsOf(humans, (e) => e.shopper.browser, true),
      os: rowsOf(humans, (e) => e.shopper.os, true),
      device_type: rowsOf(humans, (e) => e.shopper.device, true),
    },
  };
}

/** What the page shows now, in the shape of expectedScreen. */
async function readScreen(page: Page): Promise<Screen> {
  return page.evaluate(() => {
    const rows = (table: string) =>
      [...document.querySelectorAll(`#${table} tbody tr`)]
        .filter((tr) => !tr.querySelector('td.empty'))
        .map((tr) => [...tr.querySelectorAll('td')].map((td, i) => (i === 0 && td.title ? td.title : (td.textContent ?? '').trim())));
    const lists = ['page', 'source', 'entry_page', 'exit_page', 'utm_campaign', 'country', 'browser', 'os', 'device_type'];
    return {
      sites: [...document.querySelectorAll<HTMLOptionElement>('#site option')].map((o) => o.textContent ?? ''),
      tiles: Object.fromEntries([...document.querySelectorAll('#tiles .tile')].map((t) => [t.querySelector('.label')?.textContent ?? '', t.querySelector('.value')?.textContent ?? ''])),
      funnel: rows('funnel').map((r) => r.slice(0, 4)),
      lists: Object.fromEntries(lists.map((l) => [l, rows(`bd-${l}`)])),
    };
  });
}

// ---------------------------------------------------------------------------------------------

describe('dashboard page over the real pipeline (two sites, two currencies, a bot)', () => {
  let cfg: Partial<Config>;
  let gateway: string;
  let gatewayPort: number;
  const proxies: http.Server[] = [];
  let shop: FastifyInstance | undefined;
  let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
  let dashboard: FastifyInstance | undefined;
  let es: Client | undefined;
  let browser: Browser | undefined;
  /** One browser per shopper user agent: Chromium sends beacons with its own user agent, whatever a context's override says. */
  const browsers = new Map<string, Promise<Browser>>();
  const launch = (ua?: string) =>
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(ua ? [`--user-agent=${ua}`] : [])],
    });
  const browserFor = (ua: string | undefined) => {
    if (!ua) return Promise.resolve(browser!);
    if (!browsers.has(ua)) browsers.set(ua, launch(ua));
    return browsers.get(ua)!;
  };
  const contexts: BrowserContext[] = [];
  let sent: Sent[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    log('start');
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser (apt-get install -y chromium) or set CHROMIUM_PATH`);
    ensureSdkBuilt();
    const pipeline = await shopPipeline('dashe2e', SITES, { trustedProxies: ['127.0.0.1'] });
    ({ cfg, gateway, port: gatewayPort } = pipeline);
    es = esFromConfig({ esUrl: cfg.esUrl!, esUsername: '', esPassword: '', esApiKey: '' });
    await Promise.all([
      (async () => (shop = await startShopGateway(pipeline)))(),
      (async () => (processor = await startProcessor(cfg)))(),
      (async () => {
        dashboard = await buildDashboard({ config: { esUrl: cfg.esUrl, esIndexPrefix: cfg.esIndexPrefix, dashboardRefreshS: 2 }, logger: pino({ level: 'warn' }), es });
        await dashboard.listen({ host: '127.0.0.1', port: 0 });
      })(),
      (async () => (browser = await launch()))(),
    ]);
  });

  afterAll(async () => {
    const steps: TeardownStep[] = [
      ['contexts', () => Promise.all(contexts.map((c) => c.close().catch(() => {})))],
      ['browsers', () => Promise.all([...browsers.values()].map(async (b) => (await b).close()))],
      ['browser', () => browser?.close()],
      ['proxies', () => Promise.all(proxies.map((p) => new Promise((r) => (p.closeAllConnections(), p.close(r)))))],
      ['dashboard', () => dashboard?.close()],
      ['processor', () => processor?.stop()],
      ['gateway', () => shop?.close()],
      ['indices', () => es?.indices.delete({ index: `${cfg.esIndexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true })],
      ['es', () => es?.close()],
    ];
    await closeInOrder(steps);
  });

  const sdkReady = (page: Page) =>
    page.waitForFunction(() => typeof (window as unknown as { clickstream?: { flush?: unknown } }).clickstream?.flush === 'function' && document.readyState !== 'loading', null, { timeout: 15_000 });
  const clickTo = async (page: Page, selector: string, url: RegExp) => {
    await Promise.all([page.waitForURL(url, { waitUntil: 'domcontentloaded' }), page.click(selector)]);
    await sdkReady(page);
  };

  /** One shopper's visit; resolves with what its SDK sent, once it has nothing left to send. */
  async function shopAs(s: Shopper): Promise<Sent[]> {
    const context = await (await browserFor(s.ua)).newContext({
      ...(s.device === 'mobile' ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : {}),
      locale: 'en-US',
    });
    contexts.push(context);
    await context.addInitScript(RECORDER);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${s.name}: page error: ${e.message}`));
    const [path, query] = s.landing.split('?');
    const proxy = await forwardingProxy(gatewayPort, s.ip);
    proxies.push(proxy);
    const endpoint = encodeURIComponent(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1/events`);
    await page.goto(`${gateway}/demo/${path}?site=${s.site}&endpoint=${endpoint}${query ? `&${query}` : ''}`, s.referer ? { referer: s.referer } : {});
    await sdkReady(page);
    log(`${s.name} landed`);
    for (const step of s.steps) {
      log(`${s.name} ${JSON.stringify(step)}`);
      if ('go' in step) await clickTo(page, `a[href="${step.go}"]`, new RegExp(step.go.replace('.', '\\.')));
      else if ('cart' in step) await page.click('#add-to-cart');
      else if ('checkout' in step) {
        await clickTo(page, '#go-to-cart', /cart\.html/);
        await clickTo(page, '#checkout', /checkout\.html/);
        await clickTo(page, '#place-order', /thanks\.html/);
      } else if (step.sdk === 'addToCart') {
        await page.evaluate((jpy) => (window as unknown as { clickstream: (...a: unknown[]) => void }).clickstream('addToCart', { productId: 'notebook', price: jpy, quantity: 1, currency: 'JPY' }), step.jpy);
      } else {
        const order = `o-${s.name}`;
        await page.evaluate(
          ([jpy, id]) => (window as unknown as { clickstream: (...a: unknown[]) => void }).clickstream('purchase', { orderId: id, revenue: jpy, currency: 'JPY', items: [{ productId: 'notebook', price: jpy, quantity: 1 }] }),
          [step.jpy, order] as const,
        );
        await Promise.all([page.waitForURL(/thanks\.html/, { waitUntil: 'domcontentloaded' }), page.evaluate((id) => (location.href = `thanks.html?order=${id}`), order)]);
        await sdkReady(page);
      }
    }
    // Sent and confirmed: the SDK keeps a page's entry in storage while it holds anything.
    await page.evaluate(() => (window as unknown as { clickstream: { flush: () => void } }).clickstream.flush());
    await page.waitForFunction(() => Object.keys(localStorage).every((k) => !k.startsWith('cs.')), null, { timeout: 20_000, polling: 100 });
    const events: WireEvent[] = await page.evaluate(() =>
      Object.keys(localStorage)
        .filter((k) => k.startsWith('e2e_sent.'))
        .flatMap((k) => JSON.parse(localStorage.getItem(k)!)),
    );
    const byId = new Map(events.map((e) => [e.event_id, { ...e, shopper: s }]));
    return [...byId.values()];
  }

  test('shoppers in Chromium, counted: every panel of the page shows exactly their figures', async () => {
    // Two shoppers at a time: the machine has two cores.
    for (let i = 0; i < SHOPPERS.length; i += 2) sent.push(...(await Promise.all(SHOPPERS.slice(i, i + 2).map(shopAs))).flat());
    sent = sent.sort((a, b) => a.ts - b.ts);
    expect(problems).toEqual([]);
    // What the test relies on happened: both currencies bought, a campaign, an external referrer, a bot.
    expect(new Set(sent.filter((e) => e.type === 'purchase').map((e) => e.currency))).toEqual(new Set(['EUR', 'JPY']));
    expect(sent.some((e) => e.utm_campaign === 'winter-sale') && sent.some((e) => sourceOf(e) === 'www.google.com')).toBe(true);

    log(`sent ${sent.length}`);
    // Every event sent is in Elasticsearch (raw index), nothing more.
    const index = `${cfg.esIndexPrefix}-events-*`;
    await waitFor(
      async () => {
        await es!.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
        return (await es!.count({ index, allow_no_indices: true, ignore_unavailable: true })).count >= sent.length;
      },
      'every sent event indexed',
      60_000,
    );
    expect((await es!.count({ index })).count).toBe(sent.length);

    log('indexed');
    const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
    page.on('console', (m) => m.type() === 'error' && problems.push(`dashboard console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`dashboard page error: ${e.message}`));
    const base = `http://127.0.0.1:${(dashboard!.server.address() as { port: number }).port}`;
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });

    // All sites; the sessions (entry and exit pages) come from the processor's session documents.
    const all = expectedScreen(sent, []);
    log('dashboard loaded');
    await expect.poll(() => readScreen(page), { timeout: 60_000, interval: 1000 }).toEqual(all);
    expect(await page.locator('#scope').textContent()).toMatch(/^Showing all sites, /);
    expect(Object.keys(all.tiles)).toEqual(expect.arrayContaining(['Revenue EUR', 'Revenue JPY']));

    // Time on page by URL (all sites, the processor's URL windows): views, clicks and revenue per currency per URL.
    const urlRows = await page.locator('#urls tr.group').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td, i) => (i === 0 ? td.title : (td.textContent ?? '').trim()))));
    expect(urlRows.length).toBeGreaterThan(0);
    const humans = sent.filter((e) => !e.shopper.bot);
    const bought = new Set<string>();
    for (const r of urlRows) {
      const on = humans.filter((e) => normal(e.url) === r[0]);
      const revenue = rowsOf(on, () => r[0], true)[0]?.[4] ?? '–';
      if (revenue !== '–') bought.add(r[0]);
      expect([r[0], r[3], r[4], r[7]]).toEqual([r[0], int(on.filter(isView).length), int(on.filter((e) => e.type === 'click').length), revenue]);
    }
    expect(bought.size).toBe(new Set(humans.filter((e) => e.type === 'purchase').map((e) => normal(e.url))).size);

    // The charts (the processor's KPI windows, a minute or five long, over data seconds old) stay inside their axes.
    for (const chart of ['#chart-events', '#chart-conversion']) {
      const outside = await page.locator(`${chart} svg`).evaluate((s) => {
        const width = Number(s.getAttribute('viewBox')!.split(' ')[2]);
        return [...s.querySelectorAll('circle')].map((c) => Number(c.getAttribute('cx'))).filter((x) => !(x >= 64 && x <= width - 12));
      });
      expect(outside, chart).toEqual([]);
      expect(await page.locator(`${chart} circle`).count()).toBeGreaterThan(0);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-pipeline-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(600);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-pipeline-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 1000 });

    // Each site through the selector: its figures only, in its own currency.
    for (const site of SITES) {
      await page.selectOption('#site', site);
      await expect.poll(async () => page.locator('#scope').textContent(), { timeout: 15_000 }).toMatch(new RegExp(`^Showing site ${site},`));
      await expect.poll(() => readScreen(page), { timeout: 20_000, interval: 500 }).toEqual(expectedScreen(sent, [site]));
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-pipeline-${site}.png`), fullPage: true });
    }
    expect(Object.keys(expectedScreen(sent, ['shop-jpy']).tiles).filter((t) => t.startsWith('Revenue'))).toEqual(['Revenue JPY']);
    expect(problems).toEqual([]);
  }, 300_000);
});
