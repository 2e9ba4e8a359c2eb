import { describe, expect, it } from 'vitest';
import { TAIL_SLACK, TailCalibration } from './tail-calibration.js';
import { scoreSeries, type SeriesPoint } from './series-detector.js';
import { DEFAULT_INCIDENTS } from './incidents.js';
import { poisson, rng } from '../../test/harness/anomaly-scenarios.js';
import { alertTimes } from '../../test/harness/labelled-series.js';

/** Approximately standard normal (sum of 12 uniforms). */
const normal = (r: () => number) => Array.from({ length: 12 }, r).reduce((a, x) => a + x, 0) - 6;
const unit = (so: number, se: number, m: number) => (so - se) / Math.sqrt(m);

describe('TailCalibration', () => {
  it('leaves a model whose tails fit at 1, on every scale and side', () => {
    const r = rng(3);
    const c = new TailCalibration({ scales: [1, 4], history: 4000, minPoints: 200 });
    for (let i = 0; i < 4000; i++) c.push(normal(r), 0, unit);
    for (const m of [1, 4]) for (const side of [1, -1]) expect(c.factor(m, side)).toBe(1);
  });

  it('shrinks the side whose tail is far beyond the model, by what is beyond the slack', () => {
    const r = rng(4);
    const c = new TailCalibration({ scales: [1], history: 4000, minPoints: 200 });
    // 3 % of the points are bursts of 30 sd: the 99th percentile is ~30, against 2.33 claimed.
    for (let i = 0; i < 4000; i++) c.push(normal(r) + (r() < 0.03 ? 30 : 0), 0, unit);
    expect(c.factor(1, 1)).toBeGreaterThan(30 / 2.33 / TAIL_SLACK / 1.3);
    expect(c.factor(1, 1)).toBeLessThan((30 / 2.33 / TAIL_SLACK) * 1.3);
    expect(c.factor(1, -1)).toBe(1);
  });

  it('learns nothing before minPoints', () => {
    const c = new TailCalibration({ scales: [1], history: 4000, minPoints: 200 });
    for (let i = 0; i < 150; i++) c.push(i % 10 === 0 ? 100 : 0, 0, unit);
    expect(c.factor(1, 1)).toBe(1);
  });
});

describe('the series detector with calibration', { timeout: 60_000 }, () => {
  const t0 = Date.UTC(2026, 0, 5);
  const step = 300_000;
  /** Four weeks of 5-minute counts around `mean`, each point's mean drawn from `spread`. */
  const counts = (spread: (r: () => number) => number, seed: number): SeriesPoint[] => {
    const r = rng(seed);
    return Array.from({ length: 8064 }, (_, i) => ({ t: t0 + i * step, value: poisson(r, 20 * spread(r)) }));
  };
  // The calibration's own effect: the incidents' repeat rule, which also silences bursts the
  // series made on days before (incidents.test.ts), is left out.
  const incidents = { ...DEFAULT_INCIDENTS, repeatMs: 0 };
  const run = (pts: SeriesPoint[], calibrate: boolean) => scoreSeries(pts, { threshold: 5.5, k: 2, n: 3, minRise: 2, maxFall: 0.55, calibrate, incidents });

  it('changes nothing on Poisson counts', () => {
    const pts = counts(() => 1, 5);
    expect(run(pts, true).map((p) => p.score)).toEqual(run(pts, false).map((p) => p.score));
  });

  it('stops alerting on the ordinary bursts of counts far beyond Poisson, and still finds a x10 hour', () => {
    // Tweet-like: 2 % of the points are bursts of 3-6x.
    const bursty = counts((r) => (r() < 0.02 ? 3 + 3 * r() : 1), 6);
    const without = alertTimes(run(bursty, false), 3).length;
    const with_ = alertTimes(run(bursty, true), 3).length;
    expect(without).toBeGreaterThan(15);
    expect(with_).toBeLessThan(without / 4);
    const incident = bursty.map((p, i) => (i >= 7000 && i < 7012 ? { ...p, value: p.value * 10 } : p));
    const found = alertTimes(run(incident, true), 3).filter((t) => t >= incident[7000].t && t <= incident[7014].t);
    expect(found.length).toBe(1);
  });
});
