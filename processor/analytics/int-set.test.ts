import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { IntSet } from './int-set.js';

describe('IntSet', () => {
  test('answers as a Set of the same numbers, through growth and collisions', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2 ** 31 - 2 })), { maxLength: 400 }), fc.array(fc.integer({ min: 0, max: 2 ** 31 - 2 }), { maxLength: 50 }), (adds, probes) => {
        const s = new IntSet();
        const ref = new Set<number>();
        for (const x of adds) {
          expect(s.add(x)).toBe(!ref.has(x));
          ref.add(x);
          expect(s.size).toBe(ref.size);
        }
        for (const x of [...adds, ...probes]) expect(s.has(x)).toBe(ref.has(x));
        const members: number[] = [];
        s.forEach((x) => members.push(x));
        expect(members.sort((a, b) => a - b)).toEqual([...ref].sort((a, b) => a - b));
      }),
    );
  });

  test('empty: holds nothing, 0 included', () => {
    const s = new IntSet();
    expect(s.has(0)).toBe(false);
    expect(s.size).toBe(0);
    expect(s.add(0)).toBe(true);
    expect(s.has(0)).toBe(true);
    expect(s.add(0)).toBe(false);
  });
});
