/**
 * A new series' first day, for measurements scored offline (`anomaly:score`): until a day of the
 * series is known its expectation is the median of its last points (source 'recent'), so the daily
 * cycle itself (the morning ramp of web traffic, the evening fall) looks like a level shift. An
 * incident opened on such an expectation is kept only if the series comes back: a value still beyond
 * half of the opening deviation at every point for `FIRST_DAY_SHIFT_MS` after it is a shift, which
 * nothing yet tells from the day's own cycle, and is unflagged. A spike that comes and goes is kept.
 * So a real level shift in a series' first day is missed (the price of not paging at every first
 * morning); from the second day the same time of day is known and this does not apply.
 *
 * Pure: needs the points after the incident, so it runs on a whole scored series.
 */
import type { ScoredPoint } from './series-detector.js';

/** How long a first-day deviation must last to be taken for the daily cycle. */
export const FIRST_DAY_SHIFT_MS = 2 * 3_600_000;

/** Clears the flags of the incidents opened on a 'recent' expectation that turned out to be shifts. */
export function dropFirstDayShifts(scored: ScoredPoint[]): ScoredPoint[] {
  const dropped = new Set<number>();
  for (let i = 0; i < scored.length; i++) {
    const p = scored[i];
    if (!p.incident.opened || p.source !== 'recent') continue;
    const sign = Math.sign(p.value - p.expected);
    const half = p.expected + (p.value - p.expected) / 2;
    let j = i + 1;
    let stayed = true;
    for (; j < scored.length && scored[j].t <= p.t + FIRST_DAY_SHIFT_MS; j++) {
      if (sign * (scored[j].value - half) <= 0) {
        stayed = false;
        break;
      }
    }
    // A series that ends within the span cannot tell: kept.
    if (stayed && j < scored.length) dropped.add(p.incident.incident);
  }
  if (dropped.size === 0) return scored;
  return scored.map((p) => (p.flag && dropped.has(p.incident.incident) ? { ...p, flag: false } : p));
}
