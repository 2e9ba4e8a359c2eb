import { describe, expect, test } from 'vitest';
import { RecentCounts } from './recent-counts.js';

/** The archive's rule, computed independently: a repeat when the key occurs in [offset - horizon, offset). */
function reference(keys: string[], horizon: number): boolean[] {
  return keys.map((k, o) => horizon > 0 && keys.slice(Math.max(0, o - horizon), o).includes(k));
}

describe('recent counts, each offset its own owner (the archive: seenWithin)', () => {
  test.each([
    ['second copy right after', ['a', 'a', 'b'], 5, [false, true, false]],
    ['second copy exactly at the horizon', ['a', 'x', 'y', 'a'], 3, [false, false, false, true]],
    ['second copy one past the horizon', ['a', 'x', 'y', 'z', 'a'], 3, [false, false, false, false, false]],
    ['a third copy within the horizon of the second', ['a', 'x', 'x', 'a', 'y', 'y', 'a'], 3, [false, false, true, true, false, true, true]],
    ['horizon 0 keeps everything', ['a', 'a'], 0, [false, false]],
  ])('%s', (_name, keys, horizon, expected) => {
    const w = new RecentCounts<number>(horizon);
    expect(keys.map((k, o) => w.seenWithin(k, o))).toEqual(expected);
    expect(reference(keys, horizon)).toEqual(expected);
  });

  test('long random logs with gaps in the offsets: the same decisions as the rule, memory bounded by the horizon', () => {
    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const horizon = 300;
    const w = new RecentCounts<number>(horizon);
    const log: { key: string; offset: number }[] = [];
    let offset = 0;
    for (let i = 0; i < 6_000; i++) {
      offset += r() < 0.1 ? 2 + Math.floor(r() * 5) : 1; // transaction markers, compaction
      log.push({ key: `s\u0000e${Math.floor(r() * 1000)}`, offset });
    }
    let maxSize = 0;
    const got = log.map((x) => {
      const rep = w.seenWithin(x.key, x.offset);
      maxSize = Math.max(maxSize, w.size);
      return rep;
    });
    // The rule, independently: an earlier record with the same key at most `horizon` offsets before (offsets only grow, so look back until past it).
    const expected = log.map((x, i) => {
      for (let j = i - 1; j >= 0 && log[j].offset >= x.offset - horizon; j--) if (log[j].key === x.key) return true;
      return false;
    });
    expect(got).toEqual(expected);
    expect(got.filter(Boolean).length).toBeGreaterThan(500);
    expect(maxSize).toBeLessThanOrEqual(horizon + 1);
  });

  test('keys growing longer over the log (the byte ring rebuilt while wrapped, apart from the entries): the same decisions as the rule', () => {
    const horizon = 500;
    const w = new RecentCounts<number>(horizon);
    const keys = Array.from({ length: 8_000 }, (_, i) => `s\u0000${'x'.repeat(Math.floor(i / 400))}${(i * 7) % 300}`);
    const got = keys.map((k, o) => w.seenWithin(k, o));
    const expected = keys.map((k, o) => o > 0 && keys.lastIndexOf(k, o - 1) >= Math.max(0, o - horizon));
    expect(got).toEqual(expected);
    expect(got.filter(Boolean).length).toBeGreaterThan(1_000);
  });
});

/** One step of the engine's use: `countedBy` of a record, then `counted` with its owner unless `owner` is null (a repeat, or not counted). */
type Step = [key: string, offset: number, owner: string | null];

describe('recent counts with owners (the analytics engine: the counting session)', () => {
  test.each<[string, number, Step[], (string | undefined)[]]>([
    ['a key counted once is found with its owner', 10, [['a', 0, 'S1'], ['a', 3, null], ['b', 4, 'S1']], [undefined, 'S1', undefined]],
    ['a key is forgotten past the horizon', 3, [['a', 0, 'S1'], ['a', 3, null], ['a', 4, null]], [undefined, 'S1', undefined]],
    ['a later owner of the same key is kept when the earlier entry is forgotten', 3, [['a', 0, 'S1'], ['a', 2, 'S2'], ['x', 4, 'S2'], ['a', 5, null], ['a', 6, null]], [undefined, 'S1', undefined, 'S2', undefined]],
    ['a record not counted (a repeat) is not remembered', 3, [['a', 0, 'S1'], ['a', 1, null], ['a', 4, null]], [undefined, 'S1', undefined]],
    ['horizon 0 remembers nothing', 0, [['a', 0, 'S1'], ['a', 1, 'S1']], [undefined, undefined]],
  ])('%s', (_name, horizon, steps, expected) => {
    const w = new RecentCounts<string>(horizon);
    const got = steps.map(([key, offset, owner]) => {
      const by = w.countedBy(key, offset);
      if (owner !== null) w.counted(key, offset, owner);
      return by;
    });
    expect(got).toEqual(expected);
  });

  test('the prefix of forgotten entries is dropped: memory follows the horizon over a long log', () => {
    const w = new RecentCounts<number>(100);
    let repeats = 0;
    for (let o = 0; o < 50_100; o++) {
      if (w.seenWithin(`k${o % 150}`, o)) repeats++;
      if (o === 49_999) expect(w.size).toBe(101);
    }
    expect(repeats).toBe(0);
    expect(w.seenWithin('k100', 50_100)).toBe(true); // seen at 50,050
    expect(w.seenWithin('k49', 50_101)).toBe(false); // seen at 49,999, past the horizon
  });
});

/** The rule with owners, as a plain Map of strings (the window's previous implementation): what the compact one must decide. */
class MapWindow<S> {
  private readonly latest = new Map<string, S>();
  private readonly log: { key: string; offset: number; owner: S }[] = [];
  private head = 0;
  constructor(readonly horizon: number) {}
  countedBy(key: string, offset: number): S | undefined {
    while (this.head < this.log.length && this.log[this.head].offset < offset - this.horizon) {
      const x = this.log[this.head++];
      if (this.latest.get(x.key) === x.owner) this.latest.delete(x.key);
    }
    return this.latest.get(key);
  }
  counted(key: string, offset: number, owner: S): void {
    this.latest.set(key, owner);
    this.log.push({ key, offset, owner });
  }
  get size(): number {
    return this.latest.size;
  }
}

describe('recent counts against the plain Map of strings', () => {
  test.each([1, 2, 3, 4])('random logs (few owners, repeated keys, non-ASCII and long keys, gaps, growth): the same answers and sizes (seed %i)', (seed) => {
    let x = seed;
    const r = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const got: (number | undefined)[] = [];
    const want: (number | undefined)[] = [];
    for (let trial = 0; trial < 12; trial++) {
      const horizon = 1 + Math.floor(r() * (trial % 3 === 0 ? 2000 : 200));
      const w = new RecentCounts<number>(horizon);
      const ref = new MapWindow<number>(horizon);
      let offset = 0;
      for (let i = 0; i < 4000; i++) {
        offset += r() < 0.1 ? 2 + Math.floor(r() * 5) : 1;
        const u = r();
        const key = u < 0.03 ? `shop\u0000é${'x'.repeat(Math.floor(r() * 400))}${Math.floor(r() * 40)}` : u < 0.05 ? `店\u0000${Math.floor(r() * 30)}😀` : `shop\u0000e${Math.floor(r() * 600)}`;
        const owner = Math.floor(r() * 4);
        got.push(w.countedBy(key, offset));
        want.push(ref.countedBy(key, offset));
        if (r() < 0.8) {
          w.counted(key, offset, owner);
          ref.counted(key, offset, owner);
        }
        got.push(w.size);
        want.push(ref.size);
      }
    }
    expect(got).toEqual(want);
    expect(want.filter((v, i) => i % 2 === 0 && v !== undefined).length).toBeGreaterThan(1000); // repeats found
  });

  test('keys that differ in one byte, or only in length, or whose bytes collide under a naive encoding, stay distinct', () => {
    const w = new RecentCounts<number>(100);
    const keys = ['a\u0000b', 'a\u0000c', 'a\u0000bb', 'a\u0000b\u0000', '\u00e9', '\u00c3\u00a9', 'Ã©', 'é'];
    expect(keys.map((k, o) => w.seenWithin(k, o))).toEqual([false, false, false, false, false, false, true, true]);
  });
});
