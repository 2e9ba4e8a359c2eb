import { afterEach, describe, expect, test } from 'vitest';
import { GIF } from './pixel.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';
import { UA } from '../test/unit/fixtures.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const pixel = (query: string, headers: Record<string, string> = {}) =>
  h!.app.inject({ method: 'GET', url: `/v1/p.gif?${query}`, headers: { 'user-agent': UA.windowsChrome, ...headers } });

const expectGif = (res: Awaited<ReturnType<typeof pixel>>) => {
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('image/gif');
  expect(res.headers['cache-control']).toContain('no-store');
  expect(res.rawPayload.equals(GIF)).toBe(true);
};

describe('GET /v1/p.gif', () => {
  test('answers a 1x1 GIF and produces one enriched page_view', async () => {
    h = await harness({ sites: 'shop:https://shop.example', trustedProxies: ['127.0.0.1'] });
    const url = encodeURIComponent('https://shop.example/about?utm_source=news&utm_medium=email');
    const res = await pixel(`site=shop&url=${url}&title=About&_=12345`, { 'x-forwarded-for': '81.2.69.142', referer: 'https://shop.example/about' });
    expectGif(res);
    expect(GIF.length).toBe(43);
    const [ev] = h.kafka.on('page_views');
    expect(ev).toMatchObject({
      event_type: 'page_view',
      site_id: 'shop',
      // Normalised (gateway/url-normalise.ts): campaign parameters kept, sorted by name.
      url: 'https://shop.example/about?utm_medium=email&utm_source=news',
      url_raw: 'https://shop.example/about?utm_source=news&utm_medium=email',
      url_path: '/about',
      title: 'About',
      utm_source: 'news',
      referrer_type: 'campaign',
      browser: 'Chrome',
      country: 'GB',
      ip: '81.2.69.0',
    });
    expect(ev.visitor_id).toMatch(/^px-[A-Za-z0-9_-]{22}$/);
    expect(ev.session_id).toBe(ev.visitor_id);
    expect(ev.event_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a click with its own ids; the derived visitor id is stable for a day and keyed', async () => {
    h = await harness({ userIdHashKey: 'k1' });
    const ts = Date.now() - 3_600_000;
    expectGif(await pixel(`type=click&event_id=evt-000000001&visitor_id=v1&session_id=s1&url=https%3A%2F%2Fa.example%2F&element=a%23buy&ts=${ts}`));
    expect(h.kafka.on('clicks')[0]).toMatchObject({ event_id: 'evt-000000001', visitor_id: 'v1', session_id: 's1', element: 'a#buy', client_ts: new Date(ts).toISOString() });
    await pixel('url=https%3A%2F%2Fa.example%2Fx');
    await pixel('url=https%3A%2F%2Fa.example%2Fy');
    const [a, b] = h.kafka.on('page_views');
    expect(a.visitor_id).toBe(b.visitor_id);
    await h.app.close();
    h = await harness({ userIdHashKey: 'k2' });
    await pixel('url=https%3A%2F%2Fa.example%2Fx');
    expect(h.kafka.on('page_views')[0].visitor_id).not.toBe(a.visitor_id);
  });

  test('the page URL defaults to the Referer', async () => {
    h = await harness();
    expectGif(await pixel('', { referer: 'https://blog.example/post/1' }));
    expect(h.kafka.on('page_views')[0]).toMatchObject({ url: 'https://blog.example/post/1', url_host: 'blog.example' });
  });

  test.each([
    ['no URL at all', '', /missing "url"/],
    ['a type the pixel does not take', 'type=purchase&url=https%3A%2F%2Fa.example%2F', /page_view or click/],
    ['an unknown parameter', 'url=https%3A%2F%2Fa.example%2F&colour=red', /unknown field "colour"/],
    ['a repeated parameter', 'url=https%3A%2F%2Fa.example%2F&title=a&title=b', /"title" given 2 times/],
    ['a repeated ts', 'url=https%3A%2F%2Fa.example%2F&ts=1&ts=2', /"ts" given 2 times/],
    ['a repeated url', 'url=https%3A%2F%2Fa.example%2F&url=https%3A%2F%2Fb.example%2F', /"url" given 2 times/],
    ['a non-numeric ts', 'url=https%3A%2F%2Fa.example%2F&ts=yesterday', /ts must be integer/],
    ['a prototype key', 'url=https%3A%2F%2Fa.example%2F&__proto__=x', /unknown field "__proto__"/],
  ])('invalid (%s): still a GIF, dead-lettered with its reason, counted', async (_n, query, reason) => {
    h = await harness();
    expectGif(await pixel(query));
    expect(h.kafka.on('page_views')).toHaveLength(0);
    const dl = h.kafka.on('events_dead_letter');
    expect(dl).toHaveLength(1);
    expect(dl[0].reason).toMatch(reason);
    expect(dl[0].index).toBe(0);
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toMatch(/gateway_pixel_requests_total\{outcome="rejected"\} 1/);
    expect(metrics).toMatch(/gateway_events_rejected_total\{code="GW_ERR_[A-Z_]+"\} 1/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  test('access control applies: unknown key 401, a Referer from another site 403', async () => {
    h = await harness({ sites: 'shop:https://shop.example' });
    expect((await pixel('site=nope&url=https%3A%2F%2Fshop.example%2F')).statusCode).toBe(401);
    expect((await pixel('site=shop&url=https%3A%2F%2Fshop.example%2F', { referer: 'https://evil.example/page' })).statusCode).toBe(403);
    expectGif(await pixel('site=shop&url=https%3A%2F%2Fshop.example%2F', { referer: 'https://shop.example/page' }));
    expect(h.kafka.records).toHaveLength(1);
  });

  test('Kafka down: 503, like the JSON API', async () => {
    h = await harness();
    h.kafka.available = false;
    const res = await pixel('url=https%3A%2F%2Fa.example%2F');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });

  test('HEAD does not count a hit', async () => {
    h = await harness();
    const res = await h.app.inject({ method: 'HEAD', url: '/v1/p.gif?url=https%3A%2F%2Fa.example%2F' });
    expect(res.statusCode).toBe(404);
    expect(h.kafka.records).toHaveLength(0);
  });
});
