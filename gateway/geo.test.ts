import { expect, test } from 'vitest';
import { cachedGeo, geoipLiteProvider, type GeoInfo, type GeoProvider } from './geo.js';

test('cachedGeo: the provider\'s answers, each address looked up once while it is recent; long keys and old addresses go back to the provider', () => {
  const asked: string[] = [];
  const provider: GeoProvider = {
    lookup(ip) {
      asked.push(ip);
      return ip.startsWith('10.') ? null : { country: ip, region: null, city: null, timezone: null, location: null };
    },
  };
  const geo = cachedGeo(provider, 4);
  expect(geo.lookup('1.1.1.1')?.country).toBe('1.1.1.1');
  expect(geo.lookup('10.0.0.1')).toBeNull();
  expect(geo.lookup('1.1.1.1')?.country).toBe('1.1.1.1');
  expect(geo.lookup('10.0.0.1')).toBeNull();
  expect(asked).toEqual(['1.1.1.1', '10.0.0.1']);
  // Two generations of 2: three more addresses push the first two out.
  for (const ip of ['2.2.2.2', '3.3.3.3', '4.4.4.4', '5.5.5.5']) geo.lookup(ip);
  geo.lookup('1.1.1.1');
  expect(asked.filter((ip) => ip === '1.1.1.1')).toHaveLength(2);
  // Not an IP address's length (a forwarded header's garbage): asked every time, never kept.
  const long = '9'.repeat(65);
  geo.lookup(long);
  geo.lookup(long);
  expect(asked.filter((ip) => ip === long)).toHaveLength(2);
});

test('cachedGeo in front of geoip-lite answers as geoip-lite does', () => {
  const plain = geoipLiteProvider();
  const geo = cachedGeo(plain, 8);
  for (let round = 0; round < 3; round++) {
    for (const ip of ['81.2.69.142', '8.8.8.8', '127.0.0.1', '2001:4860:4860::8888', '177.71.128.1', 'not an ip']) {
      expect(geo.lookup(ip)).toEqual<GeoInfo | null>(plain.lookup(ip));
    }
  }
});
