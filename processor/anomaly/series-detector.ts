/**
 * One univariate series end to end: the seasonal baseline (seasonal-baseline.ts) and the deviation
 * scorer (series.ts) over (time, value) points, regular or irregular; `scoreSeries` is what
 * `npm run anomaly:score` runs, with the step inferred and counts told from measurements.
 *
 * Pure and deterministic: the output depends only on the points, in order.
 */
import { median, poissonDispersion } from './stats.js';
import { SOURCE_QUALITY, SeasonalBaseline, WEEK } from './seasonal-baseline.js';
import { DEFAULT_SCORER, DeviationScorer, localLevelHalfLife, type Score, type ScorerOptions } from './series.js';
import { DEFAULT_INCIDENTS, IncidentTracker, type IncidentMark, type IncidentOptions } from './incidents.js';
import { dropFirstDayShifts } from './first-day.js';

export interface SeriesPoint {
  t: number;
  value: number;
}

export interface ScoredPoint extends SeriesPoint, Score {
  expected: number;
  source: 'week' | 'day' | 'recent' | 'none';
  /** Measurements: the incident the point's flag belongs to (incidents.ts); `flag` is then its opening run's. Counts: the flag's own. */
  incident: IncidentMark;
}

export interface SeriesDetectorOptions extends ScorerOptions {
  stepMs: number;
  weeks: number;
  /** How measurements' flags are grouped into incidents (incidents.ts); counts keep the k-of-n episodes. */
  incidents: Omit<IncidentOptions, 'n'>;
}

/** One univariate series: seasonal baseline + deviation scorer. What `npm run anomaly:score` runs. */
export class SeriesDetector {
  private readonly baseline: SeasonalBaseline;
  private readonly scorer: DeviationScorer;
  private readonly incidents: IncidentTracker | null;

  constructor(options: Partial<SeriesDetectorOptions> & { stepMs: number }) {
    this.baseline = new SeasonalBaseline(options);
    // The noise is fitted on blocks of the largest scale and needs six of them: at daily steps four
    // weeks would never fit it; the warm-up lasts until it is first fitted.
    const blocks = 6 * Math.max(...(options.scales ?? DEFAULT_SCORER.scales));
    const levelHistory = options.levelHistory ?? Math.max(2 * blocks, Math.round(((options.weeks ?? 4) * WEEK) / options.stepMs));
    this.scorer = new DeviationScorer({ levelHalfLife: localLevelHalfLife(options.stepMs), warmup: blocks, ...options, levelHistory });
    const o = this.scorer.options;
    this.incidents = o.counts ? null : new IncidentTracker({ ...DEFAULT_INCIDENTS, ...options.incidents, n: o.n });
  }

  /** Called once per point, in time order. */
  push(t: number, value: number): ScoredPoint {
    const { value: expected, source } = this.baseline.expected(t);
    const s = this.scorer.push(value, expected, SOURCE_QUALITY[source], this.scorer.options.counts ? undefined : this.baseline.envelope(t));
    this.baseline.push(t, value);
    const incident = this.incidents ? this.incidents.push(t, s.score, s.flag) : { flag: s.flag, opened: false, incident: -1 };
    return { t, value, source, ...s, flag: incident.flag, incident };
  }

  get noise(): number {
    return this.scorer.noise;
  }
}

/** The typical spacing of the points (median gap), for irregular series. */
export function inferStep(points: readonly SeriesPoint[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < points.length; i++) if (points[i].t > points[i - 1].t) gaps.push(points[i].t - points[i - 1].t);
  const g = median(gaps);
  return Number.isFinite(g) && g > 0 ? g : 60_000;
}

/**
 * Point-to-point noise (`poissonDispersion`, against Poisson plus the scorer's least level noise)
 * above which an integer series is not scored as counts: far noisier than Poisson (tweets' bursts,
 * travel times in seconds), the Poisson model would alert at every ordinary burst; it is scored
 * against its own residuals, as a measurement. Counts with a relative noise of a few per cent
 * (very large counts) are below it: the count model's level noise covers them.
 */
export const COUNT_MAX_DISPERSION = 1.5;

/** True when every value is a non-negative integer and the noise is no more than counts': the series is treated as counts. */
export function looksLikeCounts(points: readonly SeriesPoint[]): boolean {
  if (points.length === 0 || !points.every((p) => p.value >= 0 && Number.isInteger(p.value))) return false;
  const d = poissonDispersion(
    points.map((p) => p.value),
    DEFAULT_SCORER.minLevelNoise,
  );
  // Too short, or all zero, to tell: counts (the model the processor runs).
  return !(d > COUNT_MAX_DISPERSION) || points.length < 50;
}

/** Scores a whole series with the detector the processor runs (points sorted by time first). */
export function scoreSeries(points: readonly SeriesPoint[], options: Partial<SeriesDetectorOptions> = {}): ScoredPoint[] {
  const sorted = [...points].sort((a, b) => a.t - b.t);
  const d = new SeriesDetector({ counts: looksLikeCounts(sorted), ...options, stepMs: options.stepMs ?? inferStep(sorted) });
  const scored = sorted.map((p) => d.push(p.t, p.value));
  // Measurements only (incidents): counts keep what the processor raises.
  return scored.some((p) => p.incident.opened) ? dropFirstDayShifts(scored) : scored;
}
