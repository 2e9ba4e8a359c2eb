/**
 * What a point of a series should be: the same slot of the week in the last weeks (median of that
 * slot and its two neighbours over up to 4 weeks), falling back to the same slot of the day over the
 * last 7 days while less than a week is known, and to the median of the last points before that.
 * Pure and deterministic: the expectation depends only on the points pushed, in order.
 */
import { median } from './stats.js';

export const DAY = 86_400_000;
export const WEEK = 7 * DAY;

export interface BaselineOptions {
  /** Spacing of the points; slots of day and week are multiples of it. */
  stepMs: number;
  /** Weeks of history kept for the weekly slots. */
  weeks: number;
}

/** The usual range of a time of day (NaN: not known yet). */
export interface Envelope {
  low: number;
  high: number;
}

/**
 * How far either side of a slot its envelope spans, in time: a daily pattern drifting by up to two
 * 5-minute steps (a cron job's spike) stays within it. On NAB's tuning half (the envelope's first
 * form, medians of the daily extremes, 5-minute steps) 1, 2 and 3 steps took away about the same
 * false alerts, and no labelled window. In time, not steps: two hourly steps either side span four
 * hours of a daily cycle, whose steep hours then hid a tripling of an evening's traffic.
 */
export const ENVELOPE_SPAN_MS = 10 * 60_000;

/** Steps either side of a slot its envelope spans (`ENVELOPE_SPAN_MS`, at most 10 steps). */
export function envelopeWidth(stepMs: number): number {
  return Math.min(10, Math.round(ENVELOPE_SPAN_MS / stepMs));
}

/** How good each baseline's expectation is, for the scorer's noise (which learns from the best one). */
export const SOURCE_QUALITY = { none: 0, recent: 1, day: 2, week: 3 } as const;

/** Expected value of a point from its slot of the week, the day, or the last points. */
export class SeasonalBaseline {
  private readonly bySlot = new Map<number, number>();
  private readonly recent: number[] = [];
  private first = NaN;
  readonly options: BaselineOptions;

  constructor(options: Partial<BaselineOptions> & { stepMs: number }) {
    this.options = { weeks: 4, ...options };
    if (!(this.options.stepMs > 0)) throw new Error('SeasonalBaseline needs a positive stepMs');
  }

  /** The expectation at time t and where it came from (NaN and 'none' before 3 points). */
  expected(t: number): { value: number; source: 'week' | 'day' | 'recent' | 'none' } {
    const step = this.options.stepMs;
    const slot = Math.round(t / step);
    const gather = (period: number, count: number) => {
      const out: number[] = [];
      const ps = Math.round(period / step);
      for (let w = 1; w <= count; w++) {
        for (const d of [-1, 0, 1]) {
          const v = this.bySlot.get(slot - w * ps + d);
          if (v !== undefined) out.push(v);
        }
      }
      return out;
    };
    if (t - this.first >= WEEK - step) {
      const week = gather(WEEK, this.options.weeks);
      if (week.length >= 3) return { value: median(week), source: 'week' };
    }
    if (t - this.first >= DAY - step) {
      const day = gather(DAY, 7);
      if (day.length >= 3) return { value: median(day), source: 'day' };
    }
    if (this.recent.length >= 3) return { value: median(this.recent), source: 'recent' };
    return { value: NaN, source: 'none' };
  }

  /**
   * The usual range of the same time of day, allowing for a pattern that drifts by up to `width`
   * steps (`envelopeWidth`): over each of the last 7 days, the highest and lowest value within `width` steps of the
   * slot; the range is what at least two of those days reached (the second highest of the daily
   * highs, the second lowest of the lows; at least 3 days known, else none: NaN).
   */
  envelope(t: number, width = envelopeWidth(this.options.stepMs)): Envelope {
    const step = this.options.stepMs;
    const slot = Math.round(t / step);
    const ps = Math.round(DAY / step);
    const highs: number[] = [];
    const lows: number[] = [];
    for (let d = 1; d <= 7; d++) {
      let hi = -Infinity;
      let lo = Infinity;
      let seen = 0;
      for (let j = -width; j <= width; j++) {
        const v = this.bySlot.get(slot - d * ps + j);
        if (v === undefined) continue;
        seen++;
        hi = Math.max(hi, v);
        lo = Math.min(lo, v);
      }
      if (seen > width) {
        highs.push(hi);
        lows.push(lo);
      }
    }
    if (highs.length < 3) return { low: NaN, high: NaN };
    // Reached on two days or more: a one-off incident at this hour last week hides no repeat of it.
    return { low: lows.sort((a, b) => a - b)[1], high: highs.sort((a, b) => b - a)[1] };
  }

  /** Called once per point, in time order, after it was scored. */
  push(t: number, value: number) {
    const step = this.options.stepMs;
    if (!Number.isFinite(this.first)) this.first = t;
    const slot = Math.round(t / step);
    this.bySlot.set(slot, value);
    this.recent.push(value);
    if (this.recent.length > 12) this.recent.shift();
    // Forget slots older than the weeks kept (Map keeps insertion order: oldest first).
    const horizon = slot - Math.round(((this.options.weeks + 1) * WEEK) / step);
    for (const k of this.bySlot.keys()) {
      if (k >= horizon) break;
      this.bySlot.delete(k);
    }
  }
}
