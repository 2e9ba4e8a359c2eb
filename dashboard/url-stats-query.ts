/** GET /api/url-stats: URLs by page views with their countries, summed over partitions and windows. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import { URL_SUM_FIELDS } from '../contracts/documents.js';
import { keywordParam, parseIntParam, range, rangeEcho, type Query, type Range } from './params.js';
import { common, rangeFilter, sums, term } from './search-parts.js';
import { urlStatsFromAgg, type UrlBucket, type UrlRow } from './sums.js';

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
    ...rangeEcho(q),
    first_window: first === null ? null : new Date(first).toISOString(),
    last_window: last === null ? null : new Date(last).toISOString(),
    unique_users_exact: first !== null && first === last,
    urls: urlStatsFromAgg(a?.urls.buckets ?? []),
  };
}
