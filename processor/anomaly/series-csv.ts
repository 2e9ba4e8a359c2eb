/**
 * The CSV side of `npm run anomaly:score`: reads `timestamp,value` rows (a header is optional;
 * timestamps as ISO 8601, or epoch seconds or milliseconds), and writes
 * `timestamp,value,expected,score,flag` per point. Pure, so the unit tests drive it directly.
 */
import { scoreSeries, type SeriesDetectorOptions, type SeriesPoint } from './series.js';
import type { SiteDetectorOptions } from './site.js';

export interface ParsedSeries {
  points: (SeriesPoint & { raw: string })[];
  /** Rows that could not be read, with their 1-based line number and why. */
  errors: string[];
}

/** Epoch seconds below this are taken as seconds, above as milliseconds (1e11 s is year 5138). */
const SECONDS_LIMIT = 1e11;

export function parseSeriesCsv(text: string): ParsedSeries {
  const points: ParsedSeries['points'] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (cells.length < 2) {
      errors.push(`line ${i + 1}: expected timestamp,value, got "${line.slice(0, 80)}"`);
      return;
    }
    const [ts, v] = cells;
    const value = Number(v);
    const t = parseTime(ts);
    if (points.length === 0 && errors.length === 0 && !Number.isFinite(t) && !Number.isFinite(value) && v !== '') return; // header
    if (!Number.isFinite(t)) errors.push(`line ${i + 1}: "${ts}" is not a timestamp (ISO 8601, epoch seconds or epoch milliseconds)`);
    else if (v === '' || !Number.isFinite(value)) errors.push(`line ${i + 1}: "${v}" is not a number`);
    else points.push({ t, value, raw: ts });
  });
  return { points, errors };
}

function parseTime(s: string): number {
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return Math.abs(n) < SECONDS_LIMIT ? n * 1000 : n;
  }
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : NaN;
}

/** Scores the points and renders the output CSV (sorted by time; duplicates kept in order). */
export function scoreCsv(parsed: ParsedSeries, options: Partial<SeriesDetectorOptions> = {}): string {
  const sorted = [...parsed.points].sort((a, b) => a.t - b.t);
  const scored = scoreSeries(sorted, options);
  const fmt = (x: number) => (Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '');
  const rows = scored.map((p, i) => `${sorted[i].raw},${sorted[i].value},${fmt(p.expected)},${fmt(p.score)},${p.flag ? 1 : 0}`);
  return ['timestamp,value,expected,score,flag', ...rows].join('\n') + '\n';
}

/** What `anomaly:score` runs with unless told otherwise: the processor's traffic settings. */
export function scoreDefaults(site: Pick<SiteDetectorOptions, 'trafficThreshold' | 'k' | 'n' | 'trafficMinRise' | 'trafficMaxFall'>) {
  return { threshold: site.trafficThreshold, k: site.k, n: site.n, minRise: site.trafficMinRise, maxFall: site.trafficMaxFall };
}
