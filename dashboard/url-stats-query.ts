/** GET /api/url-stats: URLs by page views with their countries, summed over partitions and windows. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import { URL_SUM_FIELDS } from '../contracts/documents.js';
import { keywordParam, parseIntParam, range, rangeEcho, type Query, type Range } from './params.js';
import { common, rangeFilter, sums, term } from './search-parts.js';
import { revenueAgg, urlStatsFromAgg, type UrlBucket, type UrlRow } from './sums.js';
import { pairKey, type DistinctUsers, type UsersScope } from './distinct-users.js';

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
      last_window_end: { max: { field: 'window_end' } },
      urls: {
        // Ordered by a sum: exact on one shard; shard_size keeps it so on several.
        terms: { field: 'url', size: q.limit, shard_size: Math.max(q.limit * 20, 500), order },
        aggs: {
          ...sums(URL_SUM_FIELDS),
          revenue_by_currency: revenueAgg(),
          countries: { terms: { field: 'country', size: q.countries, shard_size: Math.max(q.countries * 20, 500), order }, aggs: { ...sums(URL_SUM_FIELDS), revenue_by_currency: revenueAgg() } },
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
   * unique_users (per URL and per URL x country) are distinct users over the whole range: the
   * raw events of the windows in range (from the first window's start to the last one's end),
   * bots left out, late events counted (dashboard/distinct-users.ts). True when every one shown
   * is an exact count (each at most DISTINCT_USERS.exactUpTo); false when some is Elasticsearch's
   * estimate (within about 1 %).
   */
  unique_users_exact: boolean;
  urls: UrlRow[];
}

type UrlAggs = { first_window: { value: number | null }; last_window: { value: number | null }; last_window_end: { value: number | null }; urls: { buckets: UrlBucket[] } };

/**
 * What to count distinct users over, from the URL-stats search's answer: the URLs and countries
 * it shows, over the raw events of the windows in range. Null: no window in range.
 */
export function urlUsersScope(q: UrlQuery, res: estypes.SearchResponse, eventsPattern: string): UsersScope | null {
  const a = res.aggregations as UrlAggs | undefined;
  const from = a?.first_window?.value ?? null;
  const to = a?.last_window_end?.value ?? null;
  if (from === null || to === null) return null;
  const urls = urlStatsFromAgg(a?.urls.buckets ?? []).map((r) => ({ url: r.url, countries: r.countries.map((c) => c.country) }));
  return { eventsPattern, from, to, urls, ...(q.country ? { country: q.country } : {}) };
}

/** The response; `users` replaces the summed per-window unique_users by distinct users over the range. */
export function urlStatsResponse(q: UrlQuery, res: estypes.SearchResponse, users: DistinctUsers): UrlStatsResponse {
  const a = res.aggregations as UrlAggs | undefined;
  const first = a?.first_window.value ?? null;
  const last = a?.last_window.value ?? null;
  const urls = urlStatsFromAgg(a?.urls.buckets ?? []);
  let exact = true;
  for (const r of urls) {
    const u = users.byUrl.get(r.url);
    r.unique_users = u?.users ?? 0;
    exact &&= u?.exact ?? true;
    for (const c of r.countries) {
      const p = users.byPair.get(pairKey(r.url, c.country));
      c.unique_users = p?.users ?? 0;
      exact &&= p?.exact ?? true;
    }
  }
  return {
    ...rangeEcho(q),
    first_window: first === null ? null : new Date(first).toISOString(),
    last_window: last === null ? null : new Date(last).toISOString(),
    unique_users_exact: exact,
    urls,
  };
}
