/**
 * The SDK as a site loads it in production: a page on one origin takes the script from the
 * gateway on another (the compiled gateway, `node dist/gateway/server.js` with
 * NODE_ENV=production, as the image runs it), by its versioned path with `integrity` and `crossorigin="anonymous"`, in
 * Debian's Chromium; the script runs, and its page view reaches the real Kafka through the
 * gateway (sites configured, so not the open demo mode). A page whose integrity attribute does
 * not match gets the script blocked by the browser and sends nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { ensureTopics } from '../../infra/setup-topics.js';
import { topicFor } from '../../contracts/topics.js';
import { readTopic, unique } from '../integration/helpers.js';
import { DIST, ensureDistBuilt, ensureSdkBuilt } from './builds.js';
import { freePort } from '../../infra/ports.js';
import { startNodeService, type NodeService } from './node-service.js';

const brokers = inject('kafkaBrokers');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let gw: NodeService | undefined;
let site: http.Server | undefined;
let browser: Browser | undefined;
let gateway = '';
let origin = '';
let topicPrefix = '';
let manifest: { scripts: Record<string, { path: string; integrity: string }> };

/** The site's page: the README's loader snippet, then the script tag with the given integrity. */
const page = (integrity: string) => `<!doctype html><html><head><title>shop</title>
<script>
window.clickstream=window.clickstream||function(){(clickstream.q=clickstream.q||[]).push(arguments)};
clickstream('init', { endpoint: '${gateway}/v1/events', siteKey: 'sri' });
clickstream('page');
</script>
<script async src="${gateway}${manifest.scripts['clickstream.min.js'].path}" integrity="${integrity}" crossorigin="anonymous"
  onload="window.__sdk='loaded'" onerror="window.__sdk='blocked'"></script>
</head><body>hello</body></html>`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser or set CHROMIUM_PATH`);
  ensureSdkBuilt();
  ensureDistBuilt();
  topicPrefix = `${unique('sri')}_`;
  await ensureTopics(brokers, { prefix: topicPrefix, partitions: 1 });

  // The site: its own origin (another port), pages chosen by path.
  site = http.createServer((req, res) => {
    const good = manifest.scripts['clickstream.min.js'].integrity;
    const bad = `sha384-${createHash('sha384').update('not the script').digest('base64')}`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(req.url === '/tampered' ? bad : good));
  });
  await new Promise<void>((r) => site!.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

  const port = await freePort();
  gateway = `http://127.0.0.1:${port}`;
  gw = await startNodeService(
    `${DIST}/gateway/server.js`,
    { GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port), KAFKA_BROKERS: brokers.join(','), TOPIC_PREFIX: topicPrefix, SITES: `sri:${origin}`, LOG_LEVEL: 'warn' },
    `${gateway}/readyz`,
  );
  manifest = await (await fetch(`${gateway}/sdk/manifest.json`)).json();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  const code = await gw?.stop();
  await new Promise((r) => (site ? site.close(r) : r(undefined)));
  if (gw) expect(code, `the gateway exits 0 on SIGTERM:\n${gw.output().slice(-2000)}`).toBe(0);
});

test('the versioned script loads cross-origin with its SRI hash and its page view reaches Kafka', async () => {
  const ctx = await browser!.newContext();
  try {
    const tab = await ctx.newPage();
    const sent = tab.waitForResponse((r) => r.url().startsWith(`${gateway}/v1/events`) && r.request().method() === 'POST', { timeout: 30_000 });
    const script = tab.waitForResponse((r) => r.url().includes('/clickstream.min.js'));
    await tab.goto(`${origin}/shop`);
    const s = await script;
    expect(s.status()).toBe(200);
    expect(s.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(s.headers()['content-encoding']).toBe('br');
    await tab.waitForFunction(() => (window as unknown as { __sdk?: string }).__sdk === 'loaded', undefined, { timeout: 10_000 });
    const res = await sent;
    expect(res.status()).toBe(200);
    expect((await res.json()).accepted).toBe(1);
    const [record] = await readTopic(brokers, topicFor('page_view', topicPrefix), 1);
    expect(JSON.parse(record.value)).toMatchObject({ event_type: 'page_view', site_id: 'sri', url: `${origin}/shop` });
  } finally {
    await ctx.close();
  }
});

test('a script whose bytes do not match the integrity attribute is blocked and sends nothing', async () => {
  const ctx = await browser!.newContext();
  try {
    const tab = await ctx.newPage();
    let posts = 0;
    tab.on('request', (r) => void (r.url().startsWith(`${gateway}/v1/`) && posts++));
    await tab.goto(`${origin}/tampered`);
    await tab.waitForFunction(() => (window as unknown as { __sdk?: string }).__sdk !== undefined, undefined, { timeout: 10_000 });
    expect(await tab.evaluate(() => (window as unknown as { __sdk: string }).__sdk)).toBe('blocked');
    // The loader's queue is still the stub's: the SDK never ran.
    expect(await tab.evaluate(() => (window as unknown as { clickstream: { q?: unknown[] } }).clickstream.q?.length)).toBe(2);
    expect(posts).toBe(0);
  } finally {
    await ctx.close();
  }
});
