import { describe, expect, it } from 'vitest';
import { scoreSeries } from './series-detector.js';
import { alertTimes } from '../../test/harness/labelled-series.js';

const STEP = 300_000;
const t0 = Date.UTC(2026, 0, 5);
/** 5-minute measurements, 20 at night and 80 from 09:00 to 18:00 (a daily cycle in steps), +-2 of noise. */
const daily = (days: number) =>
  Array.from({ length: days * 288 }, (_, i) => {
    const hour = (i % 288) / 12;
    return { t: t0 + i * STEP, value: (hour >= 9 && hour < 18 ? 80 : 20) + 2 * Math.sin(i * 1.7) };
  });

describe('a new series first day (dropFirstDayShifts, in scoreSeries)', { timeout: 60_000 }, () => {
  it('the daily cycle seen for the first time is no incident', () => {
    const pts = daily(4);
    const flagged = scoreSeries(pts);
    expect(flagged.some((p) => p.incident.opened && p.source === 'recent')).toBe(true);
    expect(alertTimes(flagged, 3)).toEqual([]);
  });
  it('a spike that comes back within the first day is kept', () => {
    // 07:30, before the first morning (whose ramp, dropped, would hold a later spike in its cooldown).
    const pts = daily(2).map((p, i) => (i === 90 || i === 91 ? { ...p, value: 200 } : p));
    expect(alertTimes(scoreSeries(pts), 3)).toEqual([pts[90].t]);
  });
});
