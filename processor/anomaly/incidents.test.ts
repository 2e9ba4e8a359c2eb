import { describe, expect, it } from 'vitest';
import { IncidentTracker, type IncidentMark, type IncidentOptions } from './incidents.js';
import { scoreSeries, type SeriesPoint } from './series-detector.js';
import { scoreDefaults } from './series-csv.js';
import { anomalyOptionsFromConfig } from './options.js';
import { parseConfig } from '../../contracts/config.js';
import { alertTimes } from '../../test/harness/labelled-series.js';
import { rng } from '../../test/harness/anomaly-scenarios.js';

const STEP = 300_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const cli = scoreDefaults(anomalyOptionsFromConfig(parseConfig({})).site);

/** Pushes (score, flag) points one step apart from t = 0 and returns the marks. */
function run(points: [score: number, flag: boolean][], o: IncidentOptions = { cooldownMs: HOUR, noveltyMs: 2 * HOUR, repeatMs: 0, repeatDays: 2, n: 3 }) {
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
  describe('a deviation the series made on repeatDays of the days before the last one opens nothing', () => {
    // Hourly points over 7 days; the candidate: a flag scoring 10 on day 6 at 12:00. Earlier
    // deviations are [day, hour, score], not flagged themselves. Days are 24 h periods counted back
    // from the last noveltyMs (the one-day rule's horizon), not calendar days.
    const o: IncidentOptions = { cooldownMs: HOUR, noveltyMs: DAY, repeatMs: 5 * DAY, repeatDays: 2, n: 3 };
    const cases: { name: string; before: [number, number, number][]; options?: Partial<IncidentOptions>; opened: boolean }[] = [
      { name: 'as large on two earlier days', before: [[2, 12, 12], [3, 12, 12]], opened: false },
      { name: 'exactly as large on two earlier days', before: [[2, 12, 10], [4, 9, 10]], opened: false },
      { name: 'as large on one earlier day only', before: [[3, 12, 12]], opened: true },
      { name: 'twice within one 24 h period', before: [[3, 13, 12], [3, 14, 12]], opened: true },
      { name: 'smaller on two earlier days', before: [[2, 12, 8], [3, 12, 9.9]], opened: true },
      { name: 'the other sign on two earlier days', before: [[2, 12, -12], [3, 12, -12]], opened: true },
      { name: 'one of the two days beyond repeatMs', before: [[1, 11, 12], [3, 12, 12]], opened: true },
      { name: 'the rule off (repeatMs 0)', before: [[2, 12, 12], [3, 12, 12]], options: { repeatMs: 0 }, opened: true },
      { name: 'repeatDays 3 and two earlier days', before: [[2, 12, 12], [3, 12, 12]], options: { repeatDays: 3 }, opened: true },
    ];
    it.each(cases)('$name: opened $opened', ({ before, options, opened: expected }) => {
      const tracker = new IncidentTracker({ ...o, ...options });
      const at = new Map(before.map(([day, hour, score]) => [day * 24 + hour, score]));
      const candidate = 6 * 24 + 12;
      for (let h = 0; h < candidate; h++) tracker.push(h * HOUR, at.get(h) ?? 1, false);
      expect(tracker.push(candidate * HOUR, 10, true).opened).toBe(expected);
    });
  });

  it('anomaly:score raises a burst the series makes every other day twice, then only a larger one', () => {
    const r = rng(5);
    const T0 = Date.UTC(2026, 0, 5);
    const pts: SeriesPoint[] = [];
    for (let i = 0; i < 17 * 288; i++) pts.push({ t: T0 + i * STEP, value: 10 + 4 * (r() + r() + r() - 1.5) + 0.5 });
    // Bursts every other day, the later ones a little smaller, each at another time of day (the
    // same time would be the same-time-of-day envelope's), then one three times larger.
    const bursts: [day: number, hour: number, size: number][] = [[7, 10, 60], [9, 16, 60], [11, 4, 50], [13, 20, 50], [15, 13, 180]];
    for (const [day, hour, size] of bursts) for (let j = 0; j < 3; j++) pts[day * 288 + hour * 12 + j].value = size;
    const alerts = alertTimes(scoreSeries(pts, cli), cli.n).map((t) => (t - T0) / STEP);
    expect(alerts).toEqual([bursts[0], bursts[1], bursts[4]].map(([day, hour]) => day * 288 + hour * 12));
  });
});
