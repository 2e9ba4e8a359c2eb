/**
 * Pieces of the dashboard's Elasticsearch searches. Only features every Elasticsearch 8 has
 * (term/range filters, terms, filter, min/max and sum aggregations): no scripts, no runtime
 * fields, no pipeline aggregations. Ratios are computed in dashboard/sums.ts from the sums.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Range } from './params.js';

export const rangeFilter = (field: string, r: Range): estypes.QueryDslQueryContainer => ({
  range: { [field]: { gte: r.from, lt: r.to, format: 'epoch_millis' } },
});
export const term = (field: string, value: string | boolean): estypes.QueryDslQueryContainer => ({ term: { [field]: value } });
export const sums = (fields: readonly string[]): Record<string, estypes.AggregationsAggregationContainer> =>
  Object.fromEntries(fields.map((f) => [f, { sum: { field: f } }]));
/** Searches over indices that may not exist yet (no document written) answer empty. */
export const common = { ignore_unavailable: true, allow_no_indices: true } as const;

/** Term filters for the optional parameters given (field -> value); those not given filter nothing. */
export const optionalTerms = (byField: Record<string, string | boolean | undefined>): estypes.QueryDslQueryContainer[] =>
  Object.entries(byField).flatMap(([field, value]) => (value === undefined ? [] : [term(field, value)]));

/** A listing route's search: the first `limit` documents matching `filter` in `sort` order, and how many match. */
export const listingSearch = (index: string, limit: number, filter: estypes.QueryDslQueryContainer[], sort: estypes.Sort) =>
  ({ index, ...common, size: limit, track_total_hits: true, query: { bool: { filter } }, sort }) satisfies estypes.SearchRequest;

/** How many documents matched a search with `track_total_hits`. */
export const hitCount = (res: estypes.SearchResponse<unknown>): number => {
  const total = res.hits.total;
  return typeof total === 'number' ? total : (total?.value ?? 0);
};
