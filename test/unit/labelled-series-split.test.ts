import { describe, expect, it } from 'vitest';
import { fnv1a, splitHalves } from '../harness/labelled-series.js';

describe('splitHalves (the tuning and held-out halves of anomaly:nab)', () => {
  const names = [
    ...Array.from({ length: 7 }, (_, i) => `realTraffic/s${i}.csv`),
    ...Array.from({ length: 10 }, (_, i) => `realTweets/Twitter_volume_${i}.csv`),
  ];

  it('gives each category floor(n/2) series to tune on, the rest held out', () => {
    const halves = splitHalves(names);
    const count = (category: string, half: string) => names.filter((n) => n.startsWith(category) && halves.get(n) === half).length;
    expect([count('realTraffic', 'tune'), count('realTraffic', 'held-out')]).toEqual([3, 4]);
    expect([count('realTweets', 'tune'), count('realTweets', 'held-out')]).toEqual([5, 5]);
  });

  it('depends on the names only, not on their order', () => {
    expect([...splitHalves([...names].reverse())].sort()).toEqual([...splitHalves(names)].sort());
  });

  it('hashes with FNV-1a (32 bits)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });
});
