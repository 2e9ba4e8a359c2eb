/**
 * The rules for measurements (series not scored as counts: tweets' bursts, CPU %, a gauge at rest):
 * a spike's echo is no second window, a single point far beyond the tails is flagged alone, and a
 * daily pattern that drifts by a step or two, or a fall back to the resting value, is no incident.
 */
import { describe, expect, it } from 'vitest';
import { DeviationScorer } from './series.js';
import { scoreSeries, type SeriesPoint } from './series-detector.js';
import { scoreDefaults } from './series-csv.js';
import { anomalyOptionsFromConfig } from './options.js';
import { parseConfig } from '../../contracts/config.js';
import { alertTimes } from '../../test/harness/labelled-series.js';
import { rng } from '../../test/harness/anomaly-scenarios.js';

const cli = scoreDefaults(anomalyOptionsFromConfig(parseConfig({})).site);
const STEP = 300_000;
const T0 = Date.UTC(2026, 0, 5);

/** A measurement scorer warmed on 300 points of unit noise around 10 (no calibration, so scores are about plain z: sd 1.1 with the least level noise). */
function warmed(options: Partial<ConstructorParameters<typeof DeviationScorer>[0]> = {}) {
  const r = rng(7);
  const s = new DeviationScorer({ counts: false, scales: [1, 2], threshold: 5.5, calibrate: false, ...options });
  for (let i = 0; i < 300; i++) s.push(10 + 2 * (r() + r() + r() - 1.5), 10);
  return s;
}

describe('measurements', { timeout: 60_000 }, () => {
  it("a spike's barely high next point is no second anomalous window (freshEvidence)", () => {
    const fresh = warmed();
    const echo = warmed({ freshEvidence: 0 });
    for (const s of [fresh, echo]) expect(s.push(20, 10)).toMatchObject({ anomalous: true, flag: false });
    expect(fresh.push(12, 10)).toMatchObject({ anomalous: false, flag: false });
    expect(echo.push(12, 10)).toMatchObject({ anomalous: true, flag: true, scale: 2 });
  });

  it('a point beyond extremeWindow x threshold is flagged alone; below it, the k-of-n rule waits', () => {
    expect(warmed().push(25, 10)).toMatchObject({ anomalous: true, flag: true });
    expect(warmed({ extremeWindow: 0 }).push(25, 10)).toMatchObject({ anomalous: true, flag: false });
    // Counts keep k-of-n whatever the size (the processor judges a spike's conversions at its 2nd window).
    expect(new DeviationScorer({ counts: true, scales: [1] }).push(1000, 100)).toMatchObject({ anomalous: true, flag: false });
  });

  /** 5-minute CPU % with noise, a daily job's spike to 90 % for 10 minutes at 02:00, its start drifting by up to 2 steps a day. */
  const cron = (days: number, at = (d: number) => 24 + ((d * 7) % 5) - 2): SeriesPoint[] => {
    const r = rng(3);
    return Array.from({ length: days * 288 }, (_, i) => {
      const slot = i % 288;
      const start = at(Math.floor(i / 288));
      return { t: T0 + i * STEP, value: slot >= start && slot < start + 2 ? 90 : 20 + 4 * (r() + r() - 1) };
    });
  };

  it('a daily spike whose phase drifts by up to two steps raises nothing; the same spike at another hour does', () => {
    // From its second week (before, the weekly expectation and the range are still being learned).
    const week = T0 + 7 * 288 * STEP;
    expect(alertTimes(scoreSeries(cron(21), cli), cli.n).filter((t) => t >= week)).toEqual([]);
    const moved = cron(21, (d) => (d === 18 ? 144 : 24 + ((d * 7) % 5) - 2));
    const found = alertTimes(scoreSeries(moved, cli), cli.n);
    expect(found.filter((t) => t >= T0 + (18 * 288 + 144) * STEP && t <= T0 + (18 * 288 + 149) * STEP)).toHaveLength(1);
  });

  it('a gauge at rest at zero, bursting at the same time most days, raises nothing when a burst skips a day', () => {
    const r = rng(5);
    const pts = Array.from({ length: 21 * 288 }, (_, i) => {
      const day = Math.floor(i / 288);
      const slot = i % 288;
      const burst = slot >= 100 && slot < 104 && day % 4 !== 3;
      return { t: T0 + i * STEP, value: burst ? 5 + 3 * r() : r() < 0.02 ? r() : 0 };
    });
    const down = scoreSeries(pts, cli).filter((p) => p.flag && p.score < 0 && p.t >= T0 + 7 * 288 * STEP);
    expect(down).toEqual([]);
  });
});
