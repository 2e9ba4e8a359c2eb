// @vitest-environment happy-dom
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fresh, network, settle, type Net } from './helpers.js';

let net: Net;
type Global = ((method: string, ...args: unknown[]) => unknown) & Record<string, (...a: unknown[]) => unknown> & { q?: unknown[] };
const w = window as unknown as { clickstream?: Global };

beforeEach(async () => {
  await fresh();
  net = network();
  delete w.clickstream;
});
afterEach(() => vi.unstubAllGlobals());

/** The loader snippet from snippet.html, run as a page would run it (minus the script tag). */
function runSnippet() {
  const html = readFileSync(resolve(import.meta.dirname, '../snippet.html'), 'utf8');
  const code = html.match(/<script>([\s\S]*?)<\/script>/)![1];
  new Function(code.replace(/clickstream\('init'[^;]*;/, "clickstream('init', { siteKey: 'demo', batchSize: 2 });"))();
}

test('calls queued by the snippet before the script loaded are replayed in order', async () => {
  runSnippet();
  w.clickstream!('addToCart', { productId: 'p1', price: 5, currency: 'EUR' });
  expect(w.clickstream!.q).toHaveLength(3); // init, page, addToCart
  expect(net.requests).toHaveLength(0);

  await import('../src/global.js');
  await settle();
  expect(net.requests).toHaveLength(1);
  expect(net.requests[0].url).toBe('/v1/events?site=demo');
  expect(net.requests[0].batch.events.map((e) => e.type)).toEqual(['page_view', 'add_to_cart']);

  // After load: both call styles work, unknown methods are ignored.
  w.clickstream!('click', 'a#x');
  w.clickstream!.click('a#y');
  expect(() => w.clickstream!('nope')).not.toThrow();
  await settle();
  expect(net.requests[1].batch.events.map((e) => (e as { element?: string }).element)).toEqual(['a#x', 'a#y']);
});

test('the full script-tag build exposes the plugins by name', async () => {
  runSnippet();
  w.clickstream!('autoClicks');
  await import('../src/global-full.js');
  document.body.innerHTML = '<button id="b">Go</button>';
  (document.querySelector('#b') as HTMLElement).click();
  w.clickstream!('flush');
  await settle();
  expect(net.requests.flatMap((r) => r.batch.events.map((e) => e.type))).toEqual(['page_view', 'click']);
});
