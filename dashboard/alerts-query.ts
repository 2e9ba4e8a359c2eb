/** GET /api/alerts: alerts raised in a range, newest first, with counts by kind and severity. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import type { AlertDoc } from '../contracts/documents.js';
import { keywordParam, parseIntParam, range, type Query, type Range } from './params.js';
import { common, rangeFilter, term } from './search-parts.js';

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
  alerts: AlertDoc[];
}

export function alertsResponse(q: AlertQuery, res: estypes.SearchResponse<AlertDoc>): AlertsResponse {
  const a = (res.aggregations ?? {}) as Record<string, { buckets?: { key: string; doc_count: number }[] }>;
  const counts = (k: string) => Object.fromEntries((a[k]?.buckets ?? []).map((b) => [b.key, b.doc_count]));
  const total = res.hits.total;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    by_kind: counts('kinds'),
    by_severity: counts('severities'),
    alerts: res.hits.hits.map((h) => h._source as AlertDoc),
  };
}
