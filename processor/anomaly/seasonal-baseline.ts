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
