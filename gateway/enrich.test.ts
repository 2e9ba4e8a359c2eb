import { describe, expect, test } from 'vitest';
import { anonymiseIp } from './anonymise-ip.js';
import { correctedEventTime, enrichEvent } from './enrich.js';
import { geoipLiteProvider } from './geo.js';
import { cachedUserAgentParser, normaliseName, parseUserAgent, UA_READ_CHARS, userAgentKey } from './user-agent.js';
import { addToCart, purchase, UA } from '../test/unit/fixtures.js';

describe('user agent', () => {
  test.each([
    [UA.iphone, { browser: 'Mobile Safari', os: 'iOS', os_version: '17.4', device_type: 'mobile', device_vendor: 'Apple', device_model: 'iPhone', is_bot: false }],
    [UA.windowsChrome, { browser: 'Chrome', browser_version: '124.0.0.0', os: 'Windows', os_version: '10', device_type: 'desktop', is_bot: false }],
    [UA.ipad, { os: 'iOS', device_type: 'tablet', device_model: 'iPad' }],
    [UA.androidSamsung, { browser: 'Chrome', os: 'Android', os_version: '14', device_type: 'mobile', device_vendor: 'Samsung', device_model: 'SM-S918B' }],
    [UA.linuxFirefox, { browser: 'Firefox', browser_version: '125.0', os: 'Linux', device_type: 'desktop' }],
    [UA.googlebot, { device_type: 'unknown', is_bot: true }],
    ['', { browser: null, os: null, device_type: 'unknown', is_bot: false }],
    [UA.edge, { browser: 'Edge', browser_version: '124.0.2478.80', os: 'Windows', os_version: '10', device_type: 'desktop', is_bot: false }],
    [UA.macSafari, { browser: 'Safari', browser_version: '17.4.1', os: 'Mac OS', os_version: '10.15.7', device_type: 'desktop', device_vendor: 'Apple' }],
    [UA.samsungInternet, { browser: 'Samsung Internet', browser_version: '24.0', os: 'Android', os_version: '13', device_type: 'mobile', device_vendor: 'Samsung', device_model: 'SM-A536B' }],
    [UA.firefoxAndroid, { browser: 'Firefox', browser_version: '125.0', os: 'Android', os_version: '14', device_type: 'mobile' }],
    [UA.galaxyTab, { browser: 'Chrome', os: 'Android', device_type: 'tablet', device_vendor: 'Samsung', device_model: 'SM-X700' }],
    [UA.chromeIos, { browser: 'Chrome', browser_version: '124.0.6367.88', os: 'iOS', os_version: '17.4', device_type: 'mobile', device_model: 'iPhone' }],
    [UA.opera, { browser: 'Opera', browser_version: '109.0.0.0', os: 'Windows', device_type: 'desktop' }],
    [UA.tizenTv, { os: 'Tizen', device_type: 'smarttv', device_vendor: 'Samsung', is_bot: false }],
    [UA.xbox, { os: 'Xbox', device_type: 'console', device_vendor: 'Microsoft', device_model: 'Xbox One' }],
    [UA.chromebook, { browser: 'Chrome', os: 'Chromium OS', device_type: 'desktop' }],
    [UA.bingbot, { device_type: 'unknown', is_bot: true }],
    [UA.gptbot, { device_type: 'unknown', is_bot: true }],
    [UA.curl, { device_type: 'unknown', is_bot: true }],
    [UA.pythonRequests, { device_type: 'unknown', is_bot: true }],
    [UA.headlessChrome, { browser: 'Chrome Headless', os: 'Linux', device_type: 'desktop', is_bot: true }],
    [UA.facebookPreview, { device_type: 'unknown', is_bot: true }],
    [UA.googlebotSmartphone, { os: 'Android', device_type: 'mobile', is_bot: true }],
    // No type from the parser: Android with the Mobile token is a phone, without it a tablet.
    ['Mozilla/5.0 (Linux; Android 13; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36', { os: 'Android', device_type: 'mobile' }],
    ['Mozilla/5.0 (Linux; android 12) AppleWebKit/537.36', { os: 'Android', device_type: 'tablet' }],
    ['okhttp/4.9.0', { os: null, device_type: 'unknown' }],
  ])('%s', (ua, expected) => {
    expect(parseUserAgent(ua)).toMatchObject(expected);
  });

  test('one spelling per browser and OS name', () => {
    const spellings = ['Android', 'android', 'ANDROID'].map((a) => parseUserAgent(`Mozilla/5.0 (Linux; ${a} 13; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36`).os);
    expect(new Set(spellings)).toEqual(new Set(['Android']));
    expect(['IOS', 'ios', 'iOS', 'mac os', 'CHROME', 'samsung internet', 'SOMEBROWSER', 'some browser', 'NetFront'].map(normaliseName))
      .toEqual(['iOS', 'iOS', 'iOS', 'Mac OS', 'Chrome', 'Samsung Internet', 'Somebrowser', 'Some Browser', 'NetFront']);
    expect(normaliseName(undefined)).toBeNull();
  });

  test('the cache returns the same result and evicts the least recently used', () => {
    const one = cachedUserAgentParser(1_000_000);
    const a = one(UA.iphone);
    expect(one(UA.iphone)).toBe(a);
    // Room for about two entries: using the iPhone again makes the iPad the one to go.
    const parse = cachedUserAgentParser(2 * (UA.iphone.length * 2 + 400));
    const iphone = parse(UA.iphone);
    const ipad = parse(UA.ipad);
    expect(parse(UA.iphone)).toBe(iphone);
    parse(UA.linuxFirefox);
    expect(parse(UA.iphone)).toBe(iphone);
    expect(parse(UA.ipad)).not.toBe(ipad);
    expect(parse(UA.ipad)).toEqual(ipad);
  });

  test('the cache is bounded by bytes, keyed on the 500 characters the parser reads', () => {
    const maxBytes = 1024 * 1024;
    const parse = cachedUserAgentParser(maxBytes);
    for (let i = 0; i < 2000; i++) parse(`${UA.windowsChrome} ${String(i).padStart(6, '0')}${'x'.repeat(16 * 1024)}`);
    expect(parse.bytes()).toBeLessThanOrEqual(maxBytes);
    expect(parse.size()).toBeGreaterThan(100);
    // Past what the parser reads, two user agents are one entry with one result.
    const head = UA.iphone.padEnd(UA_READ_CHARS, ' ');
    const x = parse(`${head}AAAA`);
    expect(parse(`${head}${'B'.repeat(16 * 1024)}`)).toBe(x);
    expect(userAgentKey(`${head}AAAA`)).toHaveLength(UA_READ_CHARS);
  });
});

describe('geo', () => {
  const geo = geoipLiteProvider();
  test.each([
    ['8.8.8.8', 'US'],
    ['81.2.69.142', 'GB'],
    ['193.51.208.14', 'FR'],
    ['202.12.27.33', 'JP'],
    ['2001:4860:4860::8888', 'US'],
  ])('%s is in %s', (ip, country) => {
    const g = geo.lookup(ip);
    expect(g?.country).toBe(country);
    expect(g?.location).toMatch(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/);
  });
  test('private and loopback addresses have no geo', () => {
    expect(geo.lookup('127.0.0.1')).toBeNull();
    expect(geo.lookup('10.1.2.3')).toBeNull();
  });
});

describe('anonymiseIp', () => {
  test.each([
    ['81.2.69.142', '81.2.69.0'],
    ['::ffff:81.2.69.142', '81.2.69.0'],
    ['2001:4860:4860::8888', '2001:4860:4860::'],
    ['2a03:2880:f10c:83:face:b00c:0:25de', '2a03:2880:f10c::'],
    ['::1', '::'],
    ['not-an-ip', null],
    ['', null],
  ])('%s -> %s', (ip, out) => {
    expect(anonymiseIp(ip)).toBe(out);
  });
});

describe('clock skew', () => {
  test.each([
    // client clock 1 h behind: event 2 s before send; received at 10_000_000
    [10_000_000 - 3_600_000 - 2000, 10_000_000 - 3_600_000, 10_000_000, 10_000_000 - 2000],
    // client clock 5 min ahead
    [10_300_000 - 500, 10_300_000, 10_000_000, 10_000_000 - 500],
    // no sent_at: trust the client, but never the future
    [9_000_000, null, 10_000_000, 9_000_000],
    [11_000_000, null, 10_000_000, 10_000_000],
  ])('ts %i sent %s received %i -> %i', (ts, sent, received, expected) => {
    expect(correctedEventTime(ts, sent, received)).toBe(expected);
  });
});

describe('enrichEvent', () => {
  const ctx = {
    ua: parseUserAgent(UA.iphone),
    geo: geoipLiteProvider().lookup('81.2.69.142'),
    ip: anonymiseIp('81.2.69.142'),
    siteId: 'shop',
    receivedAt: Date.parse('2026-11-22T10:00:00.000Z'),
    sentAt: Date.parse('2026-11-22T09:00:01.000Z'),
  };
  test('adds browser, os, device, geo, times and type fields', () => {
    const ev = addToCart({ ts: Date.parse('2026-11-22T09:00:00.000Z'), url: 'https://shop.example/p/mug?x=1', referrer: '' });
    const out = enrichEvent(ev, ctx);
    expect(out).toMatchObject({
      event_id: ev.event_id,
      event_type: 'add_to_cart',
      site_id: 'shop',
      timestamp: '2026-11-22T09:59:59.000Z',
      client_ts: '2026-11-22T09:00:00.000Z',
      received_at: '2026-11-22T10:00:00.000Z',
      url_host: 'shop.example',
      url_path: '/p/mug',
      referrer: null,
      browser: 'Mobile Safari',
      os: 'iOS',
      device_type: 'mobile',
      country: 'GB',
      city: 'St Albans',
      ip: '81.2.69.0',
      product_id: 'sku-1',
      price: 12.5,
      quantity: 2,
      currency: 'EUR',
      order_id: null,
      revenue: null,
    });
    expect(JSON.stringify(out)).not.toContain('81.2.69.142');
  });
  test('purchase keeps order, revenue and items', () => {
    const out = enrichEvent(purchase({ revenue: 99.9 }), ctx);
    expect(out).toMatchObject({ event_type: 'purchase', revenue: 99.9, currency: 'EUR', product_id: null, price: null });
    expect(out.items).toEqual([{ product_id: 'sku-1', price: 12.5, quantity: 2 }]);
  });
});
