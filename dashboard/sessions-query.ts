/** GET /api/sessions: the sessions active in a range, newest first, with a summary over all of them. Pure. */
import type { estypes } from '@elastic/elasticsearch';
import { fieldNames, SESSION_FIELDS, type SessionDoc } from '../contracts/documents.js';
import { boolParam, keywordParam, parseIntParam, range, type Query, type Range } from './params.js';
import { common, sums, term } from './search-parts.js';
import { finishSessions, type SessionSummary } from './sums.js';

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
