/**
 * The pipeline under the demo-shop tests (test/e2e/sdk-shop*.e2e.test.ts): topics and indices of
 * their own, the real gateway serving the shop, the proxy in front of it for the SDK, a processor, a
 * Kafka reader counting every event id, and Chromium; and the check every scenario ends with. Each
 * file calls `shopInBrowser()` once (its hooks start and stop all of it), so the files share nothing
 * and run side by side.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startProcessor } from '../../processor/main.js';
import { esFromConfig } from '../../common/es-client.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';
import { eventDocId } from '../../contracts/indices.js';
import type { Config } from '../../contracts/config.js';
import { unique, waitFor } from '../integration/helpers.js';
import { ensureSdkBuilt } from './builds.js';
import { shopPipeline, startShopGateway } from './shop-pipeline.js';
import { closeInOrder, type TeardownStep } from '../harness/teardown.js';
import { startProxy, type Proxy } from './shop-proxy.js';
import { RECORDER, sdkReady, sentRecords, stored, type SentRecord } from './shop-page.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SITE = 'e2e';

export interface Doc {
  _id: string;
  _index: string;
  event_id: string;
  event_type: string;
  visitor_id: string;
  session_id: string;
  engagement_ms: number | null;
  url_path: string | null;
  element: string | null;
  product_id: string | null;
  price: number | null;
  quantity: number | null;
  currency: string | null;
  order_id: string | null;
  revenue: number | null;
  items: unknown;
  site_id: string | null;
  browser: string | null;
}

export interface Expected {
  views: number;
  clicks: number;
  addToCart: number;
  purchases: number;
  /** URL paths that must have an engagement report (the test stayed 1.5 s on them). */
  engagedPaths: string[];
  /** At most this many engagement reports (one per page left). */
  maxEngagement: number;
}

export function shopInBrowser() {
  const brokers = inject('kafkaBrokers');
  const esUrl = inject('esUrl');
  let cfg: Partial<Config>;
  let app: FastifyInstance | undefined;
  let gateway: string;
  let proxy: Proxy | undefined;
  let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
  let es: Client | undefined;
  let consumer: Consumer | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  /** event id -> how many times it is on the event topics */
  const onKafka = new Map<string, number>();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser (apt-get install -y chromium) or set CHROMIUM_PATH`);
    }
    ensureSdkBuilt();

    const pipeline = await shopPipeline('e2e', SITE);
    ({ cfg, gateway } = pipeline);
    const { port } = pipeline;
    const topicPrefix = cfg.topicPrefix!;

    const started = Promise.all([
      (async () => {
        app = await startShopGateway(pipeline);
        proxy = await startProxy(port);
      })(),
      (async () => {
        processor = await startProcessor(cfg);
      })(),
      (async () => {
        const kafka = new Kafka({ clientId: 'e2e-reader', brokers, logLevel: logLevel.NOTHING });
        consumer = kafka.consumer({ groupId: unique('e2e-reader') });
        await consumer.connect();
        await consumer.subscribe({ topics: EVENT_TOPICS.map((t) => topicPrefix + t), fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            const id = (JSON.parse(message.value!.toString()) as { event_id: string }).event_id;
            onKafka.set(id, (onKafka.get(id) ?? 0) + 1);
          },
        });
      })(),
      (async () => {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        });
      })(),
    ]);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    await started;
  });

  // A test that fails while the network is cut (or answers are lost) must not leave it so: every
  // later test would then time out waiting for its events.
  afterEach(() => proxy?.restore());

  afterAll(async () => {
    // Everything is closed even when something before it fails.
    const steps: TeardownStep[] = [
      ['contexts', () => Promise.all(contexts.map((c) => c.close().catch(() => {})))],
      ['browser', () => browser?.close()],
      ['proxy', () => proxy?.close()],
      ['consumer', () => consumer?.disconnect()],
      ['processor', () => processor?.stop()],
      ['gateway', () => app?.close()],
      ['es', () => es?.close()],
    ];
    await closeInOrder(steps);
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser!.newContext();
    contexts.push(context);
    await context.addInitScript(RECORDER);
    return context;
  }

  /** The first page of a context: tells the demo (which remembers it) the site key and the proxied endpoint. */
  async function openShop(context: BrowserContext, path: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${gateway}/demo/${path}?site=${SITE}&endpoint=${encodeURIComponent(`http://127.0.0.1:${proxy!.port}/v1/events`)}`);
    await sdkReady(page);
    return page;
  }


  async function docsOf(visitor: string): Promise<Doc[]> {
    const index = `${cfg.esIndexPrefix}-events-*`;
    await es!.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
    const r = await es!.search<Omit<Doc, '_id' | '_index'>>({
      index,
      size: 1000,
      allow_no_indices: true,
      ignore_unavailable: true,
      query: { term: { visitor_id: visitor } },
    });
    return r.hits.hits.map((h) => ({ ...(h._source as Omit<Doc, '_id' | '_index'>), _id: h._id!, _index: h._index }));
  }

  async function duplicatesDropped(): Promise<number> {
    const text = await (await fetch(`${gateway}/metrics`)).text();
    return Number(/^gateway_events_duplicate_total (\d+)/m.exec(text)?.[1] ?? 0);
  }


  /**
   * What a wait for the sent events found missing: the documents in Elasticsearch, and per id sent
   * but not there its type, the requests that carried it (transport@page, when, outcome, the
   * gateway's accepted/duplicate/rejected counts) and how often it is on the Kafka topics; the ids
   * there but never sent; and every request in order.
   */
  function missingReport(docs: Doc[], sent: Map<string, { type: string; engagement: boolean }>, records: SentRecord[]): string {
    const t0 = records[0]?.at ?? 0;
    const req = (r: SentRecord) => `${r.t}@${r.page.replace('/demo/', '')}+${r.at - t0}ms:${r.ev.length}:${r.s ?? 'unsettled'}${r.a ? ` ${r.a}` : ''}`;
    const inEs = new Set(docs.map((d) => d.event_id));
    const missing = [...sent].filter(([id]) => !inEs.has(id));
    const lines = missing.map(([id, e]) => {
      const carried = records.filter((r) => r.ev.some((x) => x[0] === id)).map(req);
      return `  ${id} ${e.type}${e.engagement ? ' (engagement)' : ''}: on Kafka ${onKafka.get(id) ?? 0}x; carried by ${carried.join(', ') || 'nothing'}`;
    });
    const unsent = docs.filter((d) => !sent.has(d.event_id)).map((d) => `${d.event_id} ${d.event_type}`);
    return [
      `${docs.length} documents in Elasticsearch, ${sent.size} ids sent, ${missing.length} missing:`,
      ...lines,
      ...(unsent.length ? [`in Elasticsearch but never sent: ${unsent.join(', ')}`] : []),
      `requests (transport@page+ms:events:outcome accepted/duplicate/rejected): ${records.map(req).join(' | ')}`,
    ].join('\n');
  }

  /**
   * Waits until Elasticsearch holds every event the SDK of `page`'s context sent for its visitor
   * and nothing more arrives for 2 s, then checks counts, ids and Kafka. Returns the documents.
   */
  async function checkExactlyOnce(page: Page, expected: Expected, label: string): Promise<{ docs: Doc[]; summary: Record<string, unknown> }> {
    const [visitor] = await stored(page);
    const records = await sentRecords(page);
    const sent = new Map<string, { type: string; engagement: boolean }>();
    for (const r of records) for (const [id, type, eng] of r.ev) sent.set(id, { type, engagement: eng === 1 });
    const idsSent = [...sent.keys()].sort();

    let docs: Doc[] = [];
    let stableSince = 0;
    let lastLen = -1;
    await waitFor(
      async () => {
        docs = await docsOf(visitor);
        if (docs.length !== lastLen) {
          lastLen = docs.length;
          stableSince = Date.now();
        }
        return docs.length >= idsSent.length && Date.now() - stableSince >= 2000;
      },
      `${label}: ${idsSent.length} events of visitor ${visitor} in Elasticsearch, then nothing more for 2 s`,
      45_000,
      250,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${missingReport(docs, sent, await sentRecords(page))}`, { cause: err });
    });

    // On Kafka: every sent id arrived (Kafka is read in parallel, so wait for it to catch up).
    await waitFor(async () => idsSent.every((id) => onKafka.has(id)), `${label}: every sent id on the Kafka topics`, 20_000);
    const kafkaDoubled = idsSent
      .filter((id) => onKafka.get(id)! > 1)
      .map((id) => `${id} (${sent.get(id)!.type}${sent.get(id)!.engagement ? ' engagement' : ''}) x${onKafka.get(id)}, carried by ${records.filter((r) => r.ev.some((e) => e[0] === id)).map((r) => `${r.t}@${r.page}`).join(' ')}`);

    // By type.
    const count = (pred: (d: Doc) => boolean) => docs.filter(pred).length;
    const views = count((d) => d.event_type === 'page_view' && d.engagement_ms == null);
    const engagement = docs.filter((d) => d.event_type === 'page_view' && d.engagement_ms != null);
    const clicks = count((d) => d.event_type === 'click');
    const adds = count((d) => d.event_type === 'add_to_cart');
    const purchases = count((d) => d.event_type === 'purchase');
    const sentEngagement = [...sent.values()].filter((e) => e.engagement).length;
    const summary = {
      visitor,
      inEs: docs.length,
      sent: idsSent.length,
      requests: { fetch: records.filter((r) => r.t === 'fetch').length, beacon: records.filter((r) => r.t === 'beacon').length },
      // transport@page:events:outcome, in order ("unsettled": the page was gone before the answer)
      log: records.map((r) => `${r.t}@${r.page.replace('/demo/', '').replace('.html', '')}:${r.ev.length}:${r.s ?? 'unsettled'}`),
      page_view: views + engagement.length,
      views,
      engagement: engagement.map((d) => `${d.url_path} ${d.engagement_ms}ms`),
      click: clicks,
      add_to_cart: adds,
      purchase: purchases,
      kafkaDoubled,
    };
    console.log(`[e2e] ${label}: ${JSON.stringify(summary)}`);

    // By event id: the same ids, each once (a copy in another daily index would be a second hit).
    const idsInEs = docs.map((d) => d.event_id).sort();
    expect(new Set(idsInEs).size, `${label}: an event id has two documents`).toBe(idsInEs.length);
    expect(idsInEs, `${label}: ids in Elasticsearch vs ids the SDK sent`).toEqual(idsSent);
    // Document id = identity: site and event id.
    for (const d of docs) expect(d._id).toBe(eventDocId(d));
    // Each id once on the Kafka topics too: the gateway drops resent copies by event id, also a copy
    // racing a request that is itself waiting on another in-flight original.
    expect(kafkaDoubled, `${label}: ids on the Kafka topics more than once`).toEqual([]);

    expect({ views, clicks, adds, purchases }, `${label}: counts by type`).toEqual({
      views: expected.views,
      clicks: expected.clicks,
      adds: expected.addToCart,
      purchases: expected.purchases,
    });
    expect(engagement.length, `${label}: engagement reports in ES vs sent`).toBe(sentEngagement);
    expect(engagement.length).toBeLessThanOrEqual(expected.maxEngagement);
    const engagedPaths = engagement.map((d) => d.url_path);
    for (const p of expected.engagedPaths) expect(engagedPaths, `${label}: engagement report for ${p}`).toContain(p);
    // One visitor, one session, this site, seen as Chrome.
    expect(new Set(docs.map((d) => d.session_id)).size).toBe(1);
    for (const d of docs) {
      expect(d.site_id).toBe(SITE);
      expect(d.browser).toMatch(/Chrome/);
    }
    // Nothing left behind in the browser.
    expect((await stored(page))[5], `${label}: stored queue at the end`).toEqual([]);
    return { docs, summary };
  }

  return {
    /** The gateway's base URL (set once the hooks ran). */
    get gateway() {
      return gateway;
    },
    get proxy() {
      return proxy!;
    },
    newContext,
    openShop,
    docsOf,
    duplicatesDropped,
    checkExactlyOnce,
  };
}
