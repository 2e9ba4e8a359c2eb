import { describe, expect, it } from 'vitest';
import { pooledFigures, seriesFigures } from './labelled-series.js';

const H = 3_600_000;
/** Hourly points over 4 days, flagged at the given hours. */
const scored = (flagged: number[]) => Array.from({ length: 96 }, (_, i) => ({ t: i * H, flag: flagged.includes(i) }));

describe('labelled-series figures', () => {
  it('counts every alert inside a window for precision, only the first for firstPrecision', () => {
    // A window at hours 10-20 with three separate alerts in it, one alert outside.
    const s = seriesFigures(scored([11, 15, 19, 50]), [{ start: 10 * H, end: 20 * H }], { n: 3, graceMs: 0 });
    expect(s).toMatchObject({ alerts: 4, inside: 3, outside: 1, found: 1, precision: 0.75, recall: 1 });
    expect(s.firstPrecision).toBe(0.5);
    const pooled = pooledFigures([s, seriesFigures(scored([60]), [{ start: 0, end: H }], { n: 3, graceMs: 0 })]);
    expect(pooled).toMatchObject({ found: 1, outside: 2, windows: 2 });
    expect(pooled.firstPrecision).toBeCloseTo(1 / 3, 10);
  });
});
