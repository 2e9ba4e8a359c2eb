// @vitest-environment happy-dom
/**
 * An endpoint that is not the gateway (a page, a proxy, a static host) is reported once in the
 * console by the check-endpoint plugin (on in the script-tag builds: see loader.test.ts).
 */
import { describe, expect, test, vi } from 'vitest';
import { json, sdkHooks, settle, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;

sdkHooks((s, n) => ((sdk = s), (net = n)));

describe('an endpoint that is not the gateway', () => {
  test.each([
    ['a 404 page', 404],
    ['an HTML page answered 200 (an SPA fallback)', 200],
    ['a 405 from a static host', 405],
  ])('%s: one console warning naming the endpoint, however many batches', async (_, status) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    net.reply(() => Promise.resolve(new Response('<!doctype html><title>Not found</title>', { status, headers: { 'content-type': 'text/html' } })));
    sdk.checkEndpoint();
    sdk.init({ endpoint: '/collect', siteKey: 'k', batchSize: 1 });
    sdk.page();
    await settle();
    sdk.click('a');
    await settle();
    expect(net.requests).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0].join(' ')).toBe(`clickstream: not the gateway at /collect?site=k ${status}`);
  });

  test("the gateway's answers (JSON, any status) warn nothing", async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    let n = 0;
    net.reply(() => Promise.resolve(json(n++ ? { error: { code: 'GW_ERR_BATCH_INVALID', message: 'x' } } : { accepted: 1 }, n > 1 ? 400 : 200)));
    sdk.checkEndpoint();
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    await settle();
    sdk.click('a');
    await settle();
    expect(net.requests).toHaveLength(2);
    expect(warn).not.toHaveBeenCalled();
  });

  test('the npm core alone (no check-endpoint) says nothing, and drops the refused batch as any 4xx', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    net.reply(() => Promise.resolve(new Response('<!doctype html>', { status: 404, headers: { 'content-type': 'text/html' } })));
    sdk.init({ siteKey: 'k', batchSize: 1 });
    sdk.page();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.requests).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();
  });
});
