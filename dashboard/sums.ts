/**
 * Query-time summing of the processor's per-partition partial documents, as pure functions.
 *
 * The processor writes one KPI document per window x dimension x partition and one URL-stats
 * document per window x URL x country x partition (processor/analytics/engine.ts). Because every
 * event is keyed by visitor, a visitor's events all sit on one partition, so every field of those
 * documents adds up exactly across partitions: counts, revenue, and the distinct-visitor counts
 * (sums of disjoint sets). Rates are never summed or averaged: they are recomputed here from the
 * summed numerators and denominators (conversion = Σ visitors_purchased / Σ unique_visitors).
 *
 * Two ways in, one way out: `sumKpiPartials` / `sumUrlPartials` add documents one by one (the
 * definition, used by the tests), `kpiWindowsFromAgg` / `urlStatsFromAgg` read the `sum`
 * sub-aggregations Elasticsearch computed over the same documents; both end in `finishKpi` /
 * `finishUrl`. Revenue is carried in integer 1/10,000 units, as the processor stores it
 * (REVENUE_SCALE), so a sum does not depend on the order of its terms.
 */

export { revenueAgg, revenueFromAgg, type RevenueAgg } from '../contracts/documents.js';
import {
  addRevenue,
  KPI_COUNT_FIELDS,
  KPI_SUM_FIELDS,
  REVENUE_SCALE,
  revenueList,
  toRevenueUnits,
  revenueFromAgg,
  type CurrencyRevenue,
  type RevenueAgg,
  URL_SUM_FIELDS,
  type KpiDoc,
  type KpiSumField,
  type UrlStatsDoc,
  type UrlSumField,
} from '../contracts/documents.js';

export type KpiSums = Record<KpiSumField, number>;

/**
 * Counts of events (and revenue per currency) that also add up across consecutive tumbling
 * windows. The distinct counts (visitors, sessions) do not: a visitor active in two windows is in both.
 */
export const EVENT_TOTAL_FIELDS = ['page_views', 'clicks', 'add_to_cart', 'purchases', 'late_events'] as const;
export type EventTotals = Record<(typeof EVENT_TOTAL_FIELDS)[number], number> & { revenue_by_currency: CurrencyRevenue[] };

/** Per-currency revenue lists added up currency by currency (exact, in 1/REVENUE_SCALE units); never across currencies. */
export function sumRevenue(lists: Iterable<readonly CurrencyRevenue[] | null | undefined>): CurrencyRevenue[] {
  const m = new Map<string, { purchases: number; units: number }>();
  for (const list of lists) for (const c of list ?? []) addRevenue(m, c.currency, num(c.purchases), toRevenueUnits(c.revenue));
  return revenueList(m);
}

export interface KpiTotals extends KpiSums {
  /** Purchases and revenue per currency, sorted by currency. */
  revenue_by_currency: CurrencyRevenue[];
  /** Σ visitors_purchased / Σ unique_visitors; null when there were no visitors. */
  conversion_rate: number | null;
  /** Σ visitors_carted_and_purchased / Σ visitors_added_to_cart; null when nobody added to cart. */
  cart_to_purchase_rate: number | null;
}

export interface KpiWindow extends KpiTotals {
  window_start: string;
  window_end: string;
  /** Partial documents summed (one per partition that saw an event in the window). */
  partitions: number;
  /** Every partial is final (the watermark of each of those partitions passed window_end). */
  final: boolean;
}

/** A KPI document as the processor writes it (contracts/documents.ts), possibly from an older version. */
export type KpiPartial = Pick<KpiDoc, 'window_start' | 'window_end'> & Partial<KpiDoc>;

export type UrlSums = Record<UrlSumField, number>;
export interface UrlTotals extends UrlSums {
  /** Σ time_spent_ms / Σ time_spent_samples (views whose time is known); null when none is known. */
  avg_time_spent_ms: number | null;
  /** Purchases on the URL and their revenue, summed currency by currency. */
  revenue_by_currency: CurrencyRevenue[];
}

/** A URL x country document as the processor writes it (contracts/documents.ts). */
export type UrlPartial = Pick<UrlStatsDoc, 'window_start' | 'url' | 'country'> & Partial<UrlStatsDoc>;

export interface UrlCountryRow extends UrlTotals {
  country: string;
}
export interface UrlRow extends UrlTotals {
  url: string;
  /** This URL's countries, most page views first. */
  countries: UrlCountryRow[];
}

export const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/**
 * A sum of revenue partials computed in floating point (Elasticsearch's `sum`) back to the exact
 * decimal: every partial is a multiple of 1/10,000, so the float sum is within far less than half
 * a unit of the exact one and rounding recovers it.
 */
export const roundRevenue = (sum: number): number => Math.round(sum * REVENUE_SCALE) / REVENUE_SCALE;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function emptyKpiSums(): KpiSums {
  return Object.fromEntries(KPI_SUM_FIELDS.map((f) => [f, 0])) as KpiSums;
}

/** Rates from summed numerators and denominators; revenue to its 1/10,000 precision. */
export function finishKpi(s: KpiSums, revenue: readonly CurrencyRevenue[]): KpiTotals {
  return {
    ...s,
    revenue_by_currency: revenue.map((c) => ({ currency: c.currency, purchases: c.purchases, revenue: roundRevenue(c.revenue) })),
    conversion_rate: ratio(s.visitors_purchased, s.unique_visitors),
    cart_to_purchase_rate: ratio(s.visitors_carted_and_purchased, s.visitors_added_to_cart),
  };
}

/** Adds partial KPI documents (of one window, or of several windows for event totals). */
export function sumKpiPartials(docs: readonly (Partial<KpiSums> & { revenue_by_currency?: readonly CurrencyRevenue[] })[]): KpiTotals {
  const s = emptyKpiSums();
  for (const d of docs) for (const f of KPI_COUNT_FIELDS) s[f] += num(d[f]);
  return finishKpi(s, sumRevenue(docs.map((d) => d.revenue_by_currency)));
}

/** Groups partial documents by window start and sums each window; oldest first. */
export function kpiWindowsFromPartials(docs: readonly KpiPartial[]): KpiWindow[] {
  const byStart = new Map<number, KpiPartial[]>();
  for (const d of docs) {
    const t = Date.parse(d.window_start);
    const list = byStart.get(t);
    if (list) list.push(d);
    else byStart.set(t, [d]);
  }
  return [...byStart.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, list]) => ({
      window_start: new Date(start).toISOString(),
      window_end: new Date(Math.max(...list.map((d) => Date.parse(d.window_end)))).toISOString(),
      partitions: list.length,
      final: list.every((d) => d.final === true),
      ...sumKpiPartials(list),
    }));
}

/**
 * Event counts and revenue over several windows. Only meaningful for windows that do not overlap
 * (tumbling): a sliding window's events are also in its neighbours. Distinct counts are left out
 * on purpose (a visitor active in two windows would count twice).
 */
export function eventTotals(windows: readonly (Pick<KpiSums, (typeof EVENT_TOTAL_FIELDS)[number]> & { revenue_by_currency?: readonly CurrencyRevenue[] })[]): EventTotals {
  const out = Object.fromEntries(EVENT_TOTAL_FIELDS.map((f) => [f, 0])) as Record<(typeof EVENT_TOTAL_FIELDS)[number], number>;
  for (const w of windows) for (const f of EVENT_TOTAL_FIELDS) out[f] += num(w[f]);
  return { ...out, revenue_by_currency: sumRevenue(windows.map((w) => w.revenue_by_currency)) };
}

export function emptyUrlSums(): UrlSums {
  return Object.fromEntries(URL_SUM_FIELDS.map((f) => [f, 0])) as UrlSums;
}

export function finishUrl(s: UrlSums, revenue: CurrencyRevenue[] = []): UrlTotals {
  return { ...s, avg_time_spent_ms: ratio(s.time_spent_ms, s.time_spent_samples), revenue_by_currency: revenue };
}

function addUrl(into: UrlSums, d: Partial<UrlSums>): void {
  for (const f of URL_SUM_FIELDS) into[f] += num(d[f]);
}

const byViews = <T extends { page_views: number }>(key: (x: T) => string) => (a: T, b: T) =>
  b.page_views - a.page_views || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * URL x country partials summed per URL and per URL x country: the `urlLimit` URLs with the most
 * page views, each with its `countryLimit` countries with the most page views (ties by name).
 * The per-URL totals cover all of the URL's countries, not only the listed ones.
 */
export function sumUrlPartials(docs: readonly UrlPartial[], urlLimit = Infinity, countryLimit = Infinity): UrlRow[] {
  type Part = { sums: UrlSums; revenue: CurrencyRevenue[][] };
  const urls = new Map<string, Part & { countries: Map<string, Part> }>();
  for (const d of docs) {
    let u = urls.get(d.url);
    if (!u) urls.set(d.url, (u = { sums: emptyUrlSums(), revenue: [], countries: new Map() }));
    addUrl(u.sums, d);
    u.revenue.push(d.revenue_by_currency ?? []);
    let c = u.countries.get(d.country);
    if (!c) u.countries.set(d.country, (c = { sums: emptyUrlSums(), revenue: [] }));
    addUrl(c.sums, d);
    c.revenue.push(d.revenue_by_currency ?? []);
  }
  return [...urls.entries()]
    .map(([url, u]) => ({
      url,
      ...finishUrl(u.sums, sumRevenue(u.revenue)),
      countries: [...u.countries.entries()]
        .map(([country, c]) => ({ country, ...finishUrl(c.sums, sumRevenue(c.revenue)) }))
        .sort(byViews((x) => x.country))
        .slice(0, countryLimit),
    }))
    .sort(byViews((x) => x.url))
    .slice(0, urlLimit);
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch aggregation responses (the shapes the dashboard's *-query.ts modules ask for).

export interface SumAgg {
  value: number | null;
}
export type SumAggs<F extends string> = Record<F, SumAgg>;

export interface KpiWindowBucket extends SumAggs<KpiSumField> {
  key: number;
  doc_count: number;
  revenue_by_currency?: RevenueAgg;
  window_end: { value: number | null };
  not_final: { doc_count: number };
}

export interface UrlCountryBucket extends SumAggs<UrlSumField> {
  key: string;
  doc_count: number;
  revenue_by_currency?: RevenueAgg;
}
export interface UrlBucket extends SumAggs<UrlSumField> {
  key: string;
  doc_count: number;
  revenue_by_currency?: RevenueAgg;
  countries: { buckets: UrlCountryBucket[] };
}

function readSums<F extends string>(fields: readonly F[], b: Partial<SumAggs<F>>): Record<F, number> {
  return Object.fromEntries(fields.map((f) => [f, num(b[f]?.value)])) as Record<F, number>;
}

/** KPI windows from a `terms` aggregation on window_start (any order in, oldest first out). */
export function kpiWindowsFromAgg(buckets: readonly KpiWindowBucket[]): KpiWindow[] {
  return [...buckets]
    .sort((a, b) => a.key - b.key)
    .map((b) => ({
      window_start: new Date(b.key).toISOString(),
      window_end: new Date(num(b.window_end.value)).toISOString(),
      partitions: b.doc_count,
      final: b.not_final.doc_count === 0,
      ...finishKpi(readSums(KPI_SUM_FIELDS, b), revenueFromAgg(b.revenue_by_currency)),
    }));
}

/** URL rows from a `terms` on url with a `terms` on country inside (already ordered by page views). */
export function urlStatsFromAgg(buckets: readonly UrlBucket[]): UrlRow[] {
  return buckets.map((u) => ({
    url: u.key,
    ...finishUrl(readSums(URL_SUM_FIELDS, u), revenueFromAgg(u.revenue_by_currency)),
    countries: u.countries.buckets.map((c) => ({ country: c.key, ...finishUrl(readSums(URL_SUM_FIELDS, c), revenueFromAgg(c.revenue_by_currency)) })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Sessions: one document per session (a session lives on one partition), so nothing to merge;
// the summary's rates come from its sums too.

export interface SessionSummarySums {
  sessions: number;
  open: number;
  purchased: number;
  added_to_cart: number;
  bounced: number;
  pages: number;
  events: number;
  duration_ms: number;
  revenue_by_currency: CurrencyRevenue[];
}
export interface SessionSummary extends SessionSummarySums {
  /** Sessions with a purchase / sessions. */
  purchase_rate: number | null;
  /** Sessions of at most one page view / sessions. */
  bounce_rate: number | null;
  avg_duration_ms: number | null;
  avg_pages: number | null;
}

export function finishSessions(s: SessionSummarySums): SessionSummary {
  return {
    ...s,
    purchase_rate: ratio(s.purchased, s.sessions),
    bounce_rate: ratio(s.bounced, s.sessions),
    avg_duration_ms: ratio(s.duration_ms, s.sessions),
    avg_pages: ratio(s.pages, s.sessions),
  };
}
