import { describe, expect, test } from 'vitest';
import { clientKey, TokenBuckets, WindowLimiter } from './rate-limit.js';
import { afterEach } from 'vitest';
import { ConfigError } from '../contracts/config.js';
import { buildApp } from './app.js';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView } from '../test/unit/fixtures.js';

describe('window limiter', () => {
  test('max requests per key and window, then the seconds until the window ends', () => {
    const l = new WindowLimiter(2, 10_000);
    const t = 1_000_000_000_000 + 3_000; // 3 s into a window
    expect(l.hit('a', t)).toBe(0);
    expect(l.hit('a', t)).toBe(0);
    expect(l.hit('a', t + 500)).toBe(7);
    expect(l.hit('b', t)).toBe(0);
    // The next window starts afresh.
    expect(l.hit('a', t + 7_000)).toBe(0);
    expect(l.size).toBe(1);
  });

  test('bounded: keys past maxKeys share one counter, so many addresses are still limited', () => {
    const l = new WindowLimiter(3, 60_000, 2);
    const t = 1_000_000_020_000;
    expect([l.hit('a', t), l.hit('b', t)]).toEqual([0, 0]);
    expect([l.hit('c', t), l.hit('d', t), l.hit('e', t)]).toEqual([0, 0, 0]);
    expect(l.hit('f', t)).toBeGreaterThan(0);
    expect(l.size).toBe(2);
    expect(l.hit('a', t)).toBe(0);
  });
});

describe('client key', () => {
  test.each([
    ['81.2.69.142', '81.2.69.142'],
    ['::ffff:81.2.69.142', '81.2.69.142'],
    ['2001:db8:85a3:1234:5678:8a2e:370:7334', '2001:db8:85a3:1234::/64'],
    ['2001:DB8:85A3:1234::1', '2001:db8:85a3:1234::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0001::ff', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s -> %s', (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });

  test('two addresses of one /64 share a key, of two /64s do not', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe(clientKey('2001:db8:1:2:bbbb::2'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
  });
});

describe('events per site (token bucket)', () => {
  test('a batch takes one token per event, all or none; tokens come back at the rate', () => {
    const b = new TokenBuckets(10, 100);
    expect(b.take('a', 100, 0)).toBe(0);
    expect(b.take('a', 1, 0)).toBe(1);
    expect(b.take('b', 60, 0)).toBe(0); // another site has its own bucket
    expect(b.take('a', 30, 1000)).toBe(2); // 10 there, 20 missing at 10/s
    expect(b.take('a', 10, 1000)).toBe(0);
    expect(b.take('a', 100, 1_000_000)).toBe(0); // refilled to the burst, not beyond
    expect(b.take('a', 1, 1_000_000)).toBe(1);
  });

  test('keys past maxKeys share one overflow bucket', () => {
    const b = new TokenBuckets(1, 10, 1);
    expect(b.take('a', 10, 0)).toBe(0);
    expect(b.take('x', 6, 0)).toBe(0);
    expect(b.take('y', 6, 0)).toBe(2); // 4 left in the shared bucket, 2 missing at 1/s
  });

  let h: Harness | undefined;
  afterEach(async () => h?.app.close());

  test('500-event batches: 429 GW_ERR_EVENTS_RATE_LIMITED with Retry-After once the site is over its budget, nothing of that batch produced', async () => {
    h = await harness({ gatewaySiteEventsPerS: 100, gatewaySiteEventsBurst: 1000, gatewayMaxBatch: 500 });
    const batch = () => ({ events: Array.from({ length: 500 }, () => pageView()) });
    expect((await postEvents(h.app, batch(), { query: '?site=a' })).json()).toMatchObject({ accepted: 500 });
    expect((await postEvents(h.app, batch(), { query: '?site=a' })).json()).toMatchObject({ accepted: 500 });
    const res = await postEvents(h.app, batch(), { query: '?site=a' });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_EVENTS_RATE_LIMITED' } });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(h.kafka.on('page_views')).toHaveLength(1000);
    // Another site is not affected.
    expect((await postEvents(h.app, batch(), { query: '?site=b' })).json()).toMatchObject({ accepted: 500 });
  });

  test('a burst below the largest batch is a config error', async () => {
    await expect(buildApp({ config: { gatewaySiteEventsPerS: 10, gatewaySiteEventsBurst: 100, gatewayMaxBatch: 500 } })).rejects.toThrow(ConfigError);
  });
});
