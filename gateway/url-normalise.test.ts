import { describe, expect, test } from 'vitest';
import { SETTINGS } from '../contracts/config.js';
import { enrichEvent, type RequestContext } from './enrich.js';
import { normaliseUrl, queryAllowlist } from './url-normalise.js';
import { parseUserAgent } from './user-agent.js';
import { pageView, purchase, UA } from '../test/unit/fixtures.js';

const byDefault = queryAllowlist(SETTINGS.urlQueryAllowlist.default.split(','));
const norm = (url: string, keep = byDefault) => normaliseUrl(new URL(url), keep);

describe('normaliseUrl with the default allowlist (utm_*)', () => {
  test.each([
    // [as sent, normalised]
    ['https://shop.example/thanks.html?order=A-1', 'https://shop.example/thanks.html'],
    ['https://shop.example/thanks.html?order=A-2&x=1', 'https://shop.example/thanks.html'],
    ['https://shop.example/p?utm_source=news&order=1&utm_medium=email', 'https://shop.example/p?utm_medium=email&utm_source=news'],
    ['https://shop.example/p?utm_medium=email&utm_source=news', 'https://shop.example/p?utm_medium=email&utm_source=news'],
    ['https://shop.example/p?utm_campaign=spring%20sale', 'https://shop.example/p?utm_campaign=spring%20sale'],
    ['https://shop.example/p?gclid=abc&fbclid=def', 'https://shop.example/p'],
    ['https://shop.example/p#pricing', 'https://shop.example/p'],
    ['https://shop.example/p?q=1#pricing', 'https://shop.example/p'],
    ['https://shop.example/help.html#/shipping', 'https://shop.example/help.html#/shipping'],
    ['https://shop.example/help.html?ref=x#!/returns', 'https://shop.example/help.html#!/returns'],
    ['https://shop.example/p?', 'https://shop.example/p'],
    ['https://shop.example/p#', 'https://shop.example/p'],
    ['https://shop.example/p?&&', 'https://shop.example/p'],
    ['HTTPS://Shop.Example:443', 'https://shop.example/'],
    ['http://shop.example:8080/a/b/', 'http://shop.example:8080/a/b/'],
    ['https://shop.example/%7Euser/?a=1', 'https://shop.example/%7Euser/'],
    ['https://shop.example/p?%75tm_source=enc', 'https://shop.example/p?%75tm_source=enc'],
    ['https://shop.example/p?%zz=1&utm_term=mug', 'https://shop.example/p?utm_term=mug'],
    ['https://shop.example/p?UTM_SOURCE=x', 'https://shop.example/p'],
  ])('%s -> %s', (sent, normal) => {
    expect(norm(sent)).toBe(normal);
  });
});

describe('queryAllowlist', () => {
  test.each([
    // [patterns, url, normalised]
    [[], 'https://s.example/p?utm_source=a&id=1', 'https://s.example/p'],
    [['*'], 'https://s.example/p?id=1&b=2#x', 'https://s.example/p?b=2&id=1'],
    [['id'], 'https://s.example/p?id=1&idx=2&utm_source=a', 'https://s.example/p?id=1'],
    [['id', 'utm_*'], 'https://s.example/p?utm_source=a&idx=2&id=1', 'https://s.example/p?id=1&utm_source=a'],
    [['q', 'page'], 'https://s.example/search?page=2&q=mug&sort=price', 'https://s.example/search?page=2&q=mug'],
  ] as const)('%j: %s -> %s', (patterns, sent, normal) => {
    expect(norm(sent, queryAllowlist(patterns))).toBe(normal);
  });
});

describe('enrichment', () => {
  const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({
    ua: parseUserAgent(UA.windowsChrome),
    geo: null,
    ip: null,
    siteId: 'shop',
    receivedAt: Date.parse('2026-11-22T10:00:00.000Z'),
    sentAt: null,
    ...over,
  });

  test('url is normalised, url_raw keeps the URL as sent, UTM fields still come from the raw query', () => {
    const sent = 'https://shop.example/thanks.html?order=A-17&utm_source=news#top';
    const out = enrichEvent(purchase({ url: sent }), ctx());
    expect(out).toMatchObject({ url: 'https://shop.example/thanks.html?utm_source=news', url_raw: sent, url_path: '/thanks.html', utm_source: 'news' });
  });

  test('two orders on the thank-you page are one page', () => {
    const c = ctx();
    const a = enrichEvent(pageView({ url: 'https://shop.example/thanks.html?order=1' }), c);
    const b = enrichEvent(pageView({ url: 'https://shop.example/thanks.html?order=2' }), c);
    expect([a.url, b.url]).toEqual(['https://shop.example/thanks.html', 'https://shop.example/thanks.html']);
  });

  test('the configured allowlist decides', () => {
    const out = enrichEvent(pageView({ url: 'https://shop.example/search?q=mug&utm_source=x' }), ctx({ keepQuery: queryAllowlist(['q']) }));
    expect(out.url).toBe('https://shop.example/search?q=mug');
  });

  test('a URL that does not parse is kept as sent', () => {
    const out = enrichEvent(pageView({ url: 'not a url?x=1' }), ctx());
    expect(out).toMatchObject({ url: 'not a url?x=1', url_raw: 'not a url?x=1', url_path: null });
  });
});
