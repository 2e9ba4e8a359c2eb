/**
 * End to end in a real browser: Debian's chromium (driven by playwright-core) on the demo shop
 * (sdk/demo, served by a real gateway with GATEWAY_DEMO_SHOP) -> gateway -> real Kafka -> processor ->
 * real Elasticsearch, with exact counts per visitor. See sdk/test/E2E.md for the plan.
 *
 * Pages come straight from the gateway; the SDK posts through a TCP proxy in the test (a
 * different port, so the shop talks to its endpoint cross-origin, with the gateway's CORS) that
 * can cut the network (every open socket reset, new ones refused: fetch and beacons, of a live
 * page or of one unloading, all fail alike, while navigation keeps working) or lose the gateway's
 * answers (the request got through and was acknowledged by Kafka, the browser never hears it).
 *
 * What "sent" means: an init script in every page records the event ids of every body the SDK
 * hands to fetch or sendBeacon (in localStorage, so it survives reloads and closed tabs). Each
 * scenario then checks, for its own visitor (one browser context each):
 *  - counts by type in Elasticsearch equal the steps taken (views, clicks, add_to_cart, purchase);
 *    engagement reports (page_view with engagement_ms) equal what the SDK sent, and include the
 *    pages the test deliberately stayed on for 1.5 s;
 *  - the ids in Elasticsearch equal the ids the SDK sent: none missing, none doubled (one hit per
 *    id across every daily index), and each id is on the Kafka topics exactly once (the gateway
 *    dropped the resent copies);
 *  - the SDK's stored queue is empty at the end.
 *
 * Chromium: CHROMIUM_PATH or /usr/bin/chromium (`scripts/ensure-deps.sh --browser` installs it).
 *
 * The scenarios are in three files that share nothing (each starts its own gateway, proxy, processor
 * and Chromium through test/e2e/shop-suite.ts), so they run side by side: this one (a click-through,
 * hash routes, tabs closed after a purchase), sdk-shop-offline (network cuts, reloads and tabs
 * offline) and sdk-shop-closes (100 page closes).
 */
import { describe, expect, test } from 'vitest';
import { waitFor } from '../integration/helpers.js';
import { clickTo, dwell, pictureProblems, queueEmpty, sdkReady, sentRecords, stored } from './shop-page.js';
import { shopInBrowser, type Doc } from './shop-suite.js';

describe('demo shop in Chromium -> gateway -> Kafka -> processor -> Elasticsearch', () => {
  const shop = shopInBrowser();
  const { newContext, openShop, docsOf, checkExactlyOnce } = shop;

  test('click-through: product, add to cart, cart, checkout, purchase, thank-you', async () => {
    const context = await newContext();
    // A newcomer's first look: no console error, no failed request (favicon included) on any page.
    const problems: string[] = [];
    context.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
    });
    context.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    context.on('requestfailed', (r) => {
      // A click that navigates cancels the SDK's batch still in flight (net::ERR_ABORTED): the SDK
      // keeps that batch and sends it again (the exactly-once check below counts it), so it is not
      // a broken page. Any other failure, and any aborted page resource, is.
      const sdkBatchCancelled = r.method() === 'POST' && new URL(r.url()).pathname === '/v1/events' && r.failure()?.errorText === 'net::ERR_ABORTED';
      if (!sdkBatchCancelled) problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`);
    });
    const page = await openShop(context, 'index.html');
    // Product pictures are images, not emoji (which need a colour emoji font to show).
    const pictures = await page.$$eval('main img', (imgs) => imgs.map((i) => [(i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0, (i as HTMLImageElement).alt]));
    expect(pictures).toEqual([
      [true, 'Clickstream mug'],
      [true, 'Kafka T-shirt'],
      [true, 'Elastic cap'],
      [true, 'Parquet notebook'],
    ]);
    expect(await pictureProblems(page)).toEqual([]);
    await clickTo(page, '#link-mug', /product-mug\.html/);
    expect(await pictureProblems(page)).toEqual([]);
    await page.fill('#qty', '2');
    await page.click('#add-to-cart');
    await page.waitForSelector('#go-to-cart', { state: 'visible' });
    await dwell(1500); // an engagement report for the product page
    await clickTo(page, '#go-to-cart', /cart\.html/);
    await page.waitForSelector('#checkout', { state: 'visible' });
    await dwell(1500); // and one for the cart
    expect(await pictureProblems(page)).toEqual([]);
    await clickTo(page, '#checkout', /checkout\.html/);
    expect(await pictureProblems(page)).toEqual([]);
    await clickTo(page, '#place-order', /thanks\.html/);
    expect(await pictureProblems(page)).toEqual([]);
    const orderId = (await page.textContent('#order'))!.trim();
    expect(orderId).toMatch(/^o-/);
    await queueEmpty(page);

    const { docs } = await checkExactlyOnce(
      page,
      { views: 5, clicks: 5, addToCart: 1, purchases: 1, engagedPaths: ['/demo/product-mug.html', '/demo/cart.html'], maxEngagement: 4 },
      'click-through',
    );
    expect(docs.filter((d) => d.event_type === 'page_view' && d.engagement_ms == null).map((d) => d.url_path).sort()).toEqual(
      ['/demo/cart.html', '/demo/checkout.html', '/demo/index.html', '/demo/product-mug.html', '/demo/thanks.html'],
    );
    expect(docs.filter((d) => d.event_type === 'click').map((d) => d.element?.split(' ')[0]).sort()).toEqual(
      ['a#checkout', 'a#go-to-cart', 'a#link-mug', 'button#add-to-cart', 'button#place-order'],
    );
    expect(docs.find((d) => d.event_type === 'add_to_cart')).toMatchObject({ product_id: 'mug', quantity: 2, price: 12, currency: 'EUR' });
    // The pages the click-through does not pass: the same first look.
    for (const path of ['product-tee.html', 'product-cap.html', 'product-notebook.html', 'help.html']) {
      const other = await openShop(context, path);
      expect(await pictureProblems(other), path).toEqual([]);
      await other.close();
    }
    expect(problems, 'console errors and failed requests on the demo pages').toEqual([]);
    expect(docs.find((d) => d.event_type === 'purchase')).toMatchObject({
      order_id: orderId,
      revenue: 24,
      currency: 'EUR',
      items: [{ product_id: 'mug', price: 12, quantity: 2 }],
    });
  });

  test('tab closed right after a purchase on the thank-you page: the purchase arrives', async () => {
    // Online: the purchase leaves in the checkout page's pagehide beacon; nothing else is opened
    // until it is in Elasticsearch.
    const context = await newContext();
    const page = await openShop(context, 'product-notebook.html');
    await page.click('#add-to-cart');
    await clickTo(page, '#go-to-cart', /cart\.html/);
    await clickTo(page, '#checkout', /checkout\.html/);
    // An empty queue when the order is placed: the click and the purchase (2 events, under the
    // batch size of 5) wait for the 2 s timer, so no fetch can take them before the page is left.
    await queueEmpty(page);
    const visitor = (await stored(page))[0];
    await Promise.all([page.waitForURL(/thanks\.html/, { waitUntil: 'domcontentloaded' }), page.click('#place-order')]);
    const orderId = (await page.textContent('#order'))!.trim();
    await page.close(); // at once: no wait, no flush
    const purchase = await waitFor(
      async () => (await docsOf(visitor)).find((d) => d.event_type === 'purchase'),
      'the purchase in Elasticsearch after the tab was closed',
      20_000,
    );
    expect(purchase).toMatchObject({ order_id: orderId, revenue: 7.9, currency: 'EUR', items: [{ product_id: 'notebook', price: 7.9, quantity: 1 }] });

    // What the closed tab left in the queue (its own view, at least) goes out from the next page.
    const next = await context.newPage();
    await next.goto(`${shop.gateway}/demo/index.html`);
    await sdkReady(next);
    const records = await sentRecords(next);
    const carried = records.filter((r) => r.ev.some((e) => e[1] === 'purchase')).map((r) => `${r.t}@${r.page}`);
    expect(carried[0], `the purchase first left in the checkout page's pagehide beacon (${carried.join(', ')})`).toBe('beacon@/demo/checkout.html');
    await queueEmpty(next);
    await checkExactlyOnce(
      next,
      // views: notebook, cart, checkout, thanks, index; clicks: add, go-to-cart, checkout, place-order
      { views: 5, clicks: 4, addToCart: 1, purchases: 1, engagedPaths: [], maxEngagement: 4 },
      'tab closed',
    );
  });

  test('tab closed after a purchase made while the network was cut: the purchase arrives once from the stored queue', async () => {
    const context = await newContext();
    const page = await openShop(context, 'product-cap.html');
    await page.click('#add-to-cart');
    await clickTo(page, '#go-to-cart', /cart\.html/);
    await clickTo(page, '#checkout', /checkout\.html/);
    await queueEmpty(page);
    shop.proxy.cut();
    const passedAtCut = shop.proxy.stats.passed;
    await Promise.all([page.waitForURL(/thanks\.html/, { waitUntil: 'domcontentloaded' }), page.click('#place-order')]);
    const orderId = (await page.textContent('#order'))!.trim();
    const visitor = await page.evaluate(() => JSON.parse(localStorage.getItem('cs')!)[0] as string);
    await page.close();
    await dwell(1000);
    expect(shop.proxy.stats.passed, 'nothing reached the gateway while cut').toBe(passedAtCut);
    expect((await docsOf(visitor)).some((d) => d.event_type === 'purchase')).toBe(false);

    shop.proxy.restore();
    const next = await context.newPage();
    await next.goto(`${shop.gateway}/demo/index.html`);
    await sdkReady(next);
    await queueEmpty(next);
    const { docs } = await checkExactlyOnce(
      next,
      // views: cap, cart, checkout, thanks, index; clicks: add, go-to-cart, checkout, place-order
      { views: 5, clicks: 4, addToCart: 1, purchases: 1, engagedPaths: [], maxEngagement: 4 },
      'tab closed while cut',
    );
    expect(docs.find((d) => d.event_type === 'purchase')).toMatchObject({ order_id: orderId, revenue: 18.5 });
  });

  test('hash routes are views; an anchor and a hash set by replaceState are not: every engagement report is for a counted view', async () => {
    const context = await newContext();
    const page = await openShop(context, 'index.html');
    await page.goto(`${shop.gateway}/demo/help.html#/shipping`);
    await sdkReady(page);
    await dwell(1500);
    await page.click('nav.tabs a:text-is("Returns")'); // a hash route: a view
    await dwell(1500);
    await page.goto(`${shop.gateway}/demo/product-mug.html`);
    await sdkReady(page);
    await dwell(1500);
    await page.evaluate(() => (location.hash = '#reviews')); // an in-page anchor: not a view
    await dwell(1500);
    await page.evaluate(() => history.replaceState(null, '', location.pathname + '#pricing')); // not a view either
    await dwell(1500);
    await clickTo(page, 'nav.top a:text-is("Products")', /index\.html/);
    await queueEmpty(page, 30_000);
    const { docs } = await checkExactlyOnce(
      page,
      // views: index, help#/shipping, help#/returns, product-mug, index; clicks: Returns, Products
      { views: 5, clicks: 2, addToCart: 0, purchases: 0, engagedPaths: ['/demo/help.html', '/demo/product-mug.html'], maxEngagement: 5 },
      'hash routes and anchors',
    );
    const full = docs as (Doc & { url: string })[];
    const views = full.filter((d) => d.event_type === 'page_view' && d.engagement_ms == null).map((d) => d.url.replace(shop.gateway, ''));
    const reports = full.filter((d) => d.engagement_ms != null).map((d) => [d.url.replace(shop.gateway, ''), d.engagement_ms!] as const);
    expect(views.filter((u) => !u.startsWith('/demo/index')).sort()).toEqual(['/demo/help.html#/returns', '/demo/help.html#/shipping', '/demo/product-mug.html']);
    for (const [url] of reports) expect(views, `the engagement report for ${url} has a view`).toContain(url);
    // The time after the anchor and the replaceState stays with the product page's view: about 4.5 s.
    const mug = reports.filter(([u]) => u === '/demo/product-mug.html').reduce((t, [, ms]) => t + ms, 0);
    expect(mug).toBeGreaterThanOrEqual(4000);
  });
});
