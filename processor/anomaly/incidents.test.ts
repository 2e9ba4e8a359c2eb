import { describe, expect, it } from 'vitest';
import { IncidentTracker, type IncidentMark } from './incidents.js';
import { scoreSeries, type SeriesPoint } from './series-detector.js';
import { scoreDefaults } from './series-csv.js';
import { anomalyOptionsFromConfig } from './options.js';
import { parseConfig } from '../../contracts/config.js';
import { alertTimes } from '../../test/harness/labelled-series.js';
import { rng } from '../../test/harness/anomaly-scenarios.js';

const STEP = 300_000;
const HOUR = 3_600_000;
const cli = scoreDefaults(anomalyOptionsFromConfig(parseConfig({})).site);

/** Pushes (score, flag) points one step apart from t = 0 and returns the marks. */
function run(points: [score: number, flag: boolean][], o = { cooldownMs: HOUR, noveltyMs: 2 * HOUR, n: 3 }) {
  const tracker = new IncidentTracker(o);
  return points.map(([score, flag], i) => tracker.push(i * STEP, score, flag));
}
const quiet = (count: number, score = 1): [number, boolean][] => Array.from({ length: count }, () => [score, false]);
const opened = (marks: IncidentMark[]) => marks.flatMap((m, i) => (m.opened ? [i] : []));

describe('incidents (measurements)', { timeout: 60_000 }, () => {
  it('a flag within the cooldown continues the incident; after it, a new flag opens another', () => {
    const marks = run([...quiet(30), [10, true], ...quiet(5), [12, true], ...quiet(13), [30, true]]);
    expect(opened(marks)).toEqual([30, 50]);
    expect(marks[36]).toEqual({ flag: false, opened: false, incident: 0 });
    expect(marks[50].incident).toBe(1);
  });

  it('a burst no larger than one of the same sign within the novelty horizon opens nothing; a larger one, or a fall, does', () => {
    // Past the cooldown (12 steps) and within the novelty horizon (24 steps) of the first burst.
    const marks = run([...quiet(30), [10, true], ...quiet(15), [9, true], ...quiet(15), [11, true], ...quiet(15), [-9, true]]);
    expect(opened(marks)).toEqual([30, 62, 78]);
    expect(marks[46]).toEqual({ flag: false, opened: false, incident: -1 });
  });

  it('its own ramp (the last n points) does not count against a burst', () => {
    expect(opened(run([...quiet(30), [6, false], [8, false], [7, true]]))).toEqual([32]);
    expect(opened(run([...quiet(30), [8, false], [6, false], [6, false], [6, false], [7, true]]))).toEqual([]);
  });

  it("flags an incident's opening run only: its later surges within the cooldown continue it unflagged", () => {
    const marks = run([...quiet(30), [10, true], [11, true], [9, true], ...quiet(5), [12, true], [12, true], ...quiet(14), [13, true]]);
    expect(marks.flatMap((m, i) => (m.flag ? [i] : []))).toEqual([30, 31, 32, 54]);
    expect(marks.slice(38, 40).map((m) => m.incident)).toEqual([0, 0]);
    // The last surge is 14 steps after the incident's last flag (cooldown 12): a new incident.
    expect(opened(marks)).toEqual([30, 54]);
  });

  it('anomaly:score raises a burst once, not its smaller repeats within the day, and a larger one again', () => {
    const r = rng(3);
    const T0 = Date.UTC(2026, 0, 5);
    const pts: SeriesPoint[] = [];
    for (let i = 0; i < 14 * 288; i++) pts.push({ t: T0 + i * STEP, value: 10 + 4 * (r() + r() + r() - 1.5) + 0.5 });
    // On day 7 a burst, two smaller ones 8 and 16 hours later (past the cooldown), then one three times its size.
    const sizes = [60, 45, 45, 180];
    sizes.forEach((size, b) => {
      for (let j = 0; j < 3; j++) pts[7 * 288 + 30 + b * 96 + j].value = size;
    });
    const alerts = alertTimes(scoreSeries(pts, cli), cli.n).map((t) => (t - T0) / STEP);
    expect(alerts).toEqual([7 * 288 + 30, 7 * 288 + 30 + 3 * 96]);
  });
});
