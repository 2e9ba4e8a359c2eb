import { describe, expect, test } from 'vitest';
import { clientKey, WindowLimiter } from '../../gateway/rate-limit.js';

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
