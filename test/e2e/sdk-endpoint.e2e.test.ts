/**
 * A newcomer's first mistakes with the script tag, in Debian's Chromium, with the built core
 * (sdk/dist/clickstream.min.js) and the README's loader snippet: the endpoint is not the gateway
 * (a static host answering 404 with an HTML page, or a single-page app's fallback answering 200
 * with its index.html for every path), and a full-build method (`identify`) called on the core
 * build. Each must show in the console, the endpoint once however many batches go out.
 *
 * No gateway here on purpose: the server is the "wrong" endpoint, a plain node:http server on
 * loopback that also serves the page and the script.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { ensureSdkBuilt } from './builds.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const script = fileURLToPath(new URL('../../sdk/dist/clickstream.min.js', import.meta.url));

let server: http.Server | undefined;
let browser: Browser | undefined;
let origin = '';
/** POSTs the server received, by path. */
const posts: Record<string, number> = {};

/** The README's snippet: batches of 2, so that the page's three calls make two batches. */
const page = (endpoint: string, extra = '') => `<!doctype html><html><head><title>site</title>
<script>
window.clickstream=window.clickstream||function(){(clickstream.q=clickstream.q||[]).push(arguments)};
clickstream('init', { endpoint: '${endpoint}', siteKey: 'k', batchSize: 2 });
clickstream('page');
clickstream('click', 'a#one');
clickstream('click', 'a#two');
clickstream('click', 'a#three');
${extra}
</script>
<script async src="/clickstream.min.js"></script>
</head><body>hello</body></html>`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh --browser or set CHROMIUM_PATH`);
  ensureSdkBuilt();
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST') posts[url.pathname] = (posts[url.pathname] ?? 0) + 1;
    if (url.pathname === '/clickstream.min.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(script));
    if (url.pathname === '/static-host.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(page('/collect'));
    if (url.pathname === '/spa.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(page('/api/events'));
    if (url.pathname === '/identify.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(page('/collect', "clickstream('identify', 'user-1');"));
    // A static host: 404 with a page; a single-page app: its index.html for every other path.
    if (url.pathname.startsWith('/api/')) return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
    res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

/** Opens `path`, waits until `batches` POSTs reached `endpoint`, returns the page's console warnings. */
async function warningsOf(path: string, endpoint: string, batches: number): Promise<string[]> {
  const context = await browser!.newContext();
  try {
    const warnings: string[] = [];
    context.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text());
    });
    const before = posts[endpoint] ?? 0;
    const tab = await context.newPage();
    await tab.goto(`${origin}${path}`);
    // Two batches of two: the first on the replayed calls, the second once the first is answered.
    await expect.poll(() => (posts[endpoint] ?? 0) - before, { timeout: 30_000 }).toBeGreaterThanOrEqual(batches);
    await tab.evaluate(() => new Promise((r) => setTimeout(r, 300))); // let the last answer be read
    return warnings;
  } finally {
    await context.close();
  }
}

describe('the script-tag core in Chromium, pointed at something that is not the gateway', () => {
  test('a static host answering 404 with a page: one warning naming the endpoint, over two batches', async () => {
    expect(await warningsOf('/static-host.html', '/collect', 2)).toEqual(['clickstream: not the gateway at /collect?site=k 404']);
  });

  test("a single-page app's fallback answering 200 with its index.html: one warning", async () => {
    expect(await warningsOf('/spa.html', '/api/events', 2)).toEqual(['clickstream: not the gateway at /api/events?site=k 200']);
  });

  test('identify() on the core build says the build lacks it, and the events still go out', async () => {
    const warnings = await warningsOf('/identify.html', '/collect', 2);
    expect(warnings).toContain('clickstream: no identify in this build');
    expect(warnings).toContain('clickstream: not the gateway at /collect?site=k 404');
    expect(warnings).toHaveLength(2);
  });
});
