/**
 * GET /api/overview: the page's key figures over one range and site selection, all from the
 * raw-event index so that every tile counts the same events: distinct visitors, sessions, event
 * counts, the view -> cart -> purchase funnel (distinct visitors per step), revenue per currency
 * (never summed across currencies), visitors now (last 5 minutes), the bot share, the sites seen
 * in the range (for the site selector) and where the data starts. Bots (`is_bot`) are left out of
 * every figure but the bot share. Pure.
 *
 * Distinct counts are Elasticsearch `cardinality` aggregations with the highest precision
 * threshold: close to exact below 40,000 distinct values (HyperLogLog++'s linear counting: -4 to +1
 * at 10,000 measured), within about 1 % beyond. The visitors of the selected sites are then counted
 * exactly when at most DISTINCT_USERS.exactUpTo (`withExactVisitors`, README "Distinct users over a range").
 */
import type { estypes } from '@elastic/elasticsearch';
import { DISTINCT_USERS, REVENUE_SCALE } from '../contracts/documents.js';
import { ParamError } from './errors.js';
import { keywordParam, range, rangeEcho, type Query, type Range } from './params.js';
import { common, rangeFilter, term } from './search-parts.js';

/** Sites a query may select at once. */
export const MAX_SITES = 20;
/** What "visitors now" covers. */
export const NOW_WINDOW_MS = 5 * 60_000;
/** Elasticsearch's maximum precision threshold: counts below it are close to exact (HyperLogLog++ linear counting). */
export const DISTINCT_EXACT_UP_TO = DISTINCT_USERS.precisionThreshold;

export interface SiteRange extends Range {
  /** Empty: every site. */
  sites: string[];
}

/** `site=a,b` (or repeated): the sites to count; empty or absent: all. */
export function parseSites(raw: string | undefined): string[] {
  const v = keywordParam(raw, 'site');
  if (!v) return [];
  const sites = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
  if (sites.length > MAX_SITES) throw new ParamError(`site takes at most ${MAX_SITES} sites; got ${sites.length}`);
  return sites;
}

export function parseSiteRange(q: Query, now: number, defaultSpanMs = 60 * 60_000): SiteRange {
  return { ...range(q, now, defaultSpanMs), sites: parseSites(q.site) };
}

export const distinct = (field: string): estypes.AggregationsAggregationContainer => ({ cardinality: { field, precision_threshold: DISTINCT_EXACT_UP_TO } });
export const notBot: estypes.QueryDslQueryContainer = { bool: { must_not: [term('is_bot', true)] } };
export const siteFilter = (sites: string[], field = 'site_id'): estypes.QueryDslQueryContainer[] => (sites.length ? [{ terms: { [field]: sites } }] : []);
/** Page views that are views, not the SDK's engagement reports (processor/analytics/kpi.ts isView). */
export const viewFilter: estypes.QueryDslQueryContainer = { bool: { filter: [term('event_type', 'page_view')], must_not: [{ exists: { field: 'engagement_ms' } }] } };

export function overviewSearch(eventsPattern: string, q: SiteRange, now: number): estypes.SearchRequest {
  return {
    index: eventsPattern,
    ...common,
    size: 0,
    // The range only: the site list and the first event are for every site.
    query: { bool: { filter: [rangeFilter('timestamp', q)] } },
    aggs: {
      sites: { terms: { field: 'site_id', size: 100, order: { _key: 'asc' } } },
      first_event: { min: { field: 'timestamp' } },
      selected: {
        filter: { bool: { filter: siteFilter(q.sites) } },
        aggs: {
          bots: { filter: term('is_bot', true), aggs: { visitors: distinct('visitor_id') } },
          humans: {
            filter: notBot,
            aggs: {
              visitors: distinct('visitor_id'),
              sessions: distinct('session_id'),
              types: { terms: { field: 'event_type', size: 20 } },
              views: { filter: viewFilter, aggs: { visitors: distinct('visitor_id') } },
              carts: { filter: term('event_type', 'add_to_cart'), aggs: { visitors: distinct('visitor_id') } },
              purchases: {
                filter: term('event_type', 'purchase'),
                aggs: {
                  visitors: distinct('visitor_id'),
                  currencies: { terms: { field: 'currency', size: 50, missing: '', order: { _key: 'asc' } }, aggs: { revenue: { sum: { field: 'revenue' } } } },
                },
              },
              now: { filter: { range: { timestamp: { gte: now - NOW_WINDOW_MS, format: 'epoch_millis' } } }, aggs: { visitors: distinct('visitor_id') } },
            },
          },
        },
      },
    },
  };
}

export interface CurrencyRevenue {
  /** ISO 4217 code; '' for purchases without one. */
  currency: string;
  purchases: number;
  /** Rounded to 1/10,000 of the unit, as the processor sums revenue. */
  revenue: number;
}

export interface FunnelStep {
  step: 'page_view' | 'add_to_cart' | 'purchase';
  /** Distinct visitors who did this step in the range. */
  visitors: number;
  /** visitors / the previous step's visitors (null for the first step or a previous step of 0). */
  from_previous: number | null;
  /** 1 - from_previous. */
  drop_off: number | null;
}

export interface OverviewResponse {
  from: string;
  to: string;
  sites: string[];
  /** Every site in the range, with its event count (bots included), for a site selector. */
  available_sites: { site: string; events: number }[];
  /** The oldest event in the range over every site (null: none), so a page can start its axis there. */
  first_event: string | null;
  visitors: number;
  sessions: number;
  page_views: number;
  clicks: number;
  add_to_cart: number;
  purchases: number;
  /** Distinct visitors who bought / distinct visitors, over the whole range. */
  conversion_rate: number | null;
  /** Distinct visitors who bought / distinct visitors who added to cart. */
  cart_to_purchase_rate: number | null;
  funnel: FunnelStep[];
  revenue: CurrencyRevenue[];
  /** Distinct visitors with an event in the last 5 minutes before the query's clock. */
  visitors_now: number;
  bots: { events: number; visitors: number; share_of_events: number | null };
  /** Distinct counts (but `visitors`) are estimates, close to exact below this many values. */
  distinct_exact_up_to: number;
  /** `visitors` is an exact count (at most DISTINCT_USERS.exactUpTo), not the estimate. */
  visitors_exact: boolean;
}

/** What the exact count of the selected sites' visitors runs over: the same events as `visitors`. */
export const visitorsFilter = (q: SiteRange): estypes.QueryDslQueryContainer[] => [rangeFilter('timestamp', q), ...siteFilter(q.sites), notBot];

/** The response with the exact count of visitors (null: none, the estimate stays); conversion follows it. */
export function withExactVisitors(o: OverviewResponse, exact: number | null): OverviewResponse {
  if (exact === null) return o;
  const buyers = o.funnel[2]?.visitors ?? 0;
  return { ...o, visitors: exact, visitors_exact: true, conversion_rate: ratio(buyers, exact) };
}

type Agg = { doc_count?: number; value?: number | null; value_as_string?: string; buckets?: { key: string | number; doc_count: number; [k: string]: unknown }[]; [k: string]: unknown };

const ratio = (num: number, den: number) => (den > 0 ? num / den : null);

export function overviewResponse(q: SiteRange, res: estypes.SearchResponse): OverviewResponse {
  const a = (res.aggregations ?? {}) as Record<string, Agg>;
  const sel = (a.selected ?? {}) as Record<string, Agg>;
  const h = (sel.humans ?? {}) as Record<string, Agg>;
  const sub = (x: Agg | undefined, k: string) => ((x ?? {}) as Record<string, Agg>)[k];
  const visitorsOf = (k: string) => sub(h[k], 'visitors')?.value ?? 0;
  const types = Object.fromEntries((h.types?.buckets ?? []).map((b) => [String(b.key), b.doc_count]));
  const humanEvents = sel.humans?.doc_count ?? 0;
  const botEvents = sel.bots?.doc_count ?? 0;
  const visitors = h.visitors?.value ?? 0;
  const viewers = visitorsOf('views');
  const carters = visitorsOf('carts');
  const buyers = visitorsOf('purchases');
  const steps: [FunnelStep['step'], number][] = [
    ['page_view', viewers],
    ['add_to_cart', carters],
    ['purchase', buyers],
  ];
  const funnel = steps.map(([step, n], i) => {
    const prev = i ? steps[i - 1][1] : 0;
    const r = i ? ratio(n, prev) : null;
    return { step, visitors: n, from_previous: r, drop_off: r === null ? null : 1 - r };
  });
  const currencies = sub(h.purchases, 'currencies')?.buckets ?? [];
  return {
    ...rangeEcho(q),
    sites: q.sites,
    available_sites: (a.sites?.buckets ?? []).map((b) => ({ site: String(b.key), events: b.doc_count })),
    first_event: a.first_event?.value_as_string ?? (typeof a.first_event?.value === 'number' ? new Date(a.first_event.value).toISOString() : null),
    visitors,
    sessions: h.sessions?.value ?? 0,
    // Engagement reports are page_view events but not views.
    page_views: h.views?.doc_count ?? 0,
    clicks: types.click ?? 0,
    add_to_cart: types.add_to_cart ?? 0,
    purchases: types.purchase ?? 0,
    conversion_rate: ratio(buyers, visitors),
    cart_to_purchase_rate: ratio(buyers, carters),
    funnel,
    revenue: currencies.map((b) => ({
      currency: String(b.key),
      purchases: b.doc_count,
      revenue: Math.round(((b.revenue as Agg | undefined)?.value ?? 0) * REVENUE_SCALE) / REVENUE_SCALE,
    })),
    visitors_now: visitorsOf('now'),
    bots: { events: botEvents, visitors: sub(sel.bots, 'visitors')?.value ?? 0, share_of_events: ratio(botEvents, botEvents + humanEvents) },
    distinct_exact_up_to: DISTINCT_EXACT_UP_TO,
    visitors_exact: false,
  };
}
