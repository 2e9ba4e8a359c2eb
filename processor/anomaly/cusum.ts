/**
 * A one-sided Poisson CUSUM: the sequential test for "these counts have fallen to `ratio` times
 * their expectation", which accumulates evidence window after window instead of judging each
 * window alone. Each window adds its log-likelihood ratio
 *
 *     llr(x; mu) = x ln(ratio) + (1 - ratio) mu      (x observed, mu expected, no x! term: it cancels)
 *
 * and the statistic is S = max(0, S + llr): it stays near 0 while counts are as expected (the
 * mean llr is mu (ln ratio + 1 - ratio) < 0) and climbs by mu (1 - ratio + ratio ln ratio) per
 * window once they have fallen (0.30 mu for a fall to a third). An alarm is S >= threshold; by
 * Wald's bound the windows between false alarms are at least e^threshold on average, so the
 * threshold is set from the false-alert budget (e^11: one in 60,000 windows, 208 days of 5-minute
 * windows). Page's CUSUM detects a sustained change with the fewest windows for a given false-alarm
 * rate (Lorden, Moustakides), which a k-of-n rule on per-window scores does not.
 *
 * Used for purchases given the window's visitors (mu = the usual conversion x visitors): counts of
 * a few per window, where one window is never evidence enough. Pure and deterministic.
 */

export interface CusumOptions {
  /** The fall tested for, as observed / expected (0 < ratio < 1): 1/3 for "conversion to a third". */
  ratio: number;
  /** Alarm at S >= threshold (nats). */
  threshold: number;
  /**
   * S is held at most at cap x threshold, so that a long incident's evidence drains in a bounded
   * time after it ends (the alarm stays up while S >= threshold: one episode, one alert).
   */
  cap: number;
}

export const DEFAULT_CUSUM: CusumOptions = { ratio: 1 / 3, threshold: 11, cap: 1.5 };

/** The log-likelihood ratio of x counts for a mean of ratio x mu against a mean of mu. */
export function poissonFallLlr(x: number, mu: number, ratio: number): number {
  if (!(mu > 0)) return 0;
  return Math.max(x, 0) * Math.log(ratio) + (1 - ratio) * mu;
}

export interface CusumStep {
  /** The statistic after this window (nats). */
  stat: number;
  /** This window's log-likelihood ratio. */
  llr: number;
  /** S >= threshold. */
  alarm: boolean;
  /** Windows since S last left 0 (the evidence's span; 0 when S is 0). */
  run: number;
}

export class PoissonCusum {
  readonly options: CusumOptions;
  private s = 0;
  private span = 0;

  constructor(options: Partial<CusumOptions> = {}) {
    this.options = { ...DEFAULT_CUSUM, ...options };
    const { ratio, threshold, cap } = this.options;
    if (!(ratio > 0 && ratio < 1)) throw new Error(`CUSUM ratio must be between 0 and 1, got ${ratio}`);
    if (!(threshold > 0) || !(cap >= 1)) throw new Error('CUSUM threshold must be positive and cap at least 1');
  }

  /** Called once per window, in time order, with its count and expectation (not finite or <= 0: no evidence). */
  push(observed: number, expected: number): CusumStep {
    const llr = Number.isFinite(expected) ? poissonFallLlr(observed, expected, this.options.ratio) : 0;
    this.s = Math.min(Math.max(0, this.s + llr), this.options.cap * this.options.threshold);
    this.span = this.s > 0 ? this.span + 1 : 0;
    return { stat: this.s, llr, alarm: this.s >= this.options.threshold, run: this.span };
  }

  /** Called when the counts cannot be judged (a spike's visitors who do not buy): the evidence so far is dropped. */
  reset() {
    this.s = 0;
    this.span = 0;
  }

  get stat(): number {
    return this.s;
  }
}
