import { expect, test } from 'vitest';
import { isoTime } from './iso-time.js';

test('isoTime writes what toISOString writes: random times, day and year edges, years before 1000 and after 9999, negative times', () => {
  const xs = [0, -0, 1, -1, 999, 1000, 86_399_999, 86_400_000, -86_400_000, -86_400_001, 951_782_400_000, 1_764_547_200_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_000, -62_167_219_200_001, 8.64e15, -8.64e15];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 20_000; i++) xs.push(Math.round((rnd() * 2 - 1) * 8.64e15), 1_764_547_200_000 + Math.round(rnd() * 1e9));
  // Consecutive calls on the same day, then another day, then back (the cached date part).
  xs.push(1_764_547_200_000, 1_764_547_200_001, 1_764_633_599_999, 1_764_633_600_000, 1_764_547_200_002);
  // Two days alternating (a client clock a month off: client time and corrected time), then a third day and back.
  for (let i = 0; i < 4; i++) xs.push(1_764_547_200_000 + i, 1_767_225_599_000 - i);
  xs.push(1_764_720_000_000, 1_764_547_200_009, 1_767_225_599_009, 1_764_720_000_009);
  for (const x of xs) expect(isoTime(x)).toBe(new Date(x).toISOString());
});

test('isoTime refuses what toISOString refuses (outside the range a Date holds)', () => {
  for (const x of [8.64e15 + 1, -8.64e15 - 1, Number.NaN, Infinity]) expect(() => isoTime(x)).toThrow(RangeError);
  expect(isoTime(1.5)).toBe(new Date(1.5).toISOString());
});
