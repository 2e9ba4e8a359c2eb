/**
 * GET /api/breakdown: Plausible-style top lists over one range and site selection, from the
 * raw-event index (bots left out), or for entry and exit pages from the sessions index. Each row:
 * distinct visitors, page views, converting visitors and revenue per currency. Pure.
 *
 * Pages are grouped by the enriched event's `url`, normalised once by the gateway
 * (gateway/url-normalise.ts: query strings dropped but for URL_QUERY_ALLOWLIST, fragments but
 * for hash routes), the same URL the sessions' entry and exit pages and the URL stats carry, so
 * `thanks.html?order=1` and `?order=2` are one page everywhere.
 */
import type { estypes } from '@elastic/elasticsearch';
import { REVENUE_SCALE } from '../contracts/documents.js';
import { ParamError } from './errors.js';
import { parseIntParam, rangeEcho, type Query } from './params.js';
import { common, rangeFilter, term } from './search-parts.js';
import { distinct, notBot, parseSiteRange, siteFilter, viewFilter, type CurrencyRevenue, type SiteRange } from './overview-query.js';

/** Breakdown name -> the raw-event field it groups by (entry/exit pages: the sessions index). */
export const BREAKDOWNS = {
  page: 'url',
  source: 'referrer_host',
  referrer_type: 'referrer_type',
  utm_source: 'utm_source',
  utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign',
  country: 'country',
  browser: 'browser',
  os: 'os',
  device_type: 'device_type',
  entry_page: 'entry_page',
  exit_page: 'exit_page',
} as const;
export type Breakdown = keyof typeof BREAKDOWNS;
export const SESSION_BREAKDOWNS: readonly Breakdown[] = ['entry_page', 'exit_page'];

/** `revenue` sorts by the revenue of one currency (`currency=EUR`): currencies are never added up. */
export const SORTS = ['visitors', 'views', 'conversions', 'revenue'] as const;
export type Sort = (typeof SORTS)[number];

export interface BreakdownQuery extends SiteRange {
  by: Breakdown;
  sort: Sort;
  /** With sort=revenue: the ISO 4217 currency whose revenue orders the rows. */
  currency?: string;
  limit: number;
}

export function parseBreakdownQuery(q: Query, now: number): BreakdownQuery {
  const by = (q.by || 'page') as Breakdown;
  if (!Object.hasOwn(BREAKDOWNS, by)) throw new ParamError(`by must be one of ${Object.keys(BREAKDOWNS).join(', ')}; got "${q.by}"`);
  const sort = (q.sort || 'visitors') as Sort;
  if (!SORTS.includes(sort)) throw new ParamError(`sort must be one of ${SORTS.join(', ')}; got "${q.sort}"`);
  let currency: string | undefined;
  if (sort === 'revenue') {
    currency = q.currency;
    if (!currency || !/^[A-Z]{3}$/.test(currency)) throw new ParamError(`sort=revenue needs currency=<ISO 4217 code> (for example currency=EUR): revenue of different currencies is never added up; got "${q.currency ?? ''}"`);
  }
  return { ...parseSiteRange(q, now), by, sort, ...(currency ? { currency } : {}), limit: parseIntParam(q.limit, 10, 1, 100, 'limit') };
}

/** A link from one of the site's own pages is not a source (gateway/referrer.ts classifies it internal). */
const notInternal: estypes.QueryDslQueryContainer = { bool: { must_not: [term('referrer_type', 'internal')] } };

export function breakdownSearch(index: { eventsPattern: string; sessions: string }, q: BreakdownQuery): estypes.SearchRequest {
  const field = BREAKDOWNS[q.by];
  if (SESSION_BREAKDOWNS.includes(q.by)) {
    // Sessions that started in the range (entry) / whose last event is in it (exit).
    const timeField = q.by === 'entry_page' ? 'start' : 'end';
    const order: Record<Sort, Record<string, 'desc'>> = { visitors: { visitors: 'desc' }, views: { views: 'desc' }, conversions: { conversions: 'desc' }, revenue: { 'sort_revenue>c>v': 'desc' } };
    return {
      index: index.sessions,
      ...common,
      size: 0,
      query: { bool: { filter: [rangeFilter(timeField, q), ...siteFilter(q.sites)] } },
      aggs: {
        rows: {
          terms: { field, size: q.limit, order: [order[q.sort], { _key: 'asc' }] },
          aggs: {
            visitors: distinct('visitor_id'),
            views: { sum: { field: 'pages' } },
            conversions: { filter: term('purchased', true), aggs: { n: distinct('visitor_id') } },
            ...(q.currency
              ? { sort_revenue: { nested: { path: 'revenue_by_currency' }, aggs: { c: { filter: term('revenue_by_currency.currency', q.currency), aggs: { v: { sum: { field: 'revenue_by_currency.revenue' } } } } } } }
              : {}),
          },
        },
      },
    };
  }
  const order: Record<Sort, Record<string, 'desc'>> = { visitors: { visitors: 'desc' }, views: { views: 'desc' }, conversions: { 'conversions>n': 'desc' }, revenue: { 'sort_revenue>v': 'desc' } };
  return {
    index: index.eventsPattern,
    ...common,
    size: 0,
    query: { bool: { filter: [rangeFilter('timestamp', q), ...siteFilter(q.sites), notBot, ...(q.by === 'source' ? [notInternal] : [])] } },
    aggs: {
      rows: {
        terms: { field, size: q.limit, order: [order[q.sort], { _key: 'asc' }] },
        aggs: {
          visitors: distinct('visitor_id'),
          views: { filter: viewFilter },
          ...(q.currency ? { sort_revenue: { filter: { bool: { filter: [term('event_type', 'purchase'), term('currency', q.currency)] } }, aggs: { v: { sum: { field: 'revenue' } } } } } : {}),
          conversions: {
            filter: term('event_type', 'purchase'),
            aggs: {
              n: distinct('visitor_id'),
              currencies: { terms: { field: 'currency', size: 20, missing: '', order: { _key: 'asc' } }, aggs: { revenue: { sum: { field: 'revenue' } } } },
            },
          },
        },
      },
    },
  };
}

export interface BreakdownRow {
  value: string;
  visitors: number;
  views: number;
  /** Distinct visitors who bought (entry/exit pages: sessions with a purchase, by visitor). */
  conversions: number;
  /** Raw events only; sessions keep no currency. */
  revenue: CurrencyRevenue[];
}

export interface BreakdownResponse {
  by: Breakdown;
  sort: Sort;
  from: string;
  to: string;
  sites: string[];
  rows: BreakdownRow[];
  /** Rows left out of the top list (their event or session count). */
  others: number;
}

type Bucket = { key: string | number; doc_count: number; [k: string]: unknown };
type Agg = { doc_count?: number; value?: number | null; n?: { value?: number }; buckets?: Bucket[]; currencies?: { buckets?: Bucket[] } };

export function breakdownResponse(q: BreakdownQuery, res: estypes.SearchResponse): BreakdownResponse {
  const rows = (res.aggregations?.rows ?? {}) as { buckets?: Bucket[]; sum_other_doc_count?: number };
  return {
    by: q.by,
    sort: q.sort,
    ...rangeEcho(q),
    sites: q.sites,
    rows: (rows.buckets ?? []).map((b) => {
      const g = (k: string) => (b[k] ?? {}) as Agg;
      const views = g('views');
      return {
        value: String(b.key),
        visitors: g('visitors').value ?? 0,
        views: views.doc_count ?? views.value ?? 0,
        conversions: g('conversions').n?.value ?? 0,
        revenue: (g('conversions').currencies?.buckets ?? []).map((c) => ({
          currency: String(c.key),
          purchases: c.doc_count,
          revenue: Math.round((((c.revenue as Agg | undefined)?.value ?? 0) * REVENUE_SCALE)) / REVENUE_SCALE,
        })),
      };
    }),
    others: rows.sum_other_doc_count ?? 0,
  };
}
