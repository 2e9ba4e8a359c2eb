/**
 * The CSV side of `npm run anomaly:score`: reads `timestamp,value` rows (a header is optional;
 * timestamps as ISO 8601, zone-less ones as UTC, or epoch numbers), and writes
 * `timestamp,value,expected,score,flag` per point. Pure, so the unit tests drive it directly.
 */
import { scoreSeries, type SeriesDetectorOptions, type SeriesPoint } from './series-detector.js';
import type { SiteDetectorOptions } from './site.js';

export interface ParsedSeries {
  points: (SeriesPoint & { raw: string; line: number })[];
  /** Rows that could not be read, each naming its 1-based line and why. */
  errors: string[];
  /** Rows read but worth knowing about (a repeated timestamp), each naming its line. */
  warnings: string[];
}

/**
 * Epoch numbers by magnitude: below 1e11 seconds (1e11 s is the year 5138), below 1e14
 * milliseconds, below 1e17 microseconds, above that nanoseconds (what Prometheus and InfluxDB export).
 */
const EPOCH_UNITS: [limit: number, toMs: number][] = [
  [1e11, 1000],
  [1e14, 1],
  [1e17, 1e-3],
  [Infinity, 1e-6],
];

/**
 * ISO 8601 / RFC 3339 date-times: `2015-02-26 21:42:53`, `2015-02-26T21:42:53.5Z`,
 * `2015-02-26T21:42:53+01:00`, `...+0100`, `... UTC`, or a date alone. Without a zone the time is
 * UTC (not the machine's zone: the same file gives the same result on every machine, and no hour
 * is skipped or repeated at a daylight-saving change).
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch ms of a timestamp cell, or NaN when it is no timestamp this reads. */
export function parseTimestamp(cell: string): number {
  const s = cell.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    const [, toMs] = EPOCH_UNITS.find(([limit]) => Math.abs(n) < limit)!;
    return n * toMs;
  }
  const m = ISO.exec(s);
  if (!m) return NaN;
  const [y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone = ''] = m.slice(1);
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)] as const;
  const t = Date.UTC(...fields);
  const back = new Date(t);
  // Date.UTC rolls 2015-02-30 over to March: a date or time out of range is no timestamp.
  if (back.getUTCMonth() !== fields[1] || back.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return NaN;
  let offsetMin = 0;
  if (/^[+-]/.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    if (Number(z[2]) > 23 || Number(z[3] ?? 0) > 59) return NaN;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  return t + (frac ? Number(`0.${frac}`) * 1000 : 0) - offsetMin * 60_000;
}

/** The cells of one row: split on the delimiter outside double quotes ("" is a quote inside them). */
function cells(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** Tab or semicolon when the first row has one (they are never part of a number or a timestamp), else comma. */
function delimiterOf(line: string): string {
  return line.includes('\t') ? '\t' : line.includes(';') ? ';' : ',';
}

/**
 * Reads `timestamp,value` rows: an optional header (a first row that is neither a timestamp nor a
 * number), blank lines and `#` comments skipped, comma, tab or semicolon separated, cells
 * optionally quoted, a byte-order mark ignored. Every row that cannot be read is an error naming its
 * line (the caller decides whether that stops it); a repeated timestamp is a warning.
 */
export function parseSeriesCsv(text: string): ParsedSeries {
  const points: ParsedSeries['points'] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const seen = new Map<number, number>();
  let delimiter = '';
  let first = true;
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    delimiter ||= delimiterOf(line);
    const row = cells(line, delimiter);
    while (row.length > 2 && row[row.length - 1] === '') row.pop();
    const [ts, v = ''] = row;
    const t = parseTimestamp(ts);
    const value = v === '' ? NaN : Number(v);
    const header = first && row.length >= 2 && !Number.isFinite(t) && !Number.isFinite(value);
    first = false;
    if (header) {
      if (row.length > 2) errors.push(`${at}: header has ${row.length} columns, expected 2 (timestamp,value)`);
      return;
    }
    if (row.length !== 2) errors.push(`${at}: ${row.length} cell${row.length === 1 ? '' : 's'}, expected timestamp${delimiter === '\t' ? '<tab>' : delimiter}value (quote a value that holds the delimiter): "${line.slice(0, 80)}"`);
    else if (!Number.isFinite(t)) errors.push(`${at}: "${ts}" is not a timestamp (ISO 8601 such as 2026-01-05T10:00:00Z or 2026-01-05 10:00:00 read as UTC, or epoch seconds / milliseconds / microseconds / nanoseconds)`);
    else if (!Number.isFinite(value)) errors.push(`${at}: ${v === '' ? 'no value' : `"${v}" is not a number`}`);
    else {
      // Kept: exports repeat timestamps (a daylight-saving hour folded onto one time, a sensor
      // resending), and dropping either value would hide it. Each is scored as a point of its own.
      if (seen.has(t)) warnings.push(`${at}: timestamp "${ts}" repeats line ${seen.get(t)}; both are scored, in file order`);
      else seen.set(t, i + 1);
      points.push({ t, value, raw: ts, line: i + 1 });
    }
  });
  return { points, errors, warnings };
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
