/**
 * The site-level detector's building blocks, for any series of (time, value) points, regular or
 * irregular:
 *
 * - `SeasonalBaseline` (seasonal-baseline.ts): what a point should be, from the same slot of the week in the last weeks
 *   (median of that slot and its two neighbours over up to 4 weeks), falling back to the same slot
 *   of the day over the last 7 days while less than a week is known, and to the median of the last
 *   points before that.
 * - `DeviationScorer`: how surprising an observed value is against its expectation, on several
 *   time scales at once (the sums of the last 1, 2, 4 ... points), so that a small shortfall that
 *   lasts is found as well as a large one-point jump. Counts are treated as Poisson (variance =
 *   mean, via the Anscombe square root), plus a relative "level" noise learned from the history
 *   (how far whole hours usually stray from their expectation), so that ordinary day-to-day
 *   variation (a quiet holiday) stays under the threshold while a sudden -60 % does not.
 *   A window is anomalous when its score passes `threshold`; a point is flagged when `k` of the
 *   last `n` windows were anomalous in the same direction (one noisy window pages nobody), or,
 *   with `sumsAsWindows`, when its winning sum spans k to n windows that all lean that way.
 *
 * Both together over one series, with the step inferred: series-detector.ts (`scoreSeries`).
 *
 * Pure and deterministic: the output depends only on the points, in order.
 */
import { MAD_TO_SD, median, poissonZ } from './stats.js';
import { fitLevelScale, fitLogScale, logRatio, logScaleAt, scaleAt, type LevelScale, type LogScale } from './residual-scale.js';
import type { Envelope } from './seasonal-baseline.js';
import { TailCalibration } from './tail-calibration.js';


export interface ScorerOptions {
  /** |score| at which one window counts as anomalous. */
  threshold: number;
  /** Flag when k of the last n windows were anomalous in the same direction. */
  k: number;
  n: number;
  /** Sums of this many consecutive points are scored too; the largest |score| wins. */
  scales: number[];
  /** Values are counts (Poisson noise). Otherwise the noise scale is learned from the residuals. */
  counts: boolean;
  /** Relative level noise never assumed below this. */
  minLevelNoise: number;
  /**
   * How many past (observed, expected) points the level noise is learned from. Level noise is
   * mostly day-to-day (a whole day runs high or low), so this should span weeks: a week holds only
   * seven independent days, too few to tell a holiday from an incident.
   */
  levelHistory: number;
  /** Which deviations matter. */
  direction: 'both' | 'up' | 'down';
  /**
   * Relevance floors on the size of a deviation, as observed / expected of the sum that scores it,
   * beyond Poisson noise (the ratio's 2-sigma bound must pass them): a rise counts only at
   * `minRise` or more, a fall only at `maxFall` or less (1 and 1: any). Day
   * to day, whole days run 20-30 % high or low (a holiday, a quiet night); that can be as
   * improbable as an incident when the history is calm, but it is not one. Counts only.
   */
  minRise: number;
  maxFall: number;
  /**
   * A sum over k to n windows that all lean the anomaly's way counts as k anomalous windows (it
   * is k windows of evidence, not one noisy window). For small counts (purchases), whose
   * shortfall shows only in sums, it saves the window the k-of-n rule would otherwise wait for;
   * for large ones (traffic), where one window decides, it would only let noise through.
   */
  sumsAsWindows: boolean;
  /**
   * Counts only: half-life, in points, of the local level, the information-weighted moving average
   * of log(observed / expected) over the points that were not anomalous; the expectation is scaled
   * by it (0: off). A whole day running high or low (day-to-day level noise, a holiday) is then
   * part of the expectation instead of noise, so the noise left is the within-day one and a sudden
   * -60 % stands out in its first window. An incident is no part of it (its windows are anomalous);
   * a change slower than the half-life is, by design (a ramp is not an incident).
   */
  levelHalfLife: number;
  /**
   * Points with an expectation during which nothing is anomalous, so that every one of them teaches
   * the noise (0: none). Without it a new series is judged against the assumed minimum noise, and
   * its first hours (a daily ramp against the median of the last points) are all anomalous, so
   * never learned from: the noise stays at its minimum. The processor starts from weeks of history.
   */
  warmup: number;
  /**
   * Scores are divided by what the series' own 1 % tails say of the model (tail-calibration.ts),
   * per scale and side, so that noise far beyond the model's (bursty counts, a series at rest at
   * zero) does not score as an incident at every ordinary burst.
   */
  calibrate: boolean;
  /**
   * Measurements only: a sum that holds windows already found anomalous counts for this window
   * only if the windows not yet found anomalous reach this share of `threshold` on their own, the
   * same way (0: off). Otherwise one spike makes its next, barely high window anomalous through
   * their 2-point sum, and the k-of-n rule meant to ignore one noisy window raises it a window
   * late (a tweet burst). Counts keep their sums: purchases stopping at a few expected a window
   * are anomalous only in sums over several empty windows.
   */
  freshEvidence: number;
  /**
   * Measurements only: one window whose own score reaches this multiple of `threshold` is flagged
   * without waiting for k (0: off). A single point far beyond the series' calibrated tails is no
   * noise; without `freshEvidence` its echo raised it a window late. Counts keep the k-of-n rule:
   * the processor judges a traffic spike's conversions at its k-th window (a flash sale).
   */
  extremeWindow: number;
}

export const DEFAULT_SCORER: ScorerOptions = {
  threshold: 4,
  k: 2,
  n: 3,
  scales: [1, 2, 4, 8, 12],
  counts: true,
  minLevelNoise: 0.05,
  levelHistory: 8064,
  direction: 'both',
  minRise: 1,
  maxFall: 1,
  sumsAsWindows: false,
  levelHalfLife: 0,
  warmup: 0,
  calibrate: true,
  freshEvidence: 1,
  extremeWindow: 2,
};

export interface Score {
  /** The expectation the point was scored against: the given one times the local level (counts with `levelHalfLife`). */
  expected: number;
  /** Signed: positive above the expectation, negative below. 0 when nothing is expected yet. */
  score: number;
  /** How many consecutive points the winning score sums. */
  scale: number;
  anomalous: boolean;
  /** k of the last n windows anomalous in this window's direction, or (sumsAsWindows) a sum of k to n leaning windows anomalous. */
  flag: boolean;
}

export class DeviationScorer {
  readonly options: ScorerOptions;
  /** The last points: observed, expected, seasonal expectation (without the local level), own direction, and direction if anomalous (else 0). */
  private readonly recent: { o: number; e: number; s: number; own: number; dir: number }[] = [];
  private readonly history: { o: number; e: number; q: number }[] = [];
  private levelNoise: number;
  private sinceFit = 0;
  /** Points scored against an expectation so far (for the warm-up). */
  private scored = 0;
  /** Measurements: the residual scale by expected level (residual-scale.ts); null until fitted. */
  private residualFit: LevelScale | null = null;
  /** Positive measurements: their log ratios' scale (residual-scale.ts), which then scores them; null otherwise. */
  private logFit: LogScale | null = null;
  /** Noise fits since the residual scale was last fitted. */
  private sinceScale = 0;
  /** Local level: decayed sums of information-weighted log ratios and of their weights. */
  private levelSum = 0;
  private levelWeight = 0;
  /** A prior of two points at level 0, fading, so that the first points do not set the level alone. */
  private levelPrior = 0;
  private readonly calibration: TailCalibration;

  constructor(options: Partial<ScorerOptions> = {}) {
    this.options = { ...DEFAULT_SCORER, ...options };
    this.levelNoise = this.options.minLevelNoise;
    this.calibration = new TailCalibration({ scales: this.options.scales, history: this.options.levelHistory, minPoints: 200 });
  }

  /** The score of a sum of m points, divided by the calibration factor of its scale and side. */
  private calibrated(so: number, se: number, m: number): number {
    const z = this.z(so, se, m);
    return this.options.calibrate ? z / this.calibration.factor(m, z) : z;
  }

  /**
   * Called once per point, in time order, with its observed and expected value (NaN: none), and
   * how good that expectation is (higher is better: the seasonal baseline's week > day > recent),
   * and for measurements the usual range of the same time of day (`SeasonalBaseline.envelope`).
   */
  push(observed: number, seasonal: number, quality = 0, envelope?: Envelope): Score {
    const o = this.options;
    const expected = Number.isFinite(seasonal) ? seasonal * Math.exp(this.level) : seasonal;
    let best = 0;
    let bestScale = 1;
    /** The best score among the sums whose size passes the relevance floors. */
    let relevant = 0;
    let relevantScale = 1;
    const own = Number.isFinite(expected) ? this.calibrated(observed, expected, 1) : 0;
    if (Number.isFinite(expected)) {
      const maxScale = Math.max(...o.scales);
      // Windows already found anomalous stop counting once they leave the k-of-n horizon: an
      // incident that ended must not echo through the longer sums after it.
      const keepFrom = this.recent.length - (o.n - 1);
      const window = [...this.recent.filter((p, i) => p.dir === 0 || i >= keepFrom).slice(-(maxScale - 1)), { o: observed, e: expected, s: seasonal, own: Math.sign(own), dir: 0 }];
      for (const m of o.scales) {
        if (m > window.length) break;
        let so = 0;
        let se = 0;
        let ss = 0;
        let up = 0;
        let down = 0;
        let fo = 0;
        let fe = 0;
        let fm = 0;
        for (let i = window.length - m; i < window.length; i++) {
          so += window[i].o;
          se += window[i].e;
          ss += window[i].s;
          if (window[i].own > 0) up++;
          if (window[i].own < 0) down++;
          if (window[i].dir === 0) {
            fo += window[i].o;
            fe += window[i].e;
            fm++;
          }
        }
        const z = this.calibrated(so, se, m);
        // A sum counts only if most of its windows lean its way: a past spike alone does not.
        if ((z > 0 ? up : down) < Math.ceil(0.75 * m)) continue;
        if (!o.counts && o.freshEvidence > 0 && fm < m) {
          const fz = this.calibrated(fo, fe, fm);
          if (Math.sign(fz) !== Math.sign(z) || Math.abs(fz) < o.freshEvidence * o.threshold) continue;
        }
        if (Math.abs(z) > Math.abs(best)) {
          best = z;
          bestScale = m;
        }
        // The size floors hold with Poisson noise taken out (a 2-sigma bound of the ratio): at
        // night, a few windows of small counts fall to half by chance on an ordinary quiet night.
        const lowRatio = (so + 0.5 - 2 * Math.sqrt(so + 1)) / (se + 0.5);
        const highRatio = (so + 0.5 + 2 * Math.sqrt(so + 1)) / (se + 0.5);
        // A fall must also be one against the seasonal expectation alone: the local level carries
        // a day that ran high into the first hours of the next, against
        // which an ordinary or a holiday morning would look like a drop.
        const relevantSize = !o.counts || (z > 0 ? lowRatio >= o.minRise : highRatio <= o.maxFall && !(so > o.maxFall * ss));
        if (relevantSize && Math.abs(z) > Math.abs(relevant)) {
          relevant = z;
          relevantScale = m;
        }
      }
    }
    const dirOk = (d: number) => o.direction === 'both' || (o.direction === 'up' ? d > 0 : d < 0);
    // A window is anomalous only if it deviates itself: a past spike echoes in the longer sums.
    const dir = Math.sign(relevant);
    if (Number.isFinite(expected)) this.scored++;
    // Measurements only: a point not beyond what the same time of day reached on two of the last
    // days (a periodic spike that drifts by a step or two, a series back at its resting value),
    // by the same one unit of score a window must deviate by itself, is no incident.
    const edge = dir > 0 ? envelope?.high : envelope?.low;
    const usual = !o.counts && edge !== undefined && Number.isFinite(edge) && dir * this.calibrated(observed, edge, 1) < 1;
    const anomalous = this.scored > o.warmup && Math.abs(relevant) >= o.threshold && Math.sign(own) === dir && Math.abs(own) >= 1 && dirOk(dir) && !usual;
    if (anomalous) {
      best = relevant;
      bestScale = relevantScale;
    }
    this.recent.push({ o: observed, e: Number.isFinite(expected) ? expected : observed, s: Number.isFinite(seasonal) ? seasonal : observed, own: Math.sign(own), dir: anomalous ? dir : 0 });
    if (this.recent.length > 4 * Math.max(Math.max(...o.scales), o.n)) this.recent.shift();
    const last = this.recent.slice(-o.n);
    const leaning = o.sumsAsWindows && bestScale >= o.k && bestScale <= o.n && this.recent.slice(-bestScale).every((p) => p.own === dir);
    const extreme = o.extremeWindow > 0 && !o.counts && Math.abs(own) >= o.extremeWindow * o.threshold;
    const flag = anomalous && (last.filter((p) => p.dir === dir).length >= o.k || leaning || extreme);
    if (Number.isFinite(expected) && o.calibrate) this.calibration.push(observed, expected, (so, se, m) => this.z(so, se, m, false));
    if (Number.isFinite(expected) && !anomalous) {
      this.learnLevel(observed, seasonal);
      this.history.push({ o: observed, e: expected, q: quality });
      // Trimmed in chunks: shifting weeks of points one by one costs more than scoring them.
      if (this.history.length > this.options.levelHistory + 1024) this.history.splice(0, this.history.length - this.options.levelHistory);
      if (++this.sinceFit >= 12) this.fitNoise();
    }
    return { expected, score: best, scale: bestScale, anomalous, flag };
  }

  /** The local level's log factor (0 when off or nothing learned yet). */
  private get level(): number {
    return this.levelWeight > 0 ? this.levelSum / (this.levelWeight + this.levelPrior) : 0;
  }

  private learnLevel(observed: number, seasonal: number) {
    const h = this.options.levelHalfLife;
    if (!this.options.counts || !(h > 0) || !(seasonal >= 0)) return;
    const decay = 0.5 ** (1 / h);
    // Weighted by what the point says about the level: Poisson noise plus the level noise left.
    const w = 1 / (1 / (seasonal + 0.5) + this.levelNoise ** 2);
    this.levelSum = decay * this.levelSum + w * Math.log((Math.max(observed, 0) + 0.5) / (seasonal + 0.5));
    this.levelWeight = decay * this.levelWeight + w;
    // Set on the first point and fading with the same decay: it weighs only while little is known.
    this.levelPrior = this.levelPrior === 0 && this.levelWeight === w ? 2 * w : decay * this.levelPrior;
  }

  /**
   * Signed surprise of `so` observed against `se` expected, summed over m points. For counts, the
   * smaller of two: the Poisson surprise alone (its exact tail, `poissonZ`), which
   * is right for small counts, and the log ratio against Poisson plus level noise, which is right
   * for large ones (a -60 % and a +150 % are then equally far from normal).
   */
  private z(so: number, se: number, m: number, exact = true): number {
    if (this.options.counts) {
      const o = Math.max(so, 0);
      const e = Math.max(se, 0);
      // The square-root approximation where only the tails of many scores are wanted (calibration).
      const poisson = exact ? poissonZ(o, e) : 2 * (Math.sqrt(o + 0.375) - Math.sqrt(e + 0.375));
      const level = Math.log((o + 0.5) / (e + 0.5)) / Math.sqrt(1 / (e + 0.5) + this.levelNoise ** 2);
      return Math.sign(level) * Math.min(Math.abs(poisson), Math.abs(level));
    }
    if (this.logFit && so < se) return logRatio(this.logFit, so, se, m) / Math.sqrt(logScaleAt(this.logFit, se / m) ** 2 / m + this.levelNoise ** 2);
    if (!this.residualFit) return 0;
    const sd = scaleAt(this.residualFit, se / m);
    const variance = m * sd * sd + (this.levelNoise * se) ** 2;
    return variance > 0 ? (so - se) / Math.sqrt(variance) : 0;
  }

  /**
   * Learns the level noise from blocks of the largest scale in the history: the spread of their
   * log ratios (relative residuals for other values), minus what Poisson (or point) noise explains.
   */
  private fitNoise() {
    this.sinceFit = 0;
    const o = this.options;
    const all = this.history.length > o.levelHistory ? this.history.slice(-o.levelHistory) : this.history;
    const m = Math.max(...o.scales);
    // The noise of the expectation in use: once a quarter of the history has the best expectation
    // (a week of same-slot-of-the-week medians), the residuals of the cruder ones (the same slot
    // of the day, which mixes weekdays and weekends) would make every incident look ordinary.
    const q = all.length ? all[all.length - 1].q : 0;
    const best = all.filter((p) => p.q === q);
    const history = best.length >= Math.max(6 * m, o.levelHistory / 4) ? best : all;
    // The residual scales too, from the same history. Refitted once 2 % of the history is new (a fit sorts all of it): at every fit, four weeks of
    // 1-minute points took minutes.
    if (!o.counts && (++this.sinceScale >= all.length / 600 || !this.residualFit)) {
      const r = history.map((p) => p.o - p.e);
      if (r.length >= 12) {
        this.residualFit = fitLevelScale(r, history.map((p) => p.e));
        this.logFit = fitLogScale(history.map((p) => p.o), history.map((p) => p.e));
        this.sinceScale = 0;
      }
    }
    const rel: number[] = [];
    const explained: number[] = [];
    for (let i = history.length % m; i + m <= history.length; i += m) {
      let so = 0;
      let se = 0;
      for (let j = i; j < i + m; j++) {
        so += history[j].o;
        se += history[j].e;
      }
      if (se <= 0) continue;
      if (o.counts) {
        rel.push(Math.log((so + 0.5) / (se + 0.5)));
        explained.push(1 / (se + 0.5));
      } else if (this.logFit) {
        rel.push(logRatio(this.logFit, so, se, m));
        explained.push(logScaleAt(this.logFit, se / m) ** 2 / m);
      } else {
        rel.push((so - se) / se);
        explained.push(this.residualFit ? (m * scaleAt(this.residualFit, se / m) ** 2) / (se * se) : NaN);
      }
    }
    if (rel.length < 6) return;
    const med = median(rel);
    const total = (MAD_TO_SD * median(rel.map((x) => Math.abs(x - med)))) ** 2;
    const rest = total - median(explained);
    this.levelNoise = Math.max(o.minLevelNoise, Math.sqrt(Math.max(rest, 0)));
  }

  /** The relative level noise currently assumed (for evidence and tuning). */
  get noise(): number {
    return this.levelNoise;
  }
}

export { residualScale } from './residual-scale.js';

/** Points in the local level's half-life: two hours (whole days run high or low; an incident is sudden), at least 3 points. */
export function localLevelHalfLife(stepMs: number): number {
  return Math.max(3, Math.round((2 * 3_600_000) / stepMs));
}
