import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../contracts/config.js';
import { registerAccessControl } from './access.js';
import { parseSitesEnv, parseSitesFile, siteRegistry } from './sites.js';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView, UA } from '../test/unit/fixtures.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const SITES = 'shop:https://shop.example,https://www.shop.example;blog:*;api:';
const shopOrigin = { origin: 'https://shop.example' };

describe('site configuration', () => {
  test('SITES: key:origins;key:*', () => {
    expect(parseSitesEnv(SITES)).toEqual([
      { keys: ['shop'], siteId: 'shop', origins: ['https://shop.example', 'https://www.shop.example'] },
      { keys: ['blog'], siteId: 'blog', origins: ['*'] },
      { keys: ['api'], siteId: 'api', origins: [] },
    ]);
    expect(() => parseSitesEnv('shop')).toThrow(ConfigError);
  });

  test('SITES_FILE: several keys per site, site id apart from the key, merged with SITES', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-sites-'));
    const file = path.join(dir, 'sites.json');
    writeFileSync(file, JSON.stringify({ sites: [{ site_id: 'shop', keys: ['pk_live_1', 'pk_live_2'], origins: ['https://Shop.Example/', 'https://*.shop.example'] }] }));
    const reg = siteRegistry({ sites: 'blog:*', sitesFile: file, gatewayCorsOrigins: ['*'] });
    expect(reg.open).toBe(false);
    const shop = reg.resolve('pk_live_2')!;
    expect(shop.siteId).toBe('shop');
    expect(reg.originAllowed(shop, 'https://shop.example')).toBe(true);
    expect(reg.originAllowed(shop, 'https://eu.shop.example')).toBe(true);
    expect(reg.originAllowed(shop, 'https://evil-shop.example')).toBe(false);
    expect(reg.originAllowed(shop, 'http://shop.example')).toBe(false);
    expect(reg.resolve('blog')!.anyOrigin).toBe(true);
    expect(reg.resolve('nope')).toBeNull();
    expect(reg.resolve('__proto__')).toBeNull();
    expect(reg.resolve(null)).toBeNull();
  });

  test.each([
    ['not json', '{', /not JSON/],
    ['no sites', '{"x":1}', /expected/],
    ['no key', '[{"origins":[]}]', /key/],
    ['bad origins', '[{"key":"a","origins":"*"}]', /origins/],
    ['bad origin', '[{"key":"a","origins":["shop.example"]}]', /not a URL/],
    ['bad key', '[{"key":"a b"}]', /write key/],
  ])('SITES_FILE with %s is refused at start', (_n, text, msg) => {
    expect(() => {
      const specs = parseSitesFile(text);
      siteRegistry({ sites: specs.map((s) => `${s.keys[0]}:${s.origins.join(',')}`).join(';'), sitesFile: '', gatewayCorsOrigins: ['*'] });
    }).toThrow(msg);
  });

  test('a key configured twice is refused', () => {
    expect(() => siteRegistry({ sites: 'a:*;a:*', sitesFile: '', gatewayCorsOrigins: [] })).toThrow(/twice/);
  });
});

describe('access control', () => {
  test('open mode (no sites) says so loudly at start and takes any key or none', async () => {
    h = await harness();
    const warn = h.logs.find((l) => l.level === 40 && /RUNNING OPEN/.test(String(l.msg)));
    expect(warn).toBeDefined();
    expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=anything' })).statusCode).toBe(200);
    expect((await postEvents(h.app, { events: [pageView()] })).statusCode).toBe(200);
    expect(h.kafka.on('page_views').map((e) => e.site_id)).toEqual(['anything', null]);
  });

  test('configured sites: no such loud line', async () => {
    h = await harness({ sites: SITES });
    expect(h.logs.some((l) => /RUNNING OPEN/.test(String(l.msg)))).toBe(false);
  });

  test.each([
    ['no key', '', {}],
    ['an unknown key', '?site=nope', {}],
    ['an unknown header key', '', { 'x-site-key': 'nope' }],
    ['a prototype key', '?site=__proto__', {}],
  ])('%s -> 401 GW_ERR_UNKNOWN_SITE, nothing produced', async (_n, query, headers) => {
    h = await harness({ sites: SITES });
    const res = await postEvents(h.app, { events: [pageView()] }, { query, headers: { ...shopOrigin, ...headers } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('GW_ERR_UNKNOWN_SITE');
    expect(h.kafka.records).toHaveLength(0);
  });

  test('the key in the query string or in x-site-key; the event gets the site id', async () => {
    h = await harness({ sites: SITES });
    expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=shop', headers: shopOrigin })).statusCode).toBe(200);
    expect((await postEvents(h.app, { events: [pageView()] }, { headers: { ...shopOrigin, 'x-site-key': 'shop' } })).statusCode).toBe(200);
    expect(h.kafka.on('page_views').map((e) => e.site_id)).toEqual(['shop', 'shop']);
  });

  test.each([
    ['another site', 'https://evil.example'],
    ['the right host over http', 'http://shop.example'],
    ['a look-alike host', 'https://shop.example.evil.example'],
    ['a sandboxed frame', 'null'],
  ])('an origin from %s -> 403 GW_ERR_ORIGIN_FORBIDDEN, no CORS headers', async (_n, origin) => {
    h = await harness({ sites: SITES });
    const res = await postEvents(h.app, { events: [pageView()] }, { query: '?site=shop', headers: { origin } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('GW_ERR_ORIGIN_FORBIDDEN');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(h.kafka.records).toHaveLength(0);
  });

  test('allowed origins get CORS headers; "*" sites take any origin; no Origin (a server) needs only the key', async () => {
    h = await harness({ sites: SITES });
    const res = await postEvents(h.app, { events: [pageView()] }, { query: '?site=shop', headers: { origin: 'https://www.shop.example' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://www.shop.example');
    expect(res.headers['access-control-expose-headers']).toContain('retry-after');
    expect(res.headers.vary).toContain('Origin');
    expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=blog', headers: { origin: 'https://anything.example' } })).statusCode).toBe(200);
    expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=api' })).statusCode).toBe(200);
    expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=api', headers: shopOrigin })).statusCode).toBe(403);
  });

  test('CORS preflight is answered per site', async () => {
    h = await harness({ sites: SITES });
    const preflight = (query: string, origin: string) =>
      h!.app.inject({ method: 'OPTIONS', url: `/v1/events${query}`, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const ok = await preflight('?site=shop', 'https://shop.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(ok.headers['access-control-allow-methods']).toContain('POST');
    expect(ok.headers['access-control-allow-headers']).toContain('x-site-key');
    expect(ok.headers['access-control-max-age']).toBe('86400');
    const wrongOrigin = await preflight('?site=shop', 'https://evil.example');
    expect(wrongOrigin.statusCode).toBe(403);
    expect(wrongOrigin.headers['access-control-allow-origin']).toBeUndefined();
    const wrongKey = await preflight('?site=nope', 'https://shop.example');
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.headers['access-control-allow-origin']).toBeUndefined();
    // A header-borne key is not in the preflight: any configured site's origin passes it.
    expect((await preflight('', 'https://shop.example')).statusCode).toBe(204);
    expect((await preflight('', 'https://evil.example')).statusCode).toBe(204); // blog allows "*"
  });

  test('open mode with GATEWAY_CORS_ORIGINS: other origins get 403', async () => {
    h = await harness({ gatewayCorsOrigins: ['https://demo.example'] });
    expect((await postEvents(h.app, { events: [pageView()] }, { headers: { origin: 'https://demo.example' } })).statusCode).toBe(200);
    expect((await postEvents(h.app, { events: [pageView()] }, { headers: { origin: 'https://evil.example' } })).statusCode).toBe(403);
  });
});

describe('rate limits', () => {
  test('per IP: 429 GW_ERR_RATE_LIMITED with Retry-After, other IPs unaffected', async () => {
    // Windows are aligned on multiples of their length: a day-long one keeps the four requests in one
    // window however slow the machine (a 30 s window was crossed between them under load).
    h = await harness({ gatewayRateLimitIp: 3, gatewayRateLimitWindowS: 86_400, trustedProxies: ['127.0.0.1'] });
    const from = (ip: string) => postEvents(h!.app, { events: [pageView()] }, { headers: { 'x-forwarded-for': ip } });
    for (let i = 0; i < 3; i++) expect((await from('81.2.69.142')).statusCode).toBe(200);
    const limited = await from('81.2.69.142');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('GW_ERR_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await from('193.51.208.14')).statusCode).toBe(200);
    expect(h.kafka.records).toHaveLength(4);
  });

  test('per site: one site\'s flood does not limit another', async () => {
    h = await harness({ sites: SITES, gatewayRateLimitSite: 2, gatewayRateLimitWindowS: 86_400 });
    const send = (site: string) => postEvents(h!.app, { events: [pageView()] }, { query: `?site=${site}` });
    expect((await send('shop')).statusCode).toBe(200);
    expect((await send('shop')).statusCode).toBe(200);
    const limited = await send('shop');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await send('blog')).statusCode).toBe(200);
  });

  test('a browser can read a 429 (CORS headers kept, Retry-After exposed): the SDK backs off by it', async () => {
    h = await harness({ sites: SITES, gatewayRateLimitSite: 1, gatewayRateLimitWindowS: 86_400 });
    await postEvents(h.app, { events: [pageView()] }, { query: '?site=shop', headers: shopOrigin });
    const limited = await postEvents(h.app, { events: [pageView()] }, { query: '?site=shop', headers: shopOrigin });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(limited.headers['access-control-expose-headers']).toContain('retry-after');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  test('limits are counted in /metrics under their status', async () => {
    h = await harness({ gatewayRateLimitIp: 1, gatewayRateLimitWindowS: 86_400 });
    await postEvents(h.app, { events: [pageView()] });
    await postEvents(h.app, { events: [pageView()] });
    const text = (await h.app.inject('/metrics')).body;
    expect(text).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="429"\} 1/);
    expect(text).toMatch(/gateway_errors_total\{code="GW_ERR_RATE_LIMITED"\} 1/);
  });
});

describe('client IP and X-Forwarded-For', () => {
  const geoOf = async (h: Harness, xff: string) => {
    h.kafka.records = [];
    await postEvents(h.app, { events: [pageView()] }, { headers: { 'x-forwarded-for': xff, 'user-agent': UA.iphone } });
    return h.kafka.on('page_views')[0];
  };

  test('by default X-Forwarded-For is ignored: the socket address is the client', async () => {
    h = await harness();
    const ev = await geoOf(h, '81.2.69.142');
    expect(ev.ip).toBe('127.0.0.0');
    expect(ev.country).toBeNull();
  });

  test('from a trusted proxy the forwarded address is used, anonymised, and geo comes from it', async () => {
    h = await harness({ trustedProxies: ['127.0.0.0/8'] });
    const ev = await geoOf(h, '81.2.69.142');
    expect(ev).toMatchObject({ ip: '81.2.69.0', country: 'GB' });
    const v6 = await geoOf(h, '2001:4860:4860::8888');
    expect(v6).toMatchObject({ ip: '2001:4860:4860::', country: 'US' });
    // A client-forged hop in front of the real one is not believed past the trusted proxy.
    const forged = await geoOf(h, '8.8.8.8, 193.51.208.14');
    expect(forged).toMatchObject({ ip: '193.51.208.0', country: 'FR' });
  });

  test('the raw address is never written anywhere', async () => {
    h = await harness({ trustedProxies: ['127.0.0.1'] });
    await postEvents(h.app, { events: [pageView(), { bad: true }] }, { headers: { 'x-forwarded-for': '81.2.69.142' } });
    await postEvents(h.app, '{"events": [', { headers: { 'x-forwarded-for': '81.2.69.142' } });
    const all = h.kafka.records.map((r) => r.key + r.value).join('\n') + JSON.stringify(h.logs);
    expect(all).not.toContain('81.2.69.142');
    expect(h.kafka.records.length).toBe(3);
  });
});

describe('a client gone before its request is handled', () => {
  test('is GW_ERR_CLIENT_CLOSED, not an unhandled 500 from the rate limiter', async () => {
    const app = Fastify();
    try {
      const cfg = parseConfig({}, { gatewayRateLimitIp: 10 });
      const [guard] = (await registerAccessControl(app, cfg, siteRegistry({ sites: 'shop:*', sitesFile: '', gatewayCorsOrigins: ['*'] }))).hooks();
      // What Fastify's request gives once Node has dropped the closed socket's address.
      const req = { ip: undefined, headers: {}, query: { site: 'shop' }, url: '/v1/events' } as unknown as FastifyRequest;
      // A callback hook: what it throws, Fastify's hook runner hands to the error handler.
      let passed = 0;
      const done = () => void passed++;
      expect(() => guard.call(app, req, {} as FastifyReply, done)).toThrow(expect.objectContaining({ code: 'GW_ERR_CLIENT_CLOSED', statusCode: 400 }));
      expect(passed).toBe(0);
      const open = { ...req, ip: '127.0.0.1' } as unknown as FastifyRequest;
      guard.call(app, open, {} as FastifyReply, done);
      expect(passed).toBe(1);
    } finally {
      await app.close();
    }
  });
});
