/**
 * anomaly:score's detector, with its defaults, on the kinds of series users bring: other steps,
 * gaps, jitter, very low and very high counts, values that are not counts, short history. Each
 * clean series raises nothing and each injected incident is flagged within it (or 3 steps after).
 */
import { describe, expect, it } from 'vitest';
import { scoreSeries, type SeriesPoint } from './series-detector.js';
import { scoreDefaults } from './series-csv.js';
import { anomalyOptionsFromConfig } from './options.js';
import { parseConfig } from '../../contracts/config.js';
import { alertTimes } from '../../test/harness/labelled-series.js';
import { poisson, rng } from '../../test/harness/anomaly-scenarios.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const cli = scoreDefaults(anomalyOptionsFromConfig(parseConfig({})).site);

/** A daily cycle (weekends 30 % lower) from Monday 00:00 UTC; `draw` turns its 0-1 shape into a value. */
function series(stepMs: number, days: number, draw: (shape: number, r: () => number) => number, seed = 1): SeriesPoint[] {
  const r = rng(seed);
  const t0 = Date.UTC(2026, 0, 5);
  return Array.from({ length: Math.round((days * DAY) / stepMs) }, (_, i) => {
    const t = t0 + i * stepMs;
    const weekend = Math.floor(i / (DAY / stepMs)) % 7 >= 5 ? 0.7 : 1;
    const shape = weekend * (0.15 + 0.85 * Math.max(0, Math.sin((((t % DAY) / HOUR - 6) / 24) * 2 * Math.PI)));
    return { t, value: draw(shape, r) };
  });
}
const counts = (peak: number) => (shape: number, r: () => number) => poisson(r, peak * shape);
const scaled = (pts: SeriesPoint[], from: number, to: number, f: number) => pts.map((p, i) => (i >= from && i < to ? { ...p, value: p.value * f } : p));
const alerts = (pts: SeriesPoint[]) => alertTimes(scoreSeries(pts, cli), cli.n);

describe('anomaly:score on generic series (its defaults)', { timeout: 120_000 }, () => {
  const hourly = series(HOUR, 35, counts(300));
  const fiveMin = series(300_000, 28, counts(400));
  const daily = series(DAY, 400, (_s, r) => Math.round(5000 * (1 + 0.1 * (r() + r() - 1))));
  /** Hourly page views whose noise grows with the level (10 % of it): not counts, a quiet hour's scale is not the peak's. */
  const views = series(HOUR, 35, (s, r) => Math.round(2400 * s * Math.exp(0.2 * (r() + r() + r() - 1.5))));
  const latency = series(300_000, 21, (s, r) => 120 + 40 * s + 15 * (r() + r() + r() - 1.5));
  it.each([
    ['hourly counts', hourly],
    ['5-minute counts', fiveMin],
    ['hourly counts with a 3-day gap', hourly.filter((_, i) => i < 20 * 24 || i >= 23 * 24)],
    ['5-minute counts jittered by up to 2 minutes, 1 row in 7 missing', fiveMin.map((p, i) => ({ ...p, t: p.t + ((i * 7919) % 240) * 1000 - 120_000 })).filter((_, i) => i % 7 !== 3)],
    ['very low counts (1.5 at the peak)', series(HOUR, 35, counts(1.5))],
    ['very high counts (5e7 at the peak, 1 % noise)', series(HOUR, 35, (s, r) => Math.round(5e7 * s * (1 + 0.02 * (r() - 0.5))))],
    ['daily counts with 10 % day-to-day noise', daily],
    ['two days of 5-minute counts (only the fallbacks)', fiveMin.slice(0, 2 * 288)],
    ['5-minute latencies in ms (not counts)', latency],
    ['hourly page views, noise 10 % of the level (not counts)', views],
    ['1-minute CPU % (not counts)', series(60_000, 8, (s, r) => Math.min(100, 20 + 50 * s + 5 * (r() - 0.5)))],
  ])('%s: nothing on clean data', (_n, pts) => expect(alerts(pts)).toEqual([]));

  it.each([
    ['hourly counts, -60 % for 3 hours', hourly, 30 * 24 + 12, 3, 0.4, HOUR],
    ['5-minute counts, +200 % for 30 minutes', fiveMin, 24 * 288 + 144, 6, 3, 300_000],
    ['daily counts, -60 % for 3 days', daily, 300, 3, 0.4, DAY],
    ['latencies x3 for 30 minutes', latency, 17 * 288 + 100, 6, 3, 300_000],
    ['hourly page views x3 for 2 quiet evening hours', views, 29 * 24 + 19, 2, 3, HOUR],
    ['hourly page views x3 for 2 hours before noon', views, 24 * 24 + 10, 2, 3, HOUR],
    ['hourly page views x2 for 2 evening hours', views, 29 * 24 + 20, 2, 2, HOUR],
    ['hourly page views -60 % for 3 hours from 15:00', views, 31 * 24 + 15, 3, 0.4, HOUR],
    ['hourly page views -60 % for 3 hours from 02:00', views, 31 * 24 + 2, 3, 0.4, HOUR],
  ])('%s: one alert, in it', (_n, pts, from, length, f, step) => {
    const found = alerts(scaled(pts, from, from + length, f).map((p) => ({ ...p, value: Number.isInteger(pts[0].value) ? Math.round(p.value) : p.value })));
    expect(found).toHaveLength(1);
    expect(found[0]).toBeGreaterThanOrEqual(pts[from].t);
    expect(found[0]).toBeLessThanOrEqual(pts[from].t + (length + 3) * step);
  });
});
