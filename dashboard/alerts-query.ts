/** GET /api/alerts: alerts raised in a range, newest first, with counts by kind and severity. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import type { AlertDoc } from '../contracts/documents.js';
import { keywordParam, listingQuery, rangeEcho, type ListingQuery, type Query } from './params.js';
import { hitCount, listingSearch, optionalTerms, rangeFilter } from './search-parts.js';

export interface AlertQuery extends ListingQuery {
  kind?: string;
  severity?: string;
}

export function parseAlertQuery(q: Query, now: number): AlertQuery {
  return { ...listingQuery(q, now, 24 * 3_600_000, 50), kind: keywordParam(q.kind, 'kind'), severity: keywordParam(q.severity, 'severity') };
}

export function alertSearch(index: string, q: AlertQuery): estypes.SearchRequest {
  const filter = [rangeFilter('raised_at', q), ...optionalTerms({ kind: q.kind, severity: q.severity, site_id: q.site, visitor_id: q.visitor })];
  return {
    ...listingSearch(index, q.limit, filter, [{ raised_at: 'desc' }, { alert_id: 'asc' }]),
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
  alerts: AlertDoc[];
}

export function alertsResponse(q: AlertQuery, res: estypes.SearchResponse<AlertDoc>): AlertsResponse {
  const a = (res.aggregations ?? {}) as Record<string, { buckets?: { key: string; doc_count: number }[] }>;
  const counts = (k: string) => Object.fromEntries((a[k]?.buckets ?? []).map((b) => [b.key, b.doc_count]));
  return {
    ...rangeEcho(q),
    total: hitCount(res),
    by_kind: counts('kinds'),
    by_severity: counts('severities'),
    alerts: res.hits.hits.map((h) => h._source as AlertDoc),
  };
}
