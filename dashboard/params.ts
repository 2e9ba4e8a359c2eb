/**
 * The dashboard API's query parameters: times (`now-15m`, epoch ms, ISO dates), bounded integers,
 * keyword filters and booleans. A bad one throws ParamError, which the API answers 400
 * `DASH_ERR_PARAM` with the message (dashboard/errors.ts).
 */
import { MAX_EPOCH_MS } from '../contracts/event-schema.js';
import { ParamError } from './errors.js';

export type Query = Record<string, string | undefined>;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time: `now`, `now-15m` (or `-15m`), `now+5m` (units s, m, h, d), epoch milliseconds,
 * or an ISO 8601 date. Missing or empty: `def`.
 */
export function parseTime(raw: string | undefined, now: number, def: number, name = 'time'): number {
  if (raw === undefined || raw === '') return def;
  const t = parseTimeValue(raw, now, name);
  // Checked before any query: beyond these a Date cannot print itself and Elasticsearch cannot read it.
  if (!(t >= 0 && t <= MAX_EPOCH_MS)) throw new ParamError(`${name} is out of range (1970-01-01 to 9999-12-31); got "${raw}"`);
  return t;
}

function parseTimeValue(raw: string, now: number, name: string): number {
  const v = raw.trim();
  if (v === 'now') return now;
  const rel = /^(?:now-|-|now\+)(\d{1,9})([smhd])$/.exec(v);
  if (rel) return now + (v.includes('+') ? 1 : -1) * Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d{1,15}$/.test(v)) return Number(v);
  // Date.parse also takes loose forms ("1 May"); ask for an ISO date so a typo is an error.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new ParamError(`${name} must be now, now-<n><s|m|h|d>, now+<n><s|m|h|d>, epoch milliseconds or an ISO date; got "${raw}"`);
}

export function parseIntParam(raw: string | undefined, def: number, min: number, max: number, name: string): number {
  if (raw === undefined || raw === '') return def;
  if (!/^\d{1,9}$/.test(raw)) throw new ParamError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ParamError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  return n;
}

/** Keyword filter values: anything printable, bounded (they only go into `term` queries). */
export function keywordParam(raw: string | undefined, name: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > 2048 || [...raw].some((ch) => ch.charCodeAt(0) < 0x20)) throw new ParamError(`${name} is not a valid value`);
  return raw;
}

export function boolParam(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ParamError(`${name} must be true or false; got "${raw}"`);
}

export interface Range {
  from: number;
  to: number;
}

/** The range as every response states it. */
export const rangeEcho = (r: Range) => ({ from: new Date(r.from).toISOString(), to: new Date(r.to).toISOString() });

export function range(q: Query, now: number, defaultSpanMs: number): Range {
  const to = parseTime(q.to, now, now, 'to');
  const from = parseTime(q.from, now, to - defaultSpanMs, 'from');
  if (from >= to) throw new ParamError('from must be before to');
  return { from, to };
}

/** What every listing route (alerts, sessions) takes: a range, how many rows, the site and visitor filters. */
export interface ListingQuery extends Range {
  limit: number;
  site?: string;
  visitor?: string;
}

export function listingQuery(q: Query, now: number, defaultSpanMs: number, defaultLimit: number): ListingQuery {
  return {
    ...range(q, now, defaultSpanMs),
    limit: parseIntParam(q.limit, defaultLimit, 0, 500, 'limit'),
    site: keywordParam(q.site, 'site'),
    visitor: keywordParam(q.visitor, 'visitor'),
  };
}
