import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Reader } from 'maxmind';
import { ConfigError } from '../contracts/config.js';
import { REFERRER_TYPES } from '../contracts/event-schema.js';
import { parseBotPolicy } from './bot-policy.js';
import { enrichEvent, type RequestContext } from './enrich.js';
import { geoipLiteProvider } from './geo.js';
import { mmdbGeoProvider, mmdbReaderProvider } from './mmdb-geo.js';
import { trustProxyOption, userIdHasher } from './privacy.js';
import { classifyReferrer, isSearchHost, isSocialHost } from './referrer.js';
import { parseUserAgent } from './user-agent.js';
import { buildMmdb, cityRecord } from '../test/harness/mmdb-fixture.js';
import { pageView, UA } from '../test/unit/fixtures.js';

const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({
  ua: parseUserAgent(UA.windowsChrome),
  geo: null,
  ip: '81.2.69.0',
  siteId: 'shop',
  receivedAt: Date.parse('2026-11-22T10:00:00.000Z'),
  sentAt: null,
  ...over,
});
const typeOf = (url: string, referrer?: string, over: Record<string, unknown> = {}, c: Partial<RequestContext> = {}) =>
  enrichEvent(pageView({ url, referrer, ...over }), ctx(c)).referrer_type;

describe('referrer classification', () => {
  test.each([
    // real referrers as browsers send them (mostly origin-only, per the default referrer policy)
    ['https://www.google.com/', 'search'],
    ['https://www.google.co.uk/', 'search'],
    ['https://www.google.com.au/search?q=mug', 'search'],
    ['https://news.google.com/', 'search'],
    ['https://www.bing.com/search?q=mugs&form=QBLH', 'search'],
    ['https://duckduckgo.com/', 'search'],
    ['https://yandex.ru/', 'search'],
    ['https://www.baidu.com/link?url=abc', 'search'],
    ['https://www.ecosia.org/', 'search'],
    ['https://search.yahoo.com/search?p=mug', 'search'],
    ['https://search.brave.com/', 'search'],
    ['https://www.qwant.com/', 'search'],
    ['https://l.facebook.com/', 'social'],
    ['https://m.facebook.com/', 'social'],
    ['https://t.co/', 'social'],
    ['https://x.com/', 'social'],
    ['https://www.linkedin.com/', 'social'],
    ['https://lnkd.in/', 'social'],
    ['https://out.reddit.com/', 'social'],
    ['https://www.instagram.com/', 'social'],
    ['https://www.youtube.com/', 'social'],
    ['https://de.pinterest.com/', 'social'],
    ['https://www.pinterest.co.uk/', 'social'],
    ['https://news.ycombinator.com/', 'social'],
    ['https://mail.google.com/', 'other'],
    ['https://docs.google.com/document/d/1', 'other'],
    ['https://www.yahoo.com/', 'other'],
    ['https://github.com/acme/shop', 'other'],
    ['https://blog.example.org/post', 'other'],
    ['https://googleusercontent.com/', 'other'],
  ])('%s -> %s', (referrer, expected) => {
    expect(typeOf('https://shop.example/p/1', referrer)).toBe(expected);
  });

  test('no referrer, an empty one or one that is not a URL is direct', () => {
    expect(typeOf('https://shop.example/', undefined)).toBe('direct');
    expect(typeOf('https://shop.example/', '')).toBe('direct');
    expect(typeOf('https://shop.example/', 'not a url')).toBe('direct');
  });

  test('the same host (with or without www.) and the site\'s own origins are internal', () => {
    expect(typeOf('https://shop.example/cart', 'https://shop.example/p/1')).toBe('internal');
    expect(typeOf('https://shop.example/cart', 'https://www.shop.example/')).toBe('internal');
    expect(typeOf('https://shop.example/cart', 'https://checkout.shop-pay.example/', {}, { siteHosts: new Set(['checkout.shop-pay.example']) })).toBe('internal');
    expect(typeOf('https://shop.example/cart', 'https://other.example/')).toBe('other');
  });

  test('a click from the site\'s own pages is internal, even in a campaign visit (the UTM fields stay on the event)', () => {
    expect(typeOf('https://shop.example/cart', 'https://shop.example/?utm_campaign=spring', { utm_campaign: 'spring' })).toBe('internal');
    expect(typeOf('https://shop.example/cart?utm_source=news', 'https://www.shop.example/')).toBe('internal');
  });

  test('UTM parameters or an ad click id make it a campaign, whatever the outside referrer', () => {
    expect(typeOf('https://shop.example/?utm_source=newsletter&utm_medium=email', 'https://mail.google.com/')).toBe('campaign');
    expect(typeOf('https://shop.example/?gclid=Cj0KCQ', 'https://www.google.com/')).toBe('campaign');
    expect(typeOf('https://shop.example/?fbclid=IwAR2', 'https://l.facebook.com/')).toBe('campaign');
    expect(typeOf('https://shop.example/', undefined, { utm_campaign: 'spring' })).toBe('campaign');
    expect(typeOf('https://shop.example/?utm=x&q=1', undefined)).toBe('direct');
  });

  test('every result is one of REFERRER_TYPES', () => {
    for (const t of ['search', 'social', 'internal', 'campaign', 'direct', 'other'] as const) expect(REFERRER_TYPES).toContain(t);
    expect(classifyReferrer({ pageHost: null, referrerHost: 'a.b', campaign: false })).toBe('other');
  });

  test('host lists', () => {
    expect(isSearchHost('www.google.de')).toBe(true);
    expect(isSearchHost('maps.google.com')).toBe(false);
    expect(isSocialHost('facebook.com')).toBe(true);
    expect(isSocialHost('notfacebook.com')).toBe(false);
    expect(isSocialHost('t.com')).toBe(false);
  });
});

describe('UTM fields', () => {
  test('taken from the page URL when the event carried none', () => {
    const out = enrichEvent(pageView({ url: 'https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring%20sale&utm_term=mug&utm_content=hero' }), ctx());
    expect(out).toMatchObject({ utm_source: 'news', utm_medium: 'email', utm_campaign: 'spring sale', utm_term: 'mug', utm_content: 'hero', referrer_type: 'campaign' });
  });
  test('the event\'s own fields win, and are never mixed with the URL\'s', () => {
    const out = enrichEvent(pageView({ url: 'https://shop.example/?utm_source=url&utm_medium=cpc', utm_source: 'event' }), ctx());
    expect(out).toMatchObject({ utm_source: 'event', utm_medium: null });
  });
  test('no query, no UTM', () => {
    expect(enrichEvent(pageView({ url: 'https://shop.example/a' }), ctx())).toMatchObject({ utm_source: null, utm_campaign: null });
  });
  test('values from the URL are bounded like the schema bounds them', () => {
    const out = enrichEvent(pageView({ url: `https://shop.example/?utm_source=${'x'.repeat(1000)}` }), ctx());
    expect(out.utm_source).toHaveLength(256);
  });
});

describe('user id hashing (USER_ID_HASH_KEY)', () => {
  test('HMAC-SHA256 hex with the key; stable; absent key leaves ids alone', () => {
    const hash = userIdHasher('s3cret')!;
    const expected = createHmac('sha256', 's3cret').update('user-42').digest('hex');
    expect(hash('user-42')).toBe(expected);
    expect(hash('user-42')).toBe(expected);
    expect(hash('user-43')).not.toBe(expected);
    expect(userIdHasher('')).toBeUndefined();
    const out = enrichEvent(pageView({ user_id: 'user-42' }), ctx({ hashUserId: hash }));
    expect(out.user_id).toBe(expected);
    expect(JSON.stringify(out)).not.toContain('user-42');
    expect(enrichEvent(pageView({ user_id: 'user-42' }), ctx()).user_id).toBe('user-42');
    expect(enrichEvent(pageView(), ctx({ hashUserId: hash })).user_id).toBeNull();
  });
});

describe('mmdb geo provider (GEOIP_MMDB_PATH)', () => {
  const db = buildMmdb({
    '81.2.69.0/24': cityRecord('GB', 'ENG', 'London', 51.5142, -0.0931, 'Europe/London'),
    '175.16.199.0/24': cityRecord('CN', '22', 'Changchun', 43.88, 125.3228, 'Asia/Harbin'),
    '2a02:c7c::/32': cityRecord('GB', null, null, 51.4964, -0.1224, 'Europe/London'),
    '89.160.20.0/24': { country: { iso_code: 'SE', geoname_id: 1, names: { en: 'Sweden' } } },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-mmdb-'));
  const file = path.join(dir, 'test-city.mmdb');
  writeFileSync(file, db);

  test.each([
    ['81.2.69.142', { country: 'GB', region: 'ENG', city: 'London', timezone: 'Europe/London', location: '51.5142,-0.0931' }],
    ['::ffff:81.2.69.160', { country: 'GB', city: 'London' }],
    ['175.16.199.3', { country: 'CN', region: '22', city: 'Changchun', timezone: 'Asia/Harbin' }],
    ['2a02:c7c:1234::1', { country: 'GB', region: null, city: null, location: '51.4964,-0.1224' }],
    ['89.160.20.112', { country: 'SE', city: null, location: null, timezone: null }],
  ])('%s', (ip, expected) => {
    expect(mmdbGeoProvider(file).lookup(ip)).toMatchObject(expected);
  });

  test('unknown, private and malformed addresses have no geo', () => {
    const geo = mmdbReaderProvider(new Reader(db) as never);
    expect(geo.lookup('8.8.8.8')).toBeNull();
    expect(geo.lookup('10.0.0.1')).toBeNull();
    expect(geo.lookup('nonsense')).toBeNull();
  });

  test('a missing or broken file is a config error at start', () => {
    expect(() => mmdbGeoProvider(path.join(dir, 'missing.mmdb'))).toThrow(ConfigError);
    writeFileSync(path.join(dir, 'broken.mmdb'), 'not a database');
    expect(() => mmdbGeoProvider(path.join(dir, 'broken.mmdb'))).toThrow(/GEOIP_MMDB_PATH/);
  });

  test('geoip-lite and mmdb agree on the shape of what they return', () => {
    const a = geoipLiteProvider().lookup('81.2.69.142');
    const b = mmdbGeoProvider(file).lookup('81.2.69.142');
    expect(Object.keys(a!).sort()).toEqual(Object.keys(b!).sort());
  });
});

describe('settings', () => {
  test('TRUSTED_PROXIES becomes Fastify trustProxy, validated', () => {
    expect(trustProxyOption([])).toBe(false);
    expect(trustProxyOption(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'])).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    expect(() => trustProxyOption(['10.0.0.0/33'])).toThrow(ConfigError);
    expect(() => trustProxyOption(['proxy.internal'])).toThrow(/TRUSTED_PROXIES/);
  });
  test('BOT_POLICY', () => {
    expect(parseBotPolicy('flag')).toBe('flag');
    expect(parseBotPolicy('ROUTE')).toBe('route');
    expect(parseBotPolicy('drop-with-count')).toBe('drop');
    expect(() => parseBotPolicy('ignore')).toThrow(/BOT_POLICY/);
  });
});
