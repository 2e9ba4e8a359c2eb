import { describe, expect, it } from 'vitest';
import { fitLevelScale, fitLogScale, logRatio, logScaleAt, scaleAt } from './residual-scale.js';

/** Residuals of +-noise(level) at each level, 40 points each. */
function residuals(noise: (level: number) => number, levels = [10, 100, 1000, 10000]) {
  const r: number[] = [];
  const e: number[] = [];
  for (const level of levels) for (let i = 0; i < 40; i++) {
    r.push((i % 2 ? 1 : -1) * noise(level));
    e.push(level);
  }
  return { r, e };
}

describe('fitLevelScale', () => {
  it('gives each level its own scale when the noise grows with the level, within 4x of the whole series', () => {
    const { r, e } = residuals((l) => 0.1 * l);
    const fit = fitLevelScale(r, e);
    expect(fit.levels).toEqual([10, 100, 1000, 10000]);
    expect(scaleAt(fit, 10)).toBeCloseTo(fit.overall / 4, 9);
    expect(scaleAt(fit, 10000)).toBeCloseTo(Math.min(4 * fit.overall, 1.4826 * 1000), 6);
    expect(scaleAt(fit, 550)).toBeGreaterThan(scaleAt(fit, 100));
    expect(scaleAt(fit, 550)).toBeLessThan(scaleAt(fit, 1000));
  });
  it('is one scale when the noise does not depend on the level', () => {
    const { r, e } = residuals(() => 5, [1, 10, 100, 1000]);
    const fit = fitLevelScale(r, e);
    for (const level of [1, 10, 300, 1e6]) expect(scaleAt(fit, level)).toBeCloseTo(1.4826 * 5, 6);
  });
  it('is one scale below 12 residuals a group', () => expect(fitLevelScale([1, -1, 2], [1, 2, 3]).levels).toEqual([0]));
});

describe('fitLogScale', () => {
  it('fits log ratios of positive series: a -60 % and a +150 % are equally far', () => {
    // Log ratios spread evenly over -0.1..0.1: a robust scale of about 0.07-0.1.
    const o = Array.from({ length: 100 }, (_, i) => 100 * Math.exp((0.1 * ((i % 7) - 3)) / 3));
    const fit = fitLogScale(o, o.map(() => 100))!;
    expect(logScaleAt(fit, 100)).toBeGreaterThan(0.05);
    expect(logScaleAt(fit, 100)).toBeLessThan(0.12);
    expect(logRatio(fit, 40, 100, 1)).toBeCloseTo(-logRatio(fit, 250, 100, 1), 1);
  });
  it('is none for a series more than 1 % at 0 (a gauge at rest, small counts)', () => {
    const o = Array.from({ length: 100 }, (_, i) => (i === 50 ? 0 : 5));
    expect(fitLogScale(o, o.map(() => 5))).not.toBeNull();
    const at0 = Array.from({ length: 100 }, (_, i) => (i % 20 === 0 ? 0 : 5));
    expect(fitLogScale(at0, at0.map(() => 5))).toBeNull();
  });
});
