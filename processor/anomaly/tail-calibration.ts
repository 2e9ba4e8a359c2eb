/**
 * How far a scorer's scores are from what they claim, learned from the series itself: the 1st and
 * 99th percentiles of its scores, on each time scale, over the recent history of every point
 * (anomalous or not), against the normal's ±2.326. A model that fits (Poisson counts, normal
 * residuals) gives factors of 1 and changes nothing; one that understates the noise (tweets whose
 * bursts are far beyond Poisson, a series at rest at zero with ordinary bursts, travel times read
 * as counts) gives factors above 1 that shrink its scores, on the side and the scale where it
 * errs, until its ordinary tails are no further out than TAIL_SLACK times the normal's. Never below
 * 1: a model is never made bolder than it is. Pure and deterministic: the factors depend only on the points pushed, in order.
 */
import { quantile } from './stats.js';

/** The normal's 99th percentile: what the scores' 1 % tails should reach if the model were right. */
const NORMAL_Q99 = 2.3263;
/**
 * How far the tails may stray before the model is distrusted: a factor is applied only beyond 2x,
 * and then divided by 2. A model that is roughly right (the processor's Poisson windows, whose 1 %
 * tails wander a little with the history) is left exactly as it is; one whose tails are 5x too
 * short is shrunk 2.5x. Chosen on the tuning half of NAB (bench/README.md): 1 (full calibration)
 * lost labelled windows found before, 2 kept all but one of them and removed 2/3 of the false alerts.
 */
export const TAIL_SLACK = 2;

export interface TailCalibrationOptions {
  /** The scorer's scales (sums of this many consecutive points). */
  scales: readonly number[];
  /** Points kept (the scorer's level history). */
  history: number;
  /** Fewest points before any factor is learned (a 1 % tail needs a few points beyond it). */
  minPoints: number;
}

export class TailCalibration {
  private readonly points: { o: number; e: number }[] = [];
  private readonly factors = new Map<number, { up: number; down: number }>();
  private sinceFit = 0;

  constructor(private readonly options: TailCalibrationOptions) {}

  /** The factor a score of this scale and sign is divided by (1 until learned). */
  factor(m: number, sign: number): number {
    const f = this.factors.get(m);
    return f ? (sign >= 0 ? f.up : f.down) : 1;
  }

  /**
   * Called once per scored point with its observed and expected value. `rawZ` is the scorer's
   * uncalibrated score of a sum of m points; the factors are refitted once 5 % of the history is
   * new (a fit scores and sorts all of it once per scale).
   */
  push(o: number, e: number, rawZ: (so: number, se: number, m: number) => number) {
    this.points.push({ o, e });
    if (this.points.length > this.options.history + 1024) this.points.splice(0, this.points.length - this.options.history);
    if (++this.sinceFit < Math.max(12, Math.min(this.points.length, this.options.history) / 20)) return;
    this.sinceFit = 0;
    const all = this.points.length > this.options.history ? this.points.slice(-this.options.history) : this.points;
    if (all.length < this.options.minPoints) return;
    for (const m of this.options.scales) {
      if (all.length < m + this.options.minPoints) continue;
      const zs: number[] = [];
      let so = 0;
      let se = 0;
      for (let i = 0; i < all.length; i++) {
        so += all[i].o;
        se += all[i].e;
        if (i >= m) {
          so -= all[i - m].o;
          se -= all[i - m].e;
        }
        if (i >= m - 1) zs.push(rawZ(so, se, m));
      }
      this.factors.set(m, {
        up: Math.max(1, quantile(zs, 0.99) / NORMAL_Q99 / TAIL_SLACK),
        down: Math.max(1, -quantile(zs, 0.01) / NORMAL_Q99 / TAIL_SLACK),
      });
    }
  }
}
