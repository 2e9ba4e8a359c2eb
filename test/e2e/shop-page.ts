/**
 * In the demo shop's pages, for the tests in test/e2e/sdk-shop*.e2e.test.ts: what the SDK sent (an
 * init script records it), what it still holds, and waits on the page's own state.
 */
import type { Page } from 'playwright-core';

// In the page: what the SDK sent, and what it still holds.

export interface SentRecord {
  /** fetch or beacon */
  t: string;
  /** Status of a fetch ("net" for a network error), whether a beacon was taken by the browser. */
  s?: string | boolean;
  /** The gateway's counts in a fetch's answer, "accepted/duplicate/rejected" (a probe is confirmed by its duplicate). */
  a?: string;
  page: string;
  /** Date.now() in the page when it was sent. */
  at: number;
  /** [event_id, type, 1 when it is an engagement report] */
  ev: [string, string, number][];
}

/**
 * Runs before any script of every page: records every body sent to the endpoint, in
 * localStorage (synchronous, so what a page beacons while it unloads is recorded too). The demo's
 * own panel wraps fetch and sendBeacon again on top of this. The panel is kept closed so that it
 * covers no button.
 */
export const RECORDER = `(() => {
  if (location.protocol !== 'http:') return;
  // One key per page (as the SDK does): tabs writing one shared key would overwrite each other's records.
  var KEY = 'e2e_sent.' + Date.now() + '.' + Math.random().toString(36).slice(2);
  var isEndpoint = function (u) { return /\\/v1\\/events/.test(String(u)); };
  var add = function (t, body) {
    try {
      var list = JSON.parse(localStorage.getItem(KEY) || '[]');
      var ev = (JSON.parse(body).events || []).map(function (e) { return [e.event_id, e.type, e.engagement_ms != null ? 1 : 0]; });
      list.push({ t: t, page: location.pathname, at: Date.now(), ev: ev });
      localStorage.setItem(KEY, JSON.stringify(list));
      return list.length - 1;
    } catch (e) { return -1; }
  };
  var mark = function (i, s, a) {
    try {
      var list = JSON.parse(localStorage.getItem(KEY) || '[]');
      if (list[i]) { list[i].s = s; if (a) list[i].a = a; localStorage.setItem(KEY, JSON.stringify(list)); }
    } catch (e) {}
  };
  var f = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : input && input.url;
    if (!isEndpoint(url) || !init || typeof init.body !== 'string') return f.apply(this, arguments);
    var i = add('fetch', init.body);
    return f.apply(this, arguments).then(
      function (r) {
        mark(i, String(r.status));
        r.clone().json().then(function (j) { mark(i, String(r.status), j.accepted + '/' + j.duplicate + '/' + j.rejected); }, function () {});
        return r;
      },
      function (err) { mark(i, 'net'); throw err; });
  };
  var b = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, data) {
    var ok = b(url, data);
    if (isEndpoint(url) && typeof data === 'string') { var i = add('beacon', data); mark(i, ok); }
    return ok;
  };
  try { sessionStorage.setItem('demo_panel', 'closed'); } catch (e) {}
})();`;

/**
 * What the SDK stores: identity in `cs` ([visitor, session, last event time, utm, user]) and one
 * entry per page, `cs.<page id>` -> [time written (0: page gone), queue]; an event of the queue
 * that left (beaconed, or in a fetch not answered yet) carries `$`, when it left. Returned as
 * [visitor, session, last, utm, user, every stored event].
 */
export type Stored = [string, string, number, Record<string, string>, string, { event_id: string; type: string }[]];

export async function stored(page: Page): Promise<Stored> {
  return page.evaluate(() => {
    const id = JSON.parse(localStorage.getItem('cs') || 'null');
    if (!id) return null;
    const events = Object.keys(localStorage)
      .filter((k) => k.startsWith('cs.'))
      .flatMap((k) => {
        const [, queue] = JSON.parse(localStorage.getItem(k)!);
        return queue;
      });
    return [...id.slice(0, 5), events];
  }) as Promise<Stored>;
}

/** What every page of the browser context recorded, oldest first. */
export async function sentRecords(page: Page): Promise<SentRecord[]> {
  const records: SentRecord[] = await page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith('e2e_sent.'))
      .flatMap((k) => JSON.parse(localStorage.getItem(k)!)),
  );
  return records.sort((a, b) => a.at - b.at);
}

/** The SDK's script has loaded (its methods are on window.clickstream) and the page is parsed. */
export async function sdkReady(page: Page): Promise<void> {
  await page.waitForFunction(
    () => typeof (window as unknown as { clickstream?: { flush?: unknown } }).clickstream?.flush === 'function' && document.readyState !== 'loading',
    null,
    { timeout: 10_000 },
  );
}

/**
 * Waits until no page of the origin has anything queued nor waiting for confirmation. With
 * `unhiddenLeft`, the entries of pages that were never hidden (no event marked as left: their
 * pagehide and visibilitychange never ran) may stay; returns their keys.
 */
export async function queueEmpty(page: Page, timeout = 20_000, unhiddenLeft = false): Promise<string[]> {
  try {
    const left = await page.waitForFunction(
      (unhidden) => {
        const keys = Object.keys(localStorage).filter((k) => k.startsWith('cs.'));
        // With `unhidden`, entries a closed tab left behind without marking them gone may stay: never
        // hidden (no event marked as left), or hidden but closed before its pagehide ran (not written for 15 s).
        const left = (e: [number, { $?: number }[]]) => !e[1].some((x) => x.$) || (e[0] !== 0 && Date.now() - e[0] > 15_000);
        const ok = !!localStorage.getItem('cs') && keys.every((k) => unhidden && left(JSON.parse(localStorage.getItem(k)!)));
        return ok && keys;
      },
      unhiddenLeft,
      { timeout, polling: 100 },
    );
    return (await left.jsonValue()) as string[];
  } catch (err) {
    const left = await page.evaluate(() =>
      Object.keys(localStorage)
        .filter((k) => k.startsWith('cs.'))
        .map((k) => {
          const [written, queue] = JSON.parse(localStorage.getItem(k)!) as [number, { type: string; event_id: string; $?: number }[]];
          // type:id, and @when it left for the events that did (beaconed, or in a fetch not answered yet)
          return { key: k, written, now: Date.now(), queue: queue.map((e) => `${e.type}:${e.event_id.slice(-6)}${e.$ ? '@' + e.$ : ''}`) };
        }),
    );
    throw new Error(`stored queues not empty after ${timeout} ms: ${JSON.stringify(left)}`, { cause: err });
  }
}

/** Clicks something that leads to another page of the shop, and waits for the SDK there. */
export async function clickTo(page: Page, selector: string, url: RegExp): Promise<void> {
  await Promise.all([page.waitForURL(url, { waitUntil: 'domcontentloaded' }), page.click(selector)]);
  await sdkReady(page);
}

/**
 * What would not show on a machine without a colour emoji font, or at all: every image of the
 * page (logo and product pictures) loaded with a size, and no emoji in the page's text.
 */
export async function pictureProblems(page: Page): Promise<string[]> {
  await page.waitForLoadState('load');
  return page.evaluate(() => [
    ...[...document.images].filter((i) => !i.complete || i.naturalWidth == 0).map((i) => `image not shown: ${i.src}`),
    ...(/[\u{1F300}-\u{1FAFF}\u{2600}-\u{27BF}]/u.test(document.body.innerText) ? [`emoji in the text of ${location.pathname}`] : []),
  ]);
}

export const dwell = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Product pages of the demo shop, for the tests that open several. */
export const PRODUCTS = ['product-mug.html', 'product-tee.html', 'product-cap.html'];
