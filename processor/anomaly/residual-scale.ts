/**
 * The noise scale of measurements' residuals (series not scored as counts), as a function of the
 * expected level. Web traffic, tweets and most gauges are noisier where they run higher (noise
 * proportional to the level, not constant): one scale for the whole series, set by the busy hours,
 * scored a night-time tripling or a -60 % at a quiet hour at 3-4 (missed), and the busy hours'
 * ordinary swings against a scale no larger than the day's. So the residuals are split by their
 * expectation into `LEVEL_BINS` groups of equal size, each gets its own robust scale, and a point's
 * scale is read between the groups' typical levels. A series whose noise does not depend on its
 * level gets about the same scale in every group, so about the same scores.
 *
 * Pure and deterministic.
 */
import { MAD_TO_SD, mad, median } from './stats.js';

/** Groups of residuals by expected level: four, so each holds a quarter of weeks of points. */
export const LEVEL_BINS = 4;

/**
 * A group's scale is kept within this factor of the whole series' scale, both ways: a quiet
 * group's scale from a few distinct values (a gauge at rest) must not make every change there
 * a score of hundreds.
 */
export const LEVEL_SCALE_RANGE = 4;

/**
 * The noise scale of non-count residuals: 1.4826 x MAD, or, when more than half of them are 0 (a
 * series that is mostly flat, such as a gauge at rest), the mean absolute deviation (x 1.2533, its
 * ratio to the SD for normal data), never below 0.1 % of the typical expectation: a MAD of 0 would
 * make every change, however small, a score of millions.
 */
export function residualScale(residuals: readonly number[], expected: readonly number[]): number {
  const centre = median(residuals);
  const spread = MAD_TO_SD * mad(residuals, centre);
  const mean = residuals.reduce((a, x) => a + Math.abs(x - centre), 0) / residuals.length;
  const floor = 1e-3 * median(expected.map(Math.abs));
  return Math.max(spread > 0 ? spread : 1.2533 * mean, Number.isFinite(floor) ? floor : 0, 1e-9);
}

/** Residual scale by expected level: the groups' typical levels (ascending) and their scales. */
export interface LevelScale {
  levels: number[];
  scales: number[];
  /** The whole series' scale (`residualScale` over every residual). */
  overall: number;
}

/**
 * Fits the scale per level group (fewer than 12 residuals a group: one scale for all). `relative`:
 * the residuals are already relative (log ratios), their floor is 0.1 % (not of the level).
 */
export function fitLevelScale(residuals: readonly number[], expected: readonly number[], relative = false): LevelScale {
  const basis = (e: readonly number[]) => (relative ? e.map(() => 1) : e);
  const overall = residualScale(residuals, basis(expected));
  const per = Math.floor(residuals.length / LEVEL_BINS);
  if (per < 12) return { levels: [0], scales: [overall], overall };
  const order = residuals.map((_, i) => i).sort((a, b) => expected[a] - expected[b]);
  const levels: number[] = [];
  const scales: number[] = [];
  for (let b = 0; b < LEVEL_BINS; b++) {
    const idx = order.slice(b * per, b === LEVEL_BINS - 1 ? order.length : (b + 1) * per);
    const e = idx.map((i) => expected[i]);
    const s = residualScale(
      idx.map((i) => residuals[i]),
      basis(e),
    );
    levels.push(median(e));
    scales.push(Math.min(LEVEL_SCALE_RANGE * overall, Math.max(overall / LEVEL_SCALE_RANGE, s)));
  }
  return { levels, scales, overall };
}

/** The scale at an expected level: linear between the groups' typical levels, the end groups' beyond them. */
export function scaleAt(fit: LevelScale, level: number): number {
  const { levels, scales } = fit;
  if (!(level > levels[0])) return scales[0];
  for (let i = 1; i < levels.length; i++) {
    if (level <= levels[i]) {
      const span = levels[i] - levels[i - 1];
      const w = span > 0 ? (level - levels[i - 1]) / span : 1;
      return scales[i - 1] + w * (scales[i] - scales[i - 1]);
    }
  }
  return scales[scales.length - 1];
}

/**
 * A series of positive measurements is scored on log ratios (observed / expected): web traffic,
 * latencies and prices vary by a share of their level, so a -60 % (log 0.4 = -0.92) and a +150 %
 * (log 2.5 = +0.92) are equally far from normal, where on differences a -60 % at the busiest hour,
 * scored against the same scale as ordinary rises, stayed under the threshold. Only when at most
 * `LOG_MAX_NONPOSITIVE` of the observations and expectations are 0 or below (a gauge at rest at 0
 * and small counts keep their differences); `floor` (1 % of the typical expectation, per point)
 * keeps an odd 0 finite.
 */
export const LOG_MAX_NONPOSITIVE = 0.01;

export interface LogScale {
  /** Robust scale of one point's log ratio, by expected level (Poisson-like noise is relatively smaller where the level is higher). */
  scale: LevelScale;
  /** Added to observed and expected, per point summed, before their log ratio. */
  floor: number;
}

/** The log-ratio scale of positive measurements, or null when the series is not positive enough. */
export function fitLogScale(observed: readonly number[], expected: readonly number[]): LogScale | null {
  const n = observed.length;
  const nonPositive = observed.reduce((a, o, i) => a + (o > 0 && expected[i] > 0 ? 0 : 1), 0);
  if (n < 12 || nonPositive > LOG_MAX_NONPOSITIVE * n) return null;
  const floor = 0.01 * median(expected.map(Math.abs));
  if (!(floor > 0)) return null;
  const r = observed.map((o, i) => Math.log((Math.max(o, 0) + floor) / (Math.max(expected[i], 0) + floor)));
  return { scale: fitLevelScale(r, expected, true), floor };
}

/** The log-ratio scale of one point at an expected level. */
export function logScaleAt(fit: LogScale, level: number): number {
  return scaleAt(fit.scale, level);
}

/** Signed log ratio of a sum of m points, observed against expected, with the per-point floor. */
export function logRatio(fit: LogScale, so: number, se: number, m: number): number {
  return Math.log((Math.max(so, 0) + m * fit.floor) / (Math.max(se, 0) + m * fit.floor));
}
