/** GET /api/sessions: the sessions active in a range, newest first, with a summary over all of them. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import { fieldNames, SESSION_FIELDS, type SessionDoc } from '../contracts/documents.js';
import { boolParam, listingQuery, rangeEcho, type ListingQuery, type Query } from './params.js';
import { hitCount, listingSearch, optionalTerms, sums, term } from './search-parts.js';
import { finishSessions, revenueAgg, revenueFromAgg, type RevenueAgg, type SessionSummary } from './sums.js';

export interface SessionQuery extends ListingQuery {
  closed?: boolean;
}

export function parseSessionQuery(q: Query, now: number): SessionQuery {
  return { ...listingQuery(q, now, 60 * 60_000, 20), closed: boolParam(q.closed, 'closed') };
}

/** The session fields the API returns: every field of the document but its partition. */
export const SESSION_API_FIELDS = fieldNames(SESSION_FIELDS).filter((f) => f !== 'partition');
export type SessionRow = Omit<SessionDoc, 'partition'>;

export function sessionSearch(index: string, q: SessionQuery): estypes.SearchRequest {
  // Sessions active in the range: started before its end, last event at or after its start.
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { end: { gte: q.from, format: 'epoch_millis' } } },
    { range: { start: { lt: q.to, format: 'epoch_millis' } } },
    ...optionalTerms({ closed: q.closed, visitor_id: q.visitor, site_id: q.site }),
  ];
  return {
    ...listingSearch(index, q.limit, filter, [{ end: 'desc' }, { session_id: 'asc' }]),
    _source: SESSION_API_FIELDS,
    aggs: {
      open: { filter: term('closed', false) },
      purchased: { filter: term('purchased', true) },
      added_to_cart: { filter: term('added_to_cart', true) },
      bounced: { filter: { range: { pages: { lte: 1 } } } },
      ...sums(['pages', 'events', 'duration_ms']),
      revenue_by_currency: revenueAgg(),
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
  const a = (res.aggregations ?? {}) as Record<string, { doc_count?: number; value?: number | null }> & { revenue_by_currency?: RevenueAgg };
  const count = (k: string) => a[k]?.doc_count ?? 0;
  const sum = (k: string) => a[k]?.value ?? 0;
  return {
    ...rangeEcho(q),
    summary: finishSessions({
      sessions: hitCount(res),
      open: count('open'),
      purchased: count('purchased'),
      added_to_cart: count('added_to_cart'),
      bounced: count('bounced'),
      pages: sum('pages'),
      events: sum('events'),
      duration_ms: sum('duration_ms'),
      revenue_by_currency: revenueFromAgg(a.revenue_by_currency),
    }),
    sessions: res.hits.hits.map((h) => h._source as SessionRow),
  };
}
