/**
 * A spike in a real browser: the real gateway (real Kafka, processor, Elasticsearch) is driven into
 * overload by a flood of 20-event batches from this process while Chromium runs the SDK on a demo
 * page. The gateway sheds (503 GW_ERR_OVERLOADED, jittered Retry-After) instead of queueing; the
 * SDK keeps each refused batch and sends it again after Retry-After. Checked: the browser's own
 * requests were shed at least once, and every event id it tracked is in Elasticsearch exactly once.
 * Short on purpose (a flood of at most 20 s, 60 browser events); admission control's rules are
 * unit-tested in gateway/admission.test.ts, the numbers are in bench:gateway.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@elastic/elasticsearch';
import { chromium, type Browser } from 'playwright-core';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import type { Config } from '../../contracts/config.js';
import { waitFor } from '../integration/helpers.js';
import { pageView } from '../unit/fixtures.js';
import { ensureSdkBuilt } from './builds.js';
import { shopPipeline, startShopGateway } from './shop-pipeline.js';

const esUrl = inject('esUrl');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const BROWSER_EVENTS = 60;

/** In the page: every request the SDK makes to the endpoint, with the ids it carried and its status. */
const RECORDER = `(() => {
  const log = (window.__sent = []);
  const orig = window.fetch;
  window.fetch = function (input, init) {
    const p = orig.apply(this, arguments);
    if (String(input).includes('/v1/events') && init && typeof init.body === 'string') {
      const ids = JSON.parse(init.body).events.map((e) => e.event_id);
      p.then((r) => log.push({ ids, status: r.status, retryAfter: r.headers.get('retry-after') }), () => log.push({ ids, status: 0 }));
    }
    return p;
  };
})();`;

interface Sent {
  ids: string[];
  status: number;
  retryAfter?: string | null;
}

let app: FastifyInstance | undefined;
let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
let browser: Browser | undefined;
let es: Client | undefined;
let gateway: string;
let cfg: Partial<Config>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser or set CHROMIUM_PATH`);
  ensureSdkBuilt();
  const pipeline = await shopPipeline('ovl', 'ovl', {
    gatewayRateLimitIp: 0,
    gatewayRateLimitSite: 0,
    // A tight bound, so the flood this test can make on a shared machine is an overload.
    gatewayMaxQueueDelayMs: 50,
    gatewayShedRetryAfterMaxS: 2,
  });
  ({ cfg, gateway } = pipeline);
  app = await startShopGateway(pipeline);
  [processor, browser] = await Promise.all([
    startProcessor(cfg),
    chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] }),
  ]);
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
});

afterAll(async () => {
  for (const step of [() => browser?.close(), () => processor?.stop(), () => app?.close(), () => es?.close()]) {
    try {
      await step();
    } catch (err) {
      console.error('afterAll', err);
    }
  }
});

/** Clients posting 20-event batches back to back, ignoring Retry-After (a spike does not wait). */
function flood(connections: number, maxMs: number) {
  let running = true;
  const stats = { ok: 0, shed: 0, other: 0 };
  const until = Date.now() + maxMs;
  const loops = Array.from({ length: connections }, async () => {
    while (running && Date.now() < until) {
      try {
        const res = await fetch(`${gateway}/v1/events?site=ovl`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ events: Array.from({ length: 20 }, () => pageView()) }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (res.status === 200) stats.ok++;
        else if (res.status === 503) stats.shed++;
        else stats.other++;
      } catch {
        stats.other++;
      }
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('overloaded gateway: the browser is told to come back later, and every event it tracked arrives once', { timeout: 180_000 }, async () => {
  const context = await browser!.newContext();
  await context.addInitScript(RECORDER);
  const page = await context.newPage();
  await page.goto(`${gateway}/demo/help.html?site=ovl&endpoint=${encodeURIComponent(`${gateway}/v1/events`)}`);
  await page.waitForFunction(() => typeof (window as unknown as { clickstream?: { track?: unknown } }).clickstream?.track === 'function', null, { timeout: 15_000 });
  const visitor = await page.evaluate(() => JSON.parse(localStorage.getItem('cs')!)[0] as string);

  const spike = flood(96, 20_000);
  try {
    await waitFor(async () => spike.stats.shed > 0, 'the gateway shedding the flood', 15_000, 50);
    // The browser tracks its events during the spike, a few at a time, and goes on (at most 60 s more)
    // until one of its requests is shed: on an idle machine the flood sheds only part of the time.
    const browserShed = async () => (await page.evaluate(() => (window as unknown as { __sent: Sent[] }).__sent)).some((s) => s.status === 503);
    const trackUntil = Date.now() + 60_000;
    for (let i = 0; i < BROWSER_EVENTS || (Date.now() < trackUntil && !(await browserShed())); i += 5) {
      await page.evaluate((n) => {
        const cs = (window as unknown as { clickstream: { track: (t: string, p: object) => void } }).clickstream;
        for (let k = 0; k < 5; k++) cs.track('click', { element: `button#b${n + k}` });
      }, i);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(browserShed, 'a browser request shed', 20_000, 100);
  } finally {
    await spike.stop();
  }
  console.log(`[overload] flood: ${spike.stats.ok} batches accepted, ${spike.stats.shed} shed, ${spike.stats.other} other`);

  // The spike is over: the SDK empties its queue by itself, after the Retry-After it was given.
  // (Each page keeps its queue under its own key, cs.<page id>, removed once empty: see sdk/README.md.)
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('cs.')), null, { timeout: 60_000, polling: 200 });
  const sent = await page.evaluate(() => (window as unknown as { __sent: Sent[] }).__sent);
  const shed = sent.filter((s) => s.status === 503);
  expect(shed.length).toBeGreaterThan(0);
  for (const s of shed) expect(Number(s.retryAfter)).toBeGreaterThanOrEqual(1);
  const tracked = [...new Set(sent.flatMap((s) => s.ids))].sort();
  // The page view of the page load and the clicks.
  expect(tracked.length).toBeGreaterThanOrEqual(BROWSER_EVENTS);

  const index = `${cfg.esIndexPrefix}-events-*`;
  let ids: string[] = [];
  await waitFor(
    async () => {
      await es!.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
      // By event id (the document id is site and event id).
      const r = await es!.search<{ event_id: string }>({ index, size: 1000, _source: ['event_id'], allow_no_indices: true, ignore_unavailable: true, query: { term: { visitor_id: visitor } } });
      ids = r.hits.hits.map((h) => h._source!.event_id).sort();
      return ids.length >= tracked.length;
    },
    `${tracked.length} events of the browser's visitor in Elasticsearch`,
    60_000,
    500,
  );
  console.log(`[overload] browser: ${sent.length} requests, ${shed.length} shed; ${tracked.length} events tracked, ${ids.length} in Elasticsearch`);
  expect(ids).toEqual(tracked);
  await context.close();
});
