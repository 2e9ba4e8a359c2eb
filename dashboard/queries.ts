/**
 * The dashboard API's parameters and the Elasticsearch searches behind each route. Pure: builds
 * request objects and reads responses; no I/O. Only features the integ-test distribution has
 * (term/range filters, terms, filter, min/max and sum aggregations): no scripts, no runtime
 * fields, no pipeline aggregations. Ratios are computed in dashboard/sums.ts from the sums.
 */
import type { estypes } from '@elastic/elasticsearch';
import { ParamError } from './errors.js';
import { DIMENSIONS, fieldNames, KPI_SUM_FIELDS, SESSION_FIELDS, URL_SUM_FIELDS, type SessionDoc } from '../contracts/documents.js';
import {
  eventTotals,
  finishSessions,
  kpiWindowsFromAgg,
  urlStatsFromAgg,
  type EventTotals,
  type KpiWindow,
  type KpiWindowBucket,
  type SessionSummary,
  type UrlBucket,
  type UrlRow,
} from './sums.js';


type Query = Record<string, string | undefined>;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time: `now`, `now-15m` (or `-15m`), `now+5m` (units s, m, h, d), epoch milliseconds,
 * or an ISO 8601 date. Missing or empty: `def`.
 */
export function parseTime(raw: string | undefined, now: number, def: number, name = 'time'): number {
  if (raw === undefined || raw === '') return def;
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
function keywordParam(raw: string | undefined, name: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > 2048 || [...raw].some((ch) => ch.charCodeAt(0) < 0x20)) throw new ParamError(`${name} is not a valid value`);
  return raw;
}

function boolParam(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ParamError(`${name} must be true or false; got "${raw}"`);
}

export interface Range {
  from: number;
  to: number;
}

function range(q: Query, now: number, defaultSpanMs: number): Range {
  const to = parseTime(q.to, now, now, 'to');
  const from = parseTime(q.from, now, to - defaultSpanMs, 'from');
  if (from >= to) throw new ParamError('from must be before to');
  return { from, to };
}

const rangeFilter = (field: string, r: Range): estypes.QueryDslQueryContainer => ({
  range: { [field]: { gte: r.from, lt: r.to, format: 'epoch_millis' } },
});
const term = (field: string, value: string | boolean): estypes.QueryDslQueryContainer => ({ term: { [field]: value } });
const sums = (fields: readonly string[]): Record<string, estypes.AggregationsAggregationContainer> =>
  Object.fromEntries(fields.map((f) => [f, { sum: { field: f } }]));
const common = { ignore_unavailable: true, allow_no_indices: true } as const;

// ---------------------------------------------------------------------------------------------
// /api/kpis

export const WINDOW_KIND = /^(tumbling|sliding)_[0-9a-z_]{1,40}$/;

export interface KpiQuery extends Range {
  window: string;
  dimension: string;
  value: string;
  /** Most windows returned (the newest ones). */
  limit: number;
}

export function parseKpiQuery(q: Query, now: number, defaultWindow: string): KpiQuery {
  const window = q.window || defaultWindow;
  if (!WINDOW_KIND.test(window)) throw new ParamError(`window must look like tumbling_1m or sliding_5m_1m; got "${window}"`);
  const dimension = q.dimension || 'all';
  if (!(DIMENSIONS as readonly string[]).includes(dimension)) throw new ParamError(`dimension must be one of ${DIMENSIONS.join(', ')}; got "${dimension}"`);
  const value = dimension === 'all' ? 'all' : keywordParam(q.value, 'value');
  if (value === undefined) throw new ParamError(`value is required with dimension=${dimension} (for example dimension=country&value=FR)`);
  return { window, dimension, value, ...range(q, now, 30 * 60_000), limit: parseIntParam(q.limit, 1500, 1, 10_000, 'limit') };
}

export function kpiSearch(index: string, q: KpiQuery): estypes.SearchRequest {
  return {
    index,
    ...common,
    size: 0,
    query: {
      bool: {
        filter: [term('window_kind', q.window), term('dimension', q.dimension), term('dimension_value', q.value), rangeFilter('window_start', q)],
      },
    },
    aggs: {
      windows: {
        // The newest windows when there are more than `limit`; returned oldest first.
        terms: { field: 'window_start', size: q.limit, order: { _key: 'desc' } },
        aggs: {
          ...sums(KPI_SUM_FIELDS),
          window_end: { max: { field: 'window_end' } },
          not_final: { filter: { bool: { must_not: [term('final', true)] } } },
        },
      },
    },
  };
}

export interface KpiResponse {
  window: string;
  dimension: string;
  value: string;
  from: string;
  to: string;
  /** One entry per window start, oldest first, each the exact sum of its partition partials. */
  windows: KpiWindow[];
  /** More windows matched than `limit`: the oldest were left out. */
  truncated: boolean;
  /**
   * Event counts and revenue over the returned windows, for tumbling windows only (sliding
   * windows overlap, so their sum would count events several times): null for sliding ones.
   */
  totals: EventTotals | null;
}

export function kpiResponse(q: KpiQuery, res: estypes.SearchResponse): KpiResponse {
  const agg = res.aggregations?.windows as { buckets: KpiWindowBucket[]; sum_other_doc_count?: number } | undefined;
  const windows = kpiWindowsFromAgg(agg?.buckets ?? []);
  return {
    window: q.window,
    dimension: q.dimension,
    value: q.value,
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    windows,
    truncated: (agg?.sum_other_doc_count ?? 0) > 0,
    totals: q.window.startsWith('tumbling_') ? eventTotals(windows) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// /api/url-stats

export interface UrlQuery extends Range {
  limit: number;
  countries: number;
  country?: string;
}

export function parseUrlQuery(q: Query, now: number): UrlQuery {
  return {
    ...range(q, now, 15 * 60_000),
    limit: parseIntParam(q.limit, 10, 1, 500, 'limit'),
    countries: parseIntParam(q.countries, 5, 1, 300, 'countries'),
    country: keywordParam(q.country, 'country'),
  };
}

export function urlStatsSearch(index: string, q: UrlQuery): estypes.SearchRequest {
  const order = [{ page_views: 'desc' as const }, { _key: 'asc' as const }];
  return {
    index,
    ...common,
    size: 0,
    query: { bool: { filter: [rangeFilter('window_start', q), ...(q.country ? [term('country', q.country)] : [])] } },
    aggs: {
      first_window: { min: { field: 'window_start' } },
      last_window: { max: { field: 'window_start' } },
      urls: {
        // Ordered by a sum: exact on one shard; shard_size keeps it so on several.
        terms: { field: 'url', size: q.limit, shard_size: Math.max(q.limit * 20, 500), order },
        aggs: {
          ...sums(URL_SUM_FIELDS),
          countries: { terms: { field: 'country', size: q.countries, shard_size: Math.max(q.countries * 20, 500), order }, aggs: sums(URL_SUM_FIELDS) },
        },
      },
    },
  };
}

export interface UrlStatsResponse {
  from: string;
  to: string;
  /** Window starts of the oldest and newest URL-stats documents in range (null: none). */
  first_window: string | null;
  last_window: string | null;
  /**
   * unique_users is exact per window (a sum over partitions of disjoint sets); over several
   * windows it is the sum of each window's distinct users (a user active in two windows counts
   * twice). True when the range held a single window, so unique_users is distinct users.
   */
  unique_users_exact: boolean;
  urls: UrlRow[];
}

export function urlStatsResponse(q: UrlQuery, res: estypes.SearchResponse): UrlStatsResponse {
  const a = res.aggregations as
    | { first_window: { value: number | null }; last_window: { value: number | null }; urls: { buckets: UrlBucket[] } }
    | undefined;
  const first = a?.first_window.value ?? null;
  const last = a?.last_window.value ?? null;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    first_window: first === null ? null : new Date(first).toISOString(),
    last_window: last === null ? null : new Date(last).toISOString(),
    unique_users_exact: first !== null && first === last,
    urls: urlStatsFromAgg(a?.urls.buckets ?? []),
  };
}

// ---------------------------------------------------------------------------------------------
// /api/sessions

export interface SessionQuery extends Range {
  limit: number;
  closed?: boolean;
  visitor?: string;
  site?: string;
}

export function parseSessionQuery(q: Query, now: number): SessionQuery {
  return {
    ...range(q, now, 60 * 60_000),
    limit: parseIntParam(q.limit, 20, 0, 500, 'limit'),
    closed: boolParam(q.closed, 'closed'),
    visitor: keywordParam(q.visitor, 'visitor'),
    site: keywordParam(q.site, 'site'),
  };
}

/** The session fields the API returns: every field of the document but its partition. */
export const SESSION_API_FIELDS = fieldNames(SESSION_FIELDS).filter((f) => f !== 'partition');
export type SessionRow = Omit<SessionDoc, 'partition'>;

export function sessionSearch(index: string, q: SessionQuery): estypes.SearchRequest {
  // Sessions active in the range: started before its end, last event at or after its start.
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { end: { gte: q.from, format: 'epoch_millis' } } },
    { range: { start: { lt: q.to, format: 'epoch_millis' } } },
  ];
  if (q.closed !== undefined) filter.push(term('closed', q.closed));
  if (q.visitor) filter.push(term('visitor_id', q.visitor));
  if (q.site) filter.push(term('site_id', q.site));
  return {
    index,
    ...common,
    size: q.limit,
    track_total_hits: true,
    _source: SESSION_API_FIELDS,
    query: { bool: { filter } },
    sort: [{ end: 'desc' }, { session_id: 'asc' }],
    aggs: {
      open: { filter: term('closed', false) },
      purchased: { filter: term('purchased', true) },
      added_to_cart: { filter: term('added_to_cart', true) },
      bounced: { filter: { range: { pages: { lte: 1 } } } },
      ...sums(['pages', 'events', 'duration_ms', 'revenue']),
    },
  };
}

export interface SessionsResponse {
  from: string;
  to: string;
  /** Over every session active in the range (not only the listed ones). */
  summary: SessionSummary;
  /** The most recently active sessions first. */
  sessions: SessionRow[];
}

export function sessionsResponse(q: SessionQuery, res: estypes.SearchResponse<SessionRow>): SessionsResponse {
  const a = (res.aggregations ?? {}) as Record<string, { doc_count?: number; value?: number | null }>;
  const total = res.hits.total;
  const count = (k: string) => a[k]?.doc_count ?? 0;
  const sum = (k: string) => a[k]?.value ?? 0;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    summary: finishSessions({
      sessions: typeof total === 'number' ? total : (total?.value ?? 0),
      open: count('open'),
      purchased: count('purchased'),
      added_to_cart: count('added_to_cart'),
      bounced: count('bounced'),
      pages: sum('pages'),
      events: sum('events'),
      duration_ms: sum('duration_ms'),
      revenue: sum('revenue'),
    }),
    sessions: res.hits.hits.map((h) => h._source as SessionRow),
  };
}

// ---------------------------------------------------------------------------------------------
// /api/alerts

export interface AlertQuery extends Range {
  limit: number;
  kind?: string;
  severity?: string;
  site?: string;
  visitor?: string;
}

export function parseAlertQuery(q: Query, now: number): AlertQuery {
  return {
    ...range(q, now, 24 * 3_600_000),
    limit: parseIntParam(q.limit, 50, 0, 500, 'limit'),
    kind: keywordParam(q.kind, 'kind'),
    severity: keywordParam(q.severity, 'severity'),
    site: keywordParam(q.site, 'site'),
    visitor: keywordParam(q.visitor, 'visitor'),
  };
}

export function alertSearch(index: string, q: AlertQuery): estypes.SearchRequest {
  const filter: estypes.QueryDslQueryContainer[] = [rangeFilter('raised_at', q)];
  if (q.kind) filter.push(term('kind', q.kind));
  if (q.severity) filter.push(term('severity', q.severity));
  if (q.site) filter.push(term('site_id', q.site));
  if (q.visitor) filter.push(term('visitor_id', q.visitor));
  return {
    index,
    ...common,
    size: q.limit,
    track_total_hits: true,
    query: { bool: { filter } },
    sort: [{ raised_at: 'desc' }, { alert_id: 'asc' }],
    aggs: {
      kinds: { terms: { field: 'kind', size: 50, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      severities: { terms: { field: 'severity', size: 10, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
    },
  };
}

export interface AlertsResponse {
  from: string;
  to: string;
  total: number;
  by_kind: Record<string, number>;
  by_severity: Record<string, number>;
  /** Newest first. */
  alerts: Record<string, unknown>[];
}

export function alertsResponse(q: AlertQuery, res: estypes.SearchResponse<Record<string, unknown>>): AlertsResponse {
  const a = (res.aggregations ?? {}) as Record<string, { buckets?: { key: string; doc_count: number }[] }>;
  const counts = (k: string) => Object.fromEntries((a[k]?.buckets ?? []).map((b) => [b.key, b.doc_count]));
  const total = res.hits.total;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    by_kind: counts('kinds'),
    by_severity: counts('severities'),
    alerts: res.hits.hits.map((h) => h._source ?? {}),
  };
}
