import { describe, expect, it } from 'vitest';
import { DeviationScorer, residualScale, type ScorerOptions } from './series.js';
import { SeriesDetector, inferStep, looksLikeCounts, scoreSeries } from './series-detector.js';
import { SeasonalBaseline } from './seasonal-baseline.js';
import { median, mad, quantile, histogramMedianMad, poissonZ } from './stats.js';
import { poisson, rng } from '../../test/harness/anomaly-scenarios.js';

const HOUR = 3_600_000;

/** Hourly Poisson counts with a daily cycle (and weekends lower), from Monday 00:00 UTC. */
function seasonal(seed: number, days: number, peak = 200) {
  const r = rng(seed);
  const t0 = Date.UTC(2026, 0, 5);
  return Array.from({ length: days * 24 }, (_, i) => {
    const hour = i % 24;
    const weekend = Math.floor(i / 24) % 7 >= 5 ? 0.7 : 1;
    const mean = peak * weekend * (0.15 + 0.85 * Math.max(0, Math.sin(((hour - 6) / 24) * 2 * Math.PI)));
    return { t: t0 + i * HOUR, value: poisson(r, mean) };
  });
}

describe('robust statistics', () => {
  it.each([
    [[1, 2, 3], 2, 1],
    [[1, 2, 3, 4], 2.5, 1],
    [[5, 5, 5, 100], 5, 0],
  ])('median/MAD of %j', (xs, m, d) => {
    expect(median(xs)).toBe(m);
    expect(mad(xs)).toBe(d);
  });
  it('quantile interpolates', () => expect(quantile([0, 10], 0.25)).toBe(2.5));
  it('histogram median/MAD equals the plain one', () => {
    const h = new Map([
      [1, 5],
      [2, 3],
      [50, 1],
    ]);
    expect(histogramMedianMad(h)).toEqual({ median: 1, mad: 0 });
  });
});

describe('SeasonalBaseline', () => {
  it.each([
    ['nothing known', 0, 'none'],
    ['a few points: the recent median', 4, 'recent'],
    ['more than a day: the same hour of the last days', 30, 'day'],
    ['more than a week: the same hour of the last weeks', 24 * 8, 'week'],
  ])('%s', (_n, points, source) => {
    const b = new SeasonalBaseline({ stepMs: HOUR });
    const data = seasonal(1, 10);
    for (const p of data.slice(0, points)) b.push(p.t, p.value);
    expect(b.expected(data[points].t).source).toBe(source);
  });

  it('expects the weekly shape: a Saturday afternoon from the last Saturdays, not from the weekdays', () => {
    const data = seasonal(2, 22, 1000);
    const b = new SeasonalBaseline({ stepMs: HOUR });
    for (const p of data.slice(0, 19 * 24)) b.push(p.t, p.value);
    const sat15 = data[19 * 24 + 15]; // day 19 is a Saturday
    const e = b.expected(sat15.t);
    expect(e.source).toBe('week');
    expect(Math.abs(e.value - sat15.value) / sat15.value).toBeLessThan(0.12);
  });
});

describe('DeviationScorer', () => {
  it.each([
    // [case, observed, expected, anomalous]
    ['on target', 100, 100, false],
    ['Poisson noise of a small count', 3, 1, false],
    ['zero when one was expected is not news', 0, 1, false],
    ['zero when 20 were expected is', 0, 20, true],
    ['three times the traffic', 300, 100, true],
    ['-60 %', 400, 1000, true],
  ])('%s', (_n, o, e, anomalous) => {
    const s = new DeviationScorer({ scales: [1] });
    expect(s.push(o, e).anomalous).toBe(anomalous);
  });

  it('flags only when k of the last n windows are anomalous in the same direction', () => {
    const s = new DeviationScorer({ k: 2, n: 3, scales: [1] });
    expect(s.push(300, 100)).toMatchObject({ anomalous: true, flag: false });
    expect(s.push(100, 100)).toMatchObject({ anomalous: false, flag: false });
    expect(s.push(20, 100)).toMatchObject({ anomalous: true, flag: false }); // the other direction
    expect(s.push(310, 100)).toMatchObject({ anomalous: true, flag: false }); // 2 of 3 but one of them down
    expect(s.push(290, 100)).toMatchObject({ anomalous: true, flag: true });
  });

  it('counts a sum over k leaning windows as k windows only with sumsAsWindows (purchases stopping flags on its 2nd window)', () => {
    const counted = new DeviationScorer({ k: 2, n: 3, sumsAsWindows: true });
    const plain = new DeviationScorer({ k: 2, n: 3 });
    expect(counted.push(0, 8)).toMatchObject({ anomalous: false, flag: false }); // e^-8: not yet
    expect(plain.push(0, 8)).toMatchObject({ anomalous: false, flag: false });
    expect(counted.push(0, 8)).toMatchObject({ anomalous: true, flag: true, scale: 2 });
    expect(plain.push(0, 8)).toMatchObject({ anomalous: true, flag: false });
    expect(plain.push(0, 8)).toMatchObject({ anomalous: true, flag: true });
    // One window short among more does not lean: no flag from the sum alone.
    const mixed = new DeviationScorer({ k: 2, n: 3, sumsAsWindows: true });
    mixed.push(12, 8);
    expect(mixed.push(0, 8).flag).toBe(false);
  });

  it('holds the size floor with Poisson noise taken out: small counts at half by chance are no drop, large ones at 40 % are', () => {
    const quiet = new DeviationScorer({ k: 2, n: 3, maxFall: 0.55 });
    expect([1, 2, 3, 4, 5, 6].map(() => quiet.push(20, 40).anomalous)).toEqual([false, false, false, false, false, false]);
    const busy = new DeviationScorer({ k: 2, n: 3, maxFall: 0.55 });
    expect([1, 2].map(() => busy.push(130, 330))).toMatchObject([{ anomalous: true, flag: false }, { anomalous: true, flag: true }]);
  });

  describe('local level (levelHalfLife)', () => {
    /** 28 days of 24 points at 300 x the day's level, whole days alternating 15 % high and low (day-to-day level noise). */
    function warmed(levelHalfLife: number) {
      const s = new DeviationScorer({ k: 2, n: 3, maxFall: 0.6, levelHistory: 28 * 24, levelHalfLife });
      for (let i = 0; i < 28 * 24; i++) s.push(Math.round(300 * (Math.floor(i / 24) % 2 ? 0.85 : 1.15)), 300);
      return s;
    }
    it.each([
      // [case, levelHalfLife, observed per point after the warm-up (expected 300 each), flags, last expectation]
      ['a day running 15 % high becomes the expectation', 4, Array(24).fill(345), Array(24).fill(false), 345],
      ['off: the expectation stays the seasonal one', 0, Array(24).fill(345), Array(24).fill(false), 300],
      ['-60 % on a day running 15 % high is flagged on its 2nd window', 4, [...Array(24).fill(345), 138, 138], [...Array(24).fill(false), false, true], 345],
      ['without the level, the day-to-day noise hides it', 0, [...Array(24).fill(345), 138, 138], Array(26).fill(false), 300],
    ] as [string, number, number[], boolean[], number][])('%s', (_n, half, observed, flags, last) => {
      const s = warmed(half);
      const out = observed.map((o) => s.push(o, 300));
      expect(out.map((p) => p.flag)).toEqual(flags);
      expect(out[out.length - 1].expected).toBeCloseTo(last, -1);
    });
    it('learns nothing from anomalous windows: an incident does not become the expectation', () => {
      const s = warmed(4);
      for (let i = 0; i < 24; i++) s.push(300, 300);
      const during = Array.from({ length: 12 }, () => s.push(100, 300));
      expect(during.every((p) => p.anomalous)).toBe(true);
      expect(during[11].expected).toBeCloseTo(300, -1);
    });
  });

  it('finds a small shortfall that lasts through the longer sums', () => {
    const s = new DeviationScorer({ scales: [1, 2, 4, 8, 12], k: 1, n: 1 });
    const flags = Array.from({ length: 12 }, () => s.push(5, 10).flag);
    expect(flags[0]).toBe(false);
    expect(flags.some(Boolean)).toBe(true);
  });
});

describe('scoreSeries (what anomaly:score runs)', () => {
  it('raises nothing on two clean seasonal weeks after a warm-up week, and flags a +200 % hour run and a -60 % run', () => {
    const data = seasonal(3, 21, 300);
    const clean = scoreSeries(data).filter((p) => p.t >= data[7 * 24].t);
    expect(clean.filter((p) => p.flag)).toEqual([]);
    const spiked = data.map((p, i) => (i >= 15 * 24 + 12 && i < 15 * 24 + 15 ? { ...p, value: p.value * 3 } : i >= 18 * 24 + 10 && i < 18 * 24 + 14 ? { ...p, value: Math.round(p.value * 0.4) } : p));
    const flagged = scoreSeries(spiked).filter((p) => p.flag && p.t >= data[7 * 24].t);
    expect(flagged.some((p) => p.t >= data[15 * 24 + 12].t && p.t <= data[15 * 24 + 14].t && p.score > 0)).toBe(true);
    expect(flagged.some((p) => p.t >= data[18 * 24 + 10].t && p.t <= data[18 * 24 + 13].t && p.score < 0)).toBe(true);
    expect(flagged.every((p) => (p.t >= data[15 * 24 + 12].t && p.t < data[15 * 24 + 18].t) || (p.t >= data[18 * 24 + 10].t && p.t < data[18 * 24 + 17].t))).toBe(true);
  });

  it('takes integer series as counts only when their noise is no more than Poisson plus a few per cent', () => {
    const r = rng(11);
    const t = (i: number) => Date.UTC(2026, 0, 5) + i * 300_000;
    const cycle = (i: number) => 1 + 0.8 * Math.sin((i / 288) * 2 * Math.PI);
    const of = (f: (i: number) => number) => Array.from({ length: 2000 }, (_, i) => ({ t: t(i), value: f(i) }));
    expect(looksLikeCounts(of((i) => poisson(r, 20 * cycle(i))))).toBe(true);
    expect(looksLikeCounts(of((i) => poisson(r, 0.3 * cycle(i))))).toBe(true);
    expect(looksLikeCounts(of((i) => Math.round(5e7 * cycle(i) * (1 + 0.02 * (r() - 0.5)))))).toBe(true);
    // Tweet-like: 3 % of the points are bursts of 3-6x.
    expect(looksLikeCounts(of((i) => poisson(r, 20 * cycle(i) * (r() < 0.03 ? 3 + 3 * r() : 1))))).toBe(false);
    // Travel times in seconds: integers, but a measurement.
    expect(looksLikeCounts(of((i) => Math.round(400 * cycle(i) * (1 + 0.6 * (r() - 0.5)))))).toBe(false);
  });

  it('handles irregular steps and values that are not counts', () => {
    const pts = Array.from({ length: 400 }, (_, i) => ({ t: i * 60_000 + (i % 2 ? 5000 : 0), value: 10.5 + Math.sin(i / 10) + (i === 300 || i === 301 ? 40 : 0) }));
    expect(looksLikeCounts(pts)).toBe(false);
    expect(inferStep(pts)).toBeGreaterThanOrEqual(55_000);
    expect(inferStep(pts)).toBeLessThanOrEqual(65_000);
    const out = scoreSeries(pts);
    // Far beyond the series' tails, the first window is flagged alone (extremeWindow): one alert, a window earlier.
    expect(out.filter((p) => p.flag).map((p) => p.t)).toEqual([pts[300].t, pts[301].t]);
  });

  it('a new series: its first day (a daily cycle against the median of the last points) teaches the noise instead of paging', () => {
    const data = seasonal(5, 3, 2000);
    const flaggedOnDay1 = (o: Partial<ScorerOptions>) => scoreSeries(data, o).filter((p) => p.flag && p.t < data[24].t).length;
    expect(flaggedOnDay1({ warmup: 0 })).toBeGreaterThan(0);
    expect(flaggedOnDay1({})).toBe(0);
  });

  it('daily steps: the noise is fitted on more than four weeks (too few blocks of the longest sum), fewer ordinary days page', () => {
    const r = rng(7);
    const day = 86_400_000;
    // Daily visits with 20 % day-to-day noise: far above Poisson at 5,000 a day (scored as counts
    // only when told: by default such noise makes it a measurement, see looksLikeCounts).
    const data = Array.from({ length: 200 }, (_, i) => ({ t: Date.UTC(2025, 0, 1) + i * day, value: Math.round(5000 * (1 + 0.4 * (r() + r() + r() - 1.5))) }));
    const flags = (o: { levelHistory?: number }) => scoreSeries(data, { counts: true, threshold: 5.5, ...o }).filter((p) => p.flag).length;
    expect(flags({})).toBeLessThan(flags({ levelHistory: 28 }) / 4);
  });

  it('is deterministic and order-independent of the input rows', () => {
    const data = seasonal(4, 9);
    expect(scoreSeries([...data].reverse())).toEqual(scoreSeries(data));
  });
});

describe('residualScale (non-count series)', () => {
  it('is 1.4826 x MAD when most residuals differ', () => expect(residualScale([-2, -1, 0, 1, 2], [10, 10, 10, 10, 10])).toBeCloseTo(1.4826, 4));
  it('falls back to the mean absolute deviation for a mostly flat series', () => {
    const r = [...Array.from({ length: 90 }, () => 0), ...Array.from({ length: 10 }, () => 1.5)];
    expect(residualScale(r, r.map(() => 0))).toBeCloseTo(1.2533 * 0.15, 6);
  });
  it('is never below 0.1 % of the level for a constant series', () => expect(residualScale([0, 0, 0], [45, 45, 45])).toBeCloseTo(0.045, 9));
});

describe('poissonZ', () => {
  it.each([
    // [observed, expected, z from the exact mid-p tail]
    [0, 8, -3.586],
    [16, 8, 2.514],
    [70, 100, -3.15],
    [100, 100, 0],
  ])('%d observed for %d expected scores %d', (o, e, z) => {
    expect(poissonZ(o, e)).toBeCloseTo(z, 2);
  });
  it('is less alarmed than the square-root approximation by a shortfall of a small count', () => {
    const anscombe = 2 * (Math.sqrt(0.375) - Math.sqrt(8.375));
    expect(poissonZ(0, 8)).toBeGreaterThan(anscombe + 0.9);
  });
});

describe('relevance floors', () => {
  /** Four calm weeks of 300 per point, then a day 28 % low (a holiday), then one 60 % low. */
  function run(o: Partial<ScorerOptions>) {
    const d = new SeriesDetector({ stepMs: 3_600_000, ...o });
    const day = 24;
    const flags: number[] = [];
    for (let i = 0; i < 30 * day; i++) {
      const level = i >= 28 * day && i < 29 * day ? 0.72 : i >= 29 * day + 10 && i < 29 * day + 14 ? 0.4 : 1;
      if (d.push(i * 3_600_000, Math.round(300 * level + ((i * 7) % 5) - 2)).flag) flags.push(Math.floor(i / day));
    }
    return new Set(flags);
  }
  it('a calm history makes a holiday improbable; the floor keeps it from paging while the incident still does', () => {
    expect(run({ minRise: 1, maxFall: 1 })).toEqual(new Set([28, 29]));
    expect(run({ minRise: 2, maxFall: 0.55 })).toEqual(new Set([29]));
  });
});
