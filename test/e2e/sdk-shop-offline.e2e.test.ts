/**
 * The demo shop in Chromium while the network is cut: the stored queue survives cuts, lost answers,
 * reloads and closed tabs, and every event arrives once (what is checked and how: sdk-shop.e2e.test.ts).
 */
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { waitFor } from '../integration/helpers.js';
import { PRODUCTS, clickTo, dwell, queueEmpty, sdkReady, sentRecords, stored, type SentRecord } from './shop-page.js';
import { shopInBrowser } from './shop-suite.js';

describe('demo shop in Chromium, network cut -> gateway -> Kafka -> processor -> Elasticsearch', () => {
  const shop = shopInBrowser();
  const { newContext, openShop, docsOf, duplicatesDropped, checkExactlyOnce } = shop;

  test('network cut while browsing, then restored; answers lost once: every event arrives exactly once', async () => {
    const context = await newContext();
    const page = await openShop(context, 'product-mug.html');
    await queueEmpty(page); // the first batch (the view) is acknowledged
    const dupsBefore = await duplicatesDropped();

    shop.proxy.cut();
    const passedAtCut = shop.proxy.stats.passed;
    const sentBeforeCut = (await sentRecords(page)).length;
    await page.click('#add-to-cart');
    await page.click('#add-to-cart');
    await clickTo(page, '#go-to-cart', /cart\.html/); // 5 events: a fetch, then the pagehide beacon, both lost
    await clickTo(page, 'nav a:text-is("Products")', /index\.html/);
    await clickTo(page, '#link-tee', /product-tee\.html/);
    await page.click('#add-to-cart');
    await dwell(2000); // at least one retry on this page fails too
    const whileCut = (await sentRecords(page)).slice(sentBeforeCut);
    expect(whileCut.some((r) => r.t === 'beacon'), 'a beacon was tried while cut').toBe(true);
    // A fetch whose page was left before it failed keeps no status (the recorder's handler went with
    // the page): it is in the queue check below. No fetch may have got an answer.
    const fetchesWhileCut = whileCut.filter((r) => r.t === 'fetch');
    expect(fetchesWhileCut.filter((r) => r.s !== 'net' && r.s !== undefined), 'no fetch was answered while cut').toEqual([]);
    expect(fetchesWhileCut.some((r) => r.s === 'net'), 'a fetch failed while cut').toBe(true);
    expect(shop.proxy.stats.passed, 'nothing reached the gateway while cut').toBe(passedAtCut);
    // Everything recorded since the cut is still in the stored queue.
    const queuedIds = new Set((await stored(page))[5].map((e) => e.event_id));
    const triedIds = whileCut.flatMap((r) => r.ev.map((e) => e[0]));
    expect(triedIds.filter((id) => !queuedIds.has(id))).toEqual([]);
    expect(queuedIds.size).toBeGreaterThanOrEqual(9); // 3 clicks + 2 add + nav click + link click + add click, 2 views, add

    shop.proxy.restore();
    await queueEmpty(page, 30_000);

    // The gateway's answers are lost: it has the events, the browser retries them.
    shop.proxy.loseAnswers(true);
    const lostBefore = shop.proxy.stats.answersLost;
    await page.click('#add-to-cart');
    await page.click('#add-to-cart'); // 4 events: sent by the 2 s timer
    await waitFor(async () => shop.proxy.stats.answersLost > lostBefore, 'an answer lost', 10_000, 50);
    shop.proxy.loseAnswers(false);
    await queueEmpty(page, 30_000);
    expect(await duplicatesDropped(), 'the gateway dropped the resent copies').toBeGreaterThan(dupsBefore);

    await checkExactlyOnce(
      page,
      // views: mug, cart, index, tee; clicks: 2 add (mug) + go-to-cart + Products + link-tee + 3 add (tee); adds: 2 + 3
      { views: 4, clicks: 8, addToCart: 5, purchases: 0, engagedPaths: [], maxEngagement: 3 },
      'network cut',
    );
  });

  test('reload while the network is cut: the stored queue survives and is delivered once after restoring', async () => {
    const context = await newContext();
    const page = await openShop(context, 'index.html');
    await queueEmpty(page);

    shop.proxy.cut();
    const passedAtCut = shop.proxy.stats.passed;
    await clickTo(page, '#link-cap', /product-cap\.html/);
    await page.click('#add-to-cart');
    const before = (await stored(page))[5].map((e) => e.event_id);
    expect(before.length).toBeGreaterThanOrEqual(4); // link click, view, add click, add_to_cart (+ maybe an engagement report)
    await page.reload();
    await sdkReady(page);
    const after = (await stored(page))[5];
    expect(after.map((e) => e.event_id).slice(0, before.length), 'the queue survived the reload, in order').toEqual(before);
    expect(after.length, 'plus the reloaded page view').toBeGreaterThan(before.length);
    expect(after.filter((e) => e.type === 'page_view').length).toBeGreaterThanOrEqual(2);
    await dwell(1000);
    expect(shop.proxy.stats.passed, 'nothing reached the gateway while cut').toBe(passedAtCut);
    // Nothing but the first view is in Elasticsearch for this visitor.
    const [visitor] = await stored(page);
    const early = await docsOf(visitor);
    expect(early.filter((d) => before.includes(d.event_id))).toEqual([]);
    expect(early.length).toBeLessThanOrEqual(1);

    shop.proxy.restore();
    await queueEmpty(page, 30_000);
    await checkExactlyOnce(
      page,
      // views: index, cap, cap again; clicks: link-cap, add; adds: 1
      { views: 3, clicks: 2, addToCart: 1, purchases: 0, engagedPaths: [], maxEngagement: 2 },
      'reload while cut',
    );
  });

  // -------------------------------------------------------------------------------------------
  // Several tabs (one browser context: one localStorage), offline, closed in different orders.

  /**
   * While the network is cut nothing is confirmed, so every event the tabs tried to send since
   * `since` (page time) must still be in some page's stored queue: a tab that took a closed tab's
   * entry over has all of it, also what the closing tab wrote after the entry was read (its
   * engagement report). Waits a little for the closed tabs' last writes to reach storage.
   */
  async function triedStillStored(page: Page, since: number, label: string): Promise<void> {
    const missing = () =>
      page.evaluate((since) => {
        const read = (prefix: string) => Object.keys(localStorage).filter((k) => k.startsWith(prefix)).map((k) => JSON.parse(localStorage.getItem(k)!));
        const stored = new Set(read('cs.').flatMap(([, queue]: [number, { event_id: string }[]]) => queue.map((e) => e.event_id)));
        const tried = read('e2e_sent.').flatMap((list: SentRecord[]) => list.filter((r) => r.at >= since).flatMap((r) => r.ev.map(([id, type]) => `${id} ${type} (${r.t}@${r.page})`)));
        return [...new Set(tried)].filter((x) => !stored.has(x.split(' ')[0]));
      }, since);
    await waitFor(async () => (await missing()).length === 0, 'every event tried while cut in a stored queue', 10_000, 100).catch(async () => {
      throw new Error(`${label}: sent while the network was cut, yet in no stored queue: ${(await missing()).join(', ')}`);
    });
  }

  /**
   * `n` tabs on product pages, the network cut, every open tab adding to its cart before each
   * close, tabs closed in `order`; then the network back. The events are delivered by the tab
   * left open (it took the closed tabs' queues over as they closed) or, when every tab was
   * closed, by a new one.
   */
  async function tabsOffline(n: number, order: number[], label: string): Promise<void> {
    const context = await newContext();
    const tabs: Page[] = [await openShop(context, PRODUCTS[0])];
    for (let i = 1; i < n; i++) {
      const tab = await context.newPage();
      await tab.goto(`${shop.gateway}/demo/${PRODUCTS[i]}`);
      await sdkReady(tab);
      tabs.push(tab);
    }
    await queueEmpty(tabs[0], 30_000); // every tab's view acknowledged
    shop.proxy.cut();
    const cutAt = Date.now();
    const passedAtCut = shop.proxy.stats.passed;
    const open = new Set(tabs.keys());
    let adds = 0;
    for (const i of order) {
      for (const j of open) {
        await tabs[j].click('#add-to-cart');
        adds++;
      }
      await tabs[i].close();
      open.delete(i);
    }
    expect(shop.proxy.stats.passed, `${label}: nothing reached the gateway while cut`).toBe(passedAtCut);
    // Read from a page of the origin without the SDK when every tab is closed.
    const reader = open.size ? tabs[[...open][0]] : await context.newPage();
    if (!open.size) await reader.goto(`${shop.gateway}/readyz`);
    await triedStillStored(reader, cutAt, label);
    if (!open.size) await reader.close();
    shop.proxy.restore();
    let last: Page;
    let views = n;
    if (open.size) last = tabs[[...open][0]];
    else {
      last = await context.newPage();
      await last.goto(`${shop.gateway}/demo/index.html`);
      await sdkReady(last);
      views++;
    }
    await queueEmpty(last, 60_000);
    // Each add: a click on the button and an add_to_cart; engagement reports: as many as were sent.
    await checkExactlyOnce(last, { views, clicks: adds, addToCart: adds, purchases: 0, engagedPaths: [], maxEngagement: 2 * n }, label);
  }

  test('2 tabs offline, closed first-opened first; a new tab after reconnecting sends every event once', async () => {
    await tabsOffline(2, [0, 1], '2 tabs, closed 0 1');
  });

  test('2 tabs offline, the second closed while the first stays open: the open one sends both once', async () => {
    await tabsOffline(2, [1], '2 tabs, closed 1, 0 open');
  });

  test('3 tabs offline, closed last-opened first; a new tab sends every event once', async () => {
    await tabsOffline(3, [2, 1, 0], '3 tabs, closed 2 1 0');
  });

  test('3 tabs offline, the middle one then the first closed; the last open tab sends every event once', async () => {
    await tabsOffline(3, [1, 0], '3 tabs, closed 1 0, 2 open');
  });
});
