/**
 * The documents the processor writes to Elasticsearch and the dashboards read: one field table
 * per document kind, from which the TypeScript type (here), the index mapping
 * (contracts/indices.ts), the dashboard's `_source` lists and the test fixtures derive.
 *
 * KPI and URL x country documents are per-partition partials: every count adds up exactly
 * across partitions (a visitor's events all sit on one partition), rates are recomputed from the
 * summed parts by the reader (see ARCHITECTURE.md "Exact global KPIs").
 */

/**
 * A document field's Elasticsearch type; a trailing `?` means it may be null or absent.
 * `revenue` is a list of `CurrencyRevenue`, one per currency (a `nested` field): revenue is kept
 * per currency everywhere, never added across currencies.
 */
export type DocFieldKind = 'keyword' | 'keyword?' | 'text' | 'date' | 'date?' | 'long' | 'double' | 'double?' | 'boolean' | 'revenue';

/** The purchases and revenue of one ISO 4217 currency, in every KPI cut, URL stat and session. */
export interface CurrencyRevenue {
  currency: string;
  purchases: number;
  /** Exact to 1/REVENUE_SCALE of the currency unit. */
  revenue: number;
}

type ValueOf<K> = K extends 'keyword' | 'text' | 'date'
  ? string
  : K extends 'keyword?' | 'date?'
    ? string | null
    : K extends 'long' | 'double'
      ? number
      : K extends 'double?'
        ? number | null
        : K extends 'boolean'
          ? boolean
          : K extends 'revenue'
            ? CurrencyRevenue[]
            : never;
type Nullable<F> = { [N in keyof F]: F[N] extends `${string}?` ? N : never }[keyof F];

/** The document type of a field table: nullable fields may also be left out. */
export type DocOf<F extends Record<string, DocFieldKind>> = { -readonly [N in Exclude<keyof F, Nullable<F>>]: ValueOf<F[N]> } & {
  -readonly [N in Nullable<F>]?: ValueOf<F[N]>;
};

/** Revenue is summed in integer 1/10,000 units of the currency, so a sum does not depend on the order of its terms. */
export const REVENUE_SCALE = 10_000;

/** An amount in integer 1/REVENUE_SCALE units (0 when missing), as revenue is summed. */
export const toRevenueUnits = (amount: number | null | undefined): number =>
  typeof amount === 'number' && Number.isFinite(amount) ? Math.round(amount * REVENUE_SCALE) : 0;

/**
 * The dimensions every KPI window is cut by; `all` has the single value `all`. Every cut keeps
 * revenue per currency (`revenue_by_currency`); the `currency` cut (value: the purchase's ISO 4217
 * code) holds the purchases, buyers and revenue of one currency, for readers that cannot read a
 * nested field (Kibana's Lens).
 */
export const DIMENSIONS = ['all', 'site', 'country', 'device', 'currency'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Counts of a KPI document that add up across partitions (distinct counts too: disjoint sets). */
export const KPI_COUNT_FIELDS = [
  'page_views',
  'clicks',
  'add_to_cart',
  'purchases',
  'unique_visitors',
  'visitors_added_to_cart',
  'visitors_purchased',
  /** Visitors who added to cart and bought in the window: numerator of cart_to_purchase_rate. */
  'visitors_carted_and_purchased',
  'sessions',
  'late_events',
] as const;
/** Every KPI number summed at query time (revenue apart: per currency, `revenue_by_currency`). */
export const KPI_SUM_FIELDS = KPI_COUNT_FIELDS;
export type KpiSumField = (typeof KPI_SUM_FIELDS)[number];

/** One KPI document per window kind x window x dimension value x partition. */
export const KPI_FIELDS = {
  /** tumbling_1m, sliding_5m_1m ... (contracts/windows.ts). */
  window_kind: 'keyword',
  window_start: 'date',
  window_end: 'date',
  dimension: 'keyword',
  dimension_value: 'keyword',
  partition: 'long',
  ...(Object.fromEntries(KPI_COUNT_FIELDS.map((f) => [f, 'long'])) as Record<(typeof KPI_COUNT_FIELDS)[number], 'long'>),
  /** Purchases and revenue of the window per currency, sorted by currency; never a sum of currencies. */
  revenue_by_currency: 'revenue',
  /** visitors_purchased / unique_visitors of this partition (global: sum both over partitions, then divide). */
  conversion_rate: 'double',
  /** visitors_carted_and_purchased / visitors_added_to_cart of this partition. */
  cart_to_purchase_rate: 'double',
  /** True once the watermark passed window_end: the values will not change any more. */
  final: 'boolean',
} as const satisfies Record<string, DocFieldKind>;
export type KpiDoc = DocOf<typeof KPI_FIELDS>;

/** The dimension value (KPI cuts, URL stats' country) of an event without that field. */
export const MISSING_VALUE = 'unknown';

/**
 * Distinct users over a range (URL x country, site): never a sum of per-window counts (a user
 * active in two windows would count twice), but counted over the raw events of the range
 * (dashboard/distinct-users.ts): exactly (a `composite` aggregation paged over the visitor ids)
 * while Elasticsearch's `cardinality` estimate is at most `exactUpTo`, the estimate beyond
 * (HyperLogLog++ with `precisionThreshold`; measured within 0.4 % from 20,000 to 100,000
 * distinct, README "Distinct users over a range"). The estimate alone is not exact even well
 * below its threshold: -4 to +1 at 10,000 distinct ids here.
 */
export const DISTINCT_USERS = { exactUpTo: 20_000, precisionThreshold: 40_000 } as const;

/** Fields of a URL x country document summed at query time. */
export const URL_SUM_FIELDS = [
  /** Distinct users of this window and partition; over a range see DISTINCT_USERS (not the sum). */
  'unique_users',
  'page_views',
  'clicks',
  'time_spent_ms',
  /** Page views whose time on page is known (followed by another view, or engagement reported). */
  'time_spent_samples',
  /** Last page views of sessions with no engagement report: left out of the average. */
  'views_without_time',
] as const;
export type UrlSumField = (typeof URL_SUM_FIELDS)[number];

/** One URL x country document per tumbling window x site x URL x country x partition. */
export const URL_STATS_FIELDS = {
  window_start: 'date',
  window_end: 'date',
  url: 'keyword',
  country: 'keyword',
  /** The site the URL was seen on (null for events without a site). */
  site_id: 'keyword?',
  partition: 'long',
  ...(Object.fromEntries(URL_SUM_FIELDS.map((f) => [f, 'long'])) as Record<UrlSumField, 'long'>),
  /** time_spent_ms / time_spent_samples of this partition; null when no view's time is known. */
  avg_time_spent_ms: 'double?',
  /** Purchases made on this URL (the page the purchase event was sent from) and their revenue, per currency; never a sum of currencies. */
  revenue_by_currency: 'revenue',
  final: 'boolean',
} as const satisfies Record<string, DocFieldKind>;
export type UrlStatsDoc = DocOf<typeof URL_STATS_FIELDS>;

/** One document per session id (a session lives on one partition). */
export const SESSION_FIELDS = {
  session_id: 'keyword',
  visitor_id: 'keyword',
  site_id: 'keyword?',
  start: 'date',
  end: 'date',
  duration_ms: 'long',
  pages: 'long',
  events: 'long',
  entry_page: 'keyword?',
  exit_page: 'keyword?',
  country: 'keyword?',
  device_type: 'keyword?',
  added_to_cart: 'boolean',
  purchased: 'boolean',
  /** The session's purchases and revenue per currency. */
  revenue_by_currency: 'revenue',
  /** True once the watermark is SESSION_GAP_S past the session's last event. */
  closed: 'boolean',
  partition: 'long',
} as const satisfies Record<string, DocFieldKind>;
export type SessionDoc = DocOf<typeof SESSION_FIELDS>;

/** One document per alert raised; `alert_id` is its deterministic id. */
export const ALERT_FIELDS = {
  alert_id: 'keyword',
  /**
   * click_burst (a visitor), network_burst (a site + anonymised network prefix), bot_session, and
   * the site-level traffic_spike, traffic_drop, purchases_stopped, conversion_drop (key: the site).
   */
  kind: 'keyword',
  /** warning or critical. */
  severity: 'keyword',
  visitor_id: 'keyword?',
  site_id: 'keyword?',
  /** What the alert is about: the visitor id, the network prefix or the session id. */
  key: 'keyword?',
  message: 'text',
  /** What was observed (clicks in the span, the session's isolation score, the site window's visitors or purchases). */
  value: 'double',
  /** What it had to reach to be an alert (site-level: the |score| threshold). */
  threshold: 'double',
  /** What was expected (the population median of the span, the key's usual count). */
  expected: 'double?',
  /** How anomalous, on the detector's own scale (observed / threshold for bursts, the isolation score for sessions). */
  score: 'double?',
  /** The detector's figures, JSON (at most 2 KB). */
  evidence: 'keyword?',
  window_start: 'date?',
  window_end: 'date?',
  /** Event time of the event that raised it. */
  event_time: 'date?',
  /** = event_time: a replay raises the same alert with the same document. */
  raised_at: 'date',
} as const satisfies Record<string, DocFieldKind>;
export type AlertDoc = DocOf<typeof ALERT_FIELDS>;

/**
 * The webhook delivery state an alert document carries beside its fields (the outbox,
 * processor/alerts/outbox.ts): written with the alert when ALERT_WEBHOOK_URL is set, updated by
 * each delivery attempt. Not part of the webhook body, which is the alert's ALERT_FIELDS only.
 */
export const ALERT_DELIVERY_FIELDS = {
  /** pending (to deliver), delivered (a 2xx came back), dead (given up: ALERT_WEBHOOK_MAX_ATTEMPTS or ALERT_WEBHOOK_MAX_AGE_S), skipped (older than ALERT_WEBHOOK_MAX_AGE_S when first written). */
  delivery: 'keyword?',
  delivery_attempts: 'long',
  /** Wall clock when the alert was first written (its delivery's age counts from here). */
  queued_at: 'date?',
  /** When a pending delivery is due (its next attempt). */
  next_attempt_at: 'date?',
  delivered_at: 'date?',
  /** Why the last attempt failed (HTTP status or network error). */
  delivery_error: 'keyword?',
} as const satisfies Record<string, DocFieldKind>;
export type AlertDelivery = DocOf<typeof ALERT_DELIVERY_FIELDS>;
export type AlertDeliveryState = 'pending' | 'delivered' | 'dead' | 'skipped';

/** The field names of a table, in its order (for `_source` lists and fixtures). */
export const fieldNames = <F extends Record<string, DocFieldKind>>(fields: F): (keyof F & string)[] => Object.keys(fields);

/**
 * Adds one purchase to a per-currency revenue map (amounts in 1/REVENUE_SCALE units), the one
 * way every aggregate adds revenue.
 */
export function addRevenue(into: Map<string, { purchases: number; units: number }>, currency: string, purchases: number, units: number): void {
  const c = into.get(currency);
  if (c) {
    c.purchases += purchases;
    c.units += units;
  } else into.set(currency, { purchases, units });
}

/** A per-currency revenue map as the documents hold it: sorted by currency, amounts exact. */
export function revenueList(from: ReadonlyMap<string, { purchases: number; units: number }>): CurrencyRevenue[] {
  return [...from.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, c]) => ({ currency, purchases: c.purchases, revenue: c.units / REVENUE_SCALE }));
}

/**
 * The Elasticsearch aggregation that sums a nested `revenue` field (contracts/indices.ts) per currency,
 * for every reader of KPI, URL and session documents: never a sum across currencies.
 */
/** The answer of `revenueAgg`. */
export interface RevenueAgg {
  currencies?: { buckets: { key: string; purchases: { value: number | null }; revenue: { value: number | null } }[] };
}

export const revenueAgg = (field = 'revenue_by_currency') => ({
  nested: { path: field },
  aggs: {
    currencies: {
      terms: { field: `${field}.currency`, size: 100, order: { _key: 'asc' as const } },
      aggs: { purchases: { sum: { field: `${field}.purchases` } }, revenue: { sum: { field: `${field}.revenue` } } },
    },
  },
});

/** The per-currency list of a `revenueAgg` answer, amounts back to their exact decimals (every partial is a multiple of 1/REVENUE_SCALE). */
export function revenueFromAgg(a: RevenueAgg | undefined): CurrencyRevenue[] {
  return (a?.currencies?.buckets ?? []).map((b) => ({ currency: String(b.key), purchases: b.purchases.value ?? 0, revenue: Math.round((b.revenue.value ?? 0) * REVENUE_SCALE) / REVENUE_SCALE }));
}

/** The id of a KPI document: `tumbling_1m|2026-11-22T10:00:00.000Z|country|FR|2`. */
export const kpiDocId = (d: Pick<KpiDoc, 'window_kind' | 'window_start' | 'dimension' | 'dimension_value' | 'partition'>): string =>
  `${d.window_kind}|${d.window_start}|${d.dimension}|${d.dimension_value}|${d.partition}`;

/** What the id of a URL x country document hashes (SHA-1, hex; common/document-ids.ts). */
export const urlStatsIdInput = (d: Pick<UrlStatsDoc, 'window_start' | 'url' | 'country' | 'site_id' | 'partition'>): string =>
  `${d.window_start}\u0000${d.url}\u0000${d.country}\u0000${d.partition}${d.site_id ? `\u0000${d.site_id}` : ''}`;
