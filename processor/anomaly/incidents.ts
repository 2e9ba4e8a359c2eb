/**
 * Flags grouped into incidents, for measurements scored by `anomaly:score` (series not scored as
 * counts: tweet volumes, latencies, a gauge at rest at zero). Two rules, both about what one alert
 * is worth to whoever reads it:
 *
 * - One alert per incident: a flag within `cooldownMs` of the incident's last flag continues it
 *   instead of raising another alert, and only the incident's opening run (its first flag and the
 *   flags right after it) stays flagged. A burst that comes and goes for hours is one incident, not
 *   one alert per surge; the points flagged are those worth a look, not hours of them (a scorer
 *   counting every flagged point outside a labelled window as a false alarm, as NAB's does, is not
 *   charged for the incident's later surges).
 * - A new incident needs a new kind of deviation: a flag that starts one must score beyond every
 *   score of the same sign in the last `noveltyMs` before it (leaving out its own last `n` points,
 *   its ramp). A series whose ordinary day holds bursts as large (tweets after every news item, a
 *   key flapping from its resting zero) has shown them to be its normal; a larger one, or one the
 *   series has not shown for a day, is still raised at once.
 * - Nor a deviation the series makes most days: it must also score beyond what the series reached
 *   (same sign) on `repeatDays` separate days of the `repeatMs` before that last day. Tweet volumes
 *   burst after news every day or two, and yesterday's quiet day let the next ordinary burst
 *   through the one-day rule; a burst as large as one the series made on two of the days before
 *   is its normal, whatever happened yesterday.
 *
 * Counts (the processor's site series) keep the k-of-n episode rule alone: their Poisson model
 * fits, so a repeat is as improbable as the first burst. Pure and deterministic.
 */

export interface IncidentOptions {
  /** A flag this close after an incident's last flag continues it. */
  cooldownMs: number;
  /** How far back a new incident's score is compared with the series' own scores (0: off). */
  noveltyMs: number;
  /**
   * How far back (before the last `noveltyMs`) the days the series already deviated as much on are
   * counted (0: off), and how many such days make a deviation ordinary.
   */
  repeatMs: number;
  repeatDays: number;
  /** Points before a flag left out of the comparison (the k-of-n horizon: the burst's own ramp). */
  n: number;
}

/**
 * Chosen on NAB's tuning half (bench/README.md): 6 h of cooldown and a day of novelty kept every
 * labelled window found and cut false alerts by half; two days lost windows. Repeats on 2 days of
 * the 5 before (4 days before the last one): false alerts 64 -> 50, every window still found; 6
 * and 7 days lost one and two (a key at rest at zero, a CPU switching between two levels).
 */
export const DEFAULT_INCIDENTS: Omit<IncidentOptions, 'n'> = { cooldownMs: 6 * 3_600_000, noveltyMs: 86_400_000, repeatMs: 5 * 86_400_000, repeatDays: 2 };

export interface IncidentMark {
  /** The point is flagged: it opened an incident, or the flags since its opening had no gap. */
  flag: boolean;
  /** It started one: the alert. */
  opened: boolean;
  /** Number of the incident the scorer's flag belongs to (0-based), -1 when none. */
  incident: number;
}

const DAY = 86_400_000;

export class IncidentTracker {
  private readonly past: { t: number; score: number }[] = [];
  private lastFlag = -Infinity;
  private count = 0;
  private inOpeningRun = false;

  constructor(readonly options: IncidentOptions) {}

  /** Called once per point, in time order, with its signed score and the scorer's flag. */
  push(t: number, score: number, flag: boolean): IncidentMark {
    const o = this.options;
    let mark: IncidentMark = { flag: false, opened: false, incident: -1 };
    if (flag && t - this.lastFlag <= o.cooldownMs) mark = { flag: this.inOpeningRun, opened: false, incident: this.count - 1 };
    else if (flag && this.novel(t, score)) mark = { flag: true, opened: true, incident: this.count++ };
    if (mark.incident >= 0) this.lastFlag = t;
    this.inOpeningRun = mark.flag;
    this.past.push({ t, score });
    const horizon = Math.max(o.noveltyMs, o.repeatMs);
    while (this.past.length && this.past[0].t < t - horizon) this.past.shift();
    return mark;
  }

  private novel(t: number, score: number): boolean {
    const o = this.options;
    if (!(o.noveltyMs > 0)) return true;
    const end = this.past.length - o.n;
    // Days (counted back from the last noveltyMs) on which the series scored as far, same sign.
    const repeatedOn = new Set<number>();
    for (let i = 0; i < end; i++) {
      const p = this.past[i];
      if (Math.sign(p.score) !== Math.sign(score) || Math.abs(p.score) < Math.abs(score)) continue;
      if (p.t >= t - o.noveltyMs) return false;
      if (o.repeatMs > 0 && p.t >= t - o.repeatMs) repeatedOn.add(Math.floor((t - o.noveltyMs - p.t) / DAY));
    }
    return !(o.repeatMs > 0 && repeatedOn.size >= o.repeatDays);
  }
}
