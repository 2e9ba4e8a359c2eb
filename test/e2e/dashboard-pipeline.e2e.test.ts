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
import { RECORDER, SHOPPERS, SITES, forwardingProxy, type Sent, type Shopper, type WireEvent } from './dashboard-shoppers.js';
import { expectedScreen, int, isView, normal, readScreen, rowsOf, sourceOf } from './dashboard-expected.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = process.env.DASHBOARD_ARTIFACTS || '.data/test-artifacts';
const T0 = Date.now();
const log = (m: string) => process.env.E2E_TRACE && console.log(`${((Date.now() - T0) / 1000).toFixed(1)}s ${m}`);

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
