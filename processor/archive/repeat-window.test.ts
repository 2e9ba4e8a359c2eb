import { describe, expect, test } from 'vitest';
import { RepeatWindow } from './repeat-window.js';

/** The rule, computed independently: a repeat when the key occurs in [offset - horizon, offset). */
function reference(keys: string[], horizon: number): boolean[] {
  return keys.map((k, o) => horizon > 0 && keys.slice(Math.max(0, o - horizon), o).includes(k));
}

describe('repeat window', () => {
  test.each([
    ['second copy right after', ['a', 'a', 'b'], 5, [false, true, false]],
    ['second copy exactly at the horizon', ['a', 'x', 'y', 'a'], 3, [false, false, false, true]],
    ['second copy one past the horizon', ['a', 'x', 'y', 'z', 'a'], 3, [false, false, false, false, false]],
    ['a third copy within the horizon of the second', ['a', 'x', 'x', 'a', 'y', 'y', 'a'], 3, [false, false, true, true, false, true, true]],
    ['horizon 0 keeps everything', ['a', 'a'], 0, [false, false]],
  ])('%s', (_name, keys, horizon, expected) => {
    const w = new RepeatWindow(horizon);
    expect(keys.map((k, o) => w.see(k, o))).toEqual(expected);
    expect(reference(keys, horizon)).toEqual(expected);
  });

  test('long random logs with gaps in the offsets: the same decisions as the rule, memory bounded by the horizon', () => {
    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const horizon = 300;
    const w = new RepeatWindow(horizon);
    const log: { key: string; offset: number }[] = [];
    let offset = 0;
    for (let i = 0; i < 6_000; i++) {
      offset += r() < 0.1 ? 2 + Math.floor(r() * 5) : 1; // transaction markers, compaction
      log.push({ key: `s\u0000e${Math.floor(r() * 1000)}`, offset });
    }
    let maxSize = 0;
    const got = log.map((x) => {
      const rep = w.see(x.key, x.offset);
      maxSize = Math.max(maxSize, w.size);
      return rep;
    });
    const expected = log.map((x, i) => log.slice(0, i).some((y) => y.key === x.key && y.offset >= x.offset - horizon));
    expect(got).toEqual(expected);
    expect(got.filter(Boolean).length).toBeGreaterThan(500);
    expect(maxSize).toBeLessThanOrEqual(horizon + 1);
  });
});
