/** GET /api/kpis: KPI windows of one kind and cut, summed over partitions (one row per window). Pure. */
import type { estypes } from '@elastic/elasticsearch';
import { DIMENSIONS, KPI_SUM_FIELDS } from '../contracts/documents.js';
import { ParamError } from './errors.js';
import { keywordParam, parseIntParam, range, rangeEcho, type Query, type Range } from './params.js';
import { common, rangeFilter, sums, term } from './search-parts.js';
import { overlayLiveWindows } from './live-windows.js';
import { eventTotals, kpiWindowsFromAgg, revenueAgg, type EventTotals, type KpiPartial, type KpiWindow, type KpiWindowBucket } from './sums.js';

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
      // The highest partition seen: the real-time read asks for every partition up to it (dashboard/live-read.ts).
      partition_max: { max: { field: 'partition' } },
      windows: {
        // The newest windows when there are more than `limit`; returned oldest first.
        terms: { field: 'window_start', size: q.limit, order: { _key: 'desc' } },
        aggs: {
          ...sums(KPI_SUM_FIELDS),
          revenue_by_currency: revenueAgg(),
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
   * Event counts and revenue per currency over the returned windows, for tumbling windows only (sliding
   * windows overlap, so their sum would count events several times): null for sliding ones.
   */
  totals: EventTotals | null;
  /** Windows whose figures come from the real-time read of their documents (dashboard/live-windows.ts), not the search. */
  realtime_windows: number;
}

/** The search's windows, with `live` (partial documents of the windows that may still change, read in real time) put over them. */
export function kpiResponse(q: KpiQuery, res: estypes.SearchResponse, live: readonly KpiPartial[] = []): KpiResponse {
  const agg = res.aggregations?.windows as { buckets: KpiWindowBucket[]; sum_other_doc_count?: number } | undefined;
  const o = overlayLiveWindows(kpiWindowsFromAgg(agg?.buckets ?? []), live, q.limit);
  return {
    window: q.window,
    dimension: q.dimension,
    value: q.value,
    ...rangeEcho(q),
    windows: o.windows,
    truncated: (agg?.sum_other_doc_count ?? 0) > 0 || o.dropped > 0,
    totals: q.window.startsWith('tumbling_') ? eventTotals(o.windows) : null,
    realtime_windows: o.realtime,
  };
}
