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

  // After load: both call styles work.
  w.clickstream!('click', 'a#x');
  w.clickstream!.click('a#y');
  await settle();
  expect(net.requests[1].batch.events.map((e) => (e as { element?: string }).element)).toEqual(['a#x', 'a#y']);
});

test('the core build names a method it lacks (a plugin of the full build) in the console, each call, and goes on', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  runSnippet();
  w.clickstream!('identify', 'u1'); // queued before load: warned at replay
  await import('../src/global.js');
  for (const m of ['consent', 'reset', 'autoPageviews', 'nope']) expect(() => w.clickstream!(m, true)).not.toThrow();
  expect(warn.mock.calls.map((c) => c.join(' '))).toEqual(
    ['identify', 'consent', 'reset', 'autoPageviews', 'nope'].map((m) => `clickstream: no ${m} in this build`),
  );
  w.clickstream!('flush');
  await settle();
  expect(net.requests.flatMap((r) => r.batch.events.map((e) => [e.type, e.user_id]))).toEqual([['page_view', undefined]]);
  warn.mockRestore();
});

test('the full build has consent, identify and reset', async () => {
  runSnippet(); // init, page
  w.clickstream!('identify', 'u1');
  await import('../src/global-full.js');
  w.clickstream!('click', 'a#x');
  w.clickstream!('reset');
  w.clickstream!('consent', false);
  w.clickstream!('click', 'a#after');
  await settle();
  expect(net.requests.flatMap((r) => r.batch.events.map((e) => [e.type, e.user_id]))).toEqual([
    ['page_view', undefined],
    ['click', 'u1'],
  ]);
  expect(localStorage.length).toBe(0);
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

test.each([
  ['core', '../src/global.js'],
  ['full', '../src/global-full.js'],
])('the %s script build sends the landing page utm_* and warns when the endpoint is not the gateway', async (_, build) => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  history.replaceState(null, '', '/landing?utm_campaign=winter&utm_source=ads');
  net.reply(() => Promise.resolve(new Response('<!doctype html>', { status: 404, headers: { 'content-type': 'text/html' } })));
  runSnippet(); // init (batch of 2), page
  w.clickstream!('click', 'a#x');
  await import(build);
  await settle();
  expect(net.requests[0].batch.events.map((e) => [e.type, e.utm_campaign, e.utm_source])).toEqual([
    ['page_view', 'winter', 'ads'],
    ['click', 'winter', 'ads'],
  ]);
  expect(warn.mock.calls.map((c) => c.join(' '))).toEqual(['clickstream: not the gateway at /v1/events?site=demo 404']);
  history.replaceState(null, '', '/');
  warn.mockRestore();
});
