import { ENRICHED_FIELDS, type FieldKind } from './event-schema.js';

/**
 * Index names and explicit mappings, shared by infra (which installs the templates),
 * the processor (which writes) and the dashboards (which read).
 */

export function indexNames(prefix: string) {
  return {
    /** Raw events, one index per UTC day the gateway received them: `${prefix}-events-2026.11.22`. */
    eventsPattern: `${prefix}-events-*`,
    kpis: `${prefix}-kpis`,
    urlStats: `${prefix}-url-stats`,
    sessions: `${prefix}-sessions`,
    alerts: `${prefix}-alerts`,
  };
}

/**
 * The daily index an event belongs to: the UTC day of its `received_at`, the gateway's clock.
 * Not the event time: that one a client claims, and no client input may decide how many indices
 * (shards) exist; the receive time only moves with the wall clock, so one request creates at
 * most one index. Stored in the event, so a replay writes the same document into the same index.
 */
export function eventIndexFor(prefix: string, receivedAtIso: string): string {
  return `${prefix}-events-${receivedAtIso.slice(0, 10).replaceAll('-', '.')}`;
}

const ES_TYPE: Record<FieldKind, object> = {
  keyword: { type: 'keyword', ignore_above: 2048 },
  text: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 512 } } },
  date: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
  long: { type: 'long' },
  double: { type: 'double' },
  boolean: { type: 'boolean' },
  geo_point: { type: 'geo_point' },
  // Kept in _source for reading back, not indexed: its shape is the event type's business.
  json: { type: 'object', enabled: false },
};

export const eventMappings = {
  dynamic: 'strict',
  properties: Object.fromEntries(Object.entries(ENRICHED_FIELDS).map(([name, kind]) => [name, ES_TYPE[kind]])),
} as const;

const kw = { type: 'keyword' } as const;
const num = { type: 'double' } as const;
const cnt = { type: 'long' } as const;
const date = { type: 'date' } as const;

/** Window KPI documents: one per window x dimension x partition (summed at query time). */
export const kpiMappings = {
  dynamic: 'strict',
  properties: {
    window_kind: kw, // tumbling_1m, sliding_5m ...
    window_start: date,
    window_end: date,
    dimension: kw, // all, site, country, device
    dimension_value: kw,
    partition: cnt,
    page_views: cnt,
    clicks: cnt,
    add_to_cart: cnt,
    purchases: cnt,
    revenue: num,
    unique_visitors: cnt,
    visitors_added_to_cart: cnt,
    visitors_purchased: cnt,
    /** Visitors who added to cart and bought in the window: numerator of cart_to_purchase_rate. */
    visitors_carted_and_purchased: cnt,
    sessions: cnt,
    /** visitors_purchased / unique_visitors (global: sum both over partitions, then divide). */
    conversion_rate: num,
    /** visitors_carted_and_purchased / visitors_added_to_cart. */
    cart_to_purchase_rate: num,
    late_events: cnt,
    /** True once the watermark passed window_end: the values will not change any more. */
    final: { type: 'boolean' },
    updated_at: date,
  },
} as const;

export const urlStatsMappings = {
  dynamic: 'strict',
  properties: {
    window_start: date,
    window_end: date,
    url: kw,
    country: kw,
    partition: cnt,
    unique_users: cnt,
    page_views: cnt,
    clicks: cnt,
    time_spent_ms: cnt,
    /** Page views whose time on page is known (followed by another view, or engagement reported). */
    time_spent_samples: cnt,
    /** Last page views of sessions with no engagement report: left out of the average. */
    views_without_time: cnt,
    avg_time_spent_ms: num,
    final: { type: 'boolean' },
    updated_at: date,
  },
} as const;

export const sessionMappings = {
  dynamic: 'strict',
  properties: {
    session_id: kw,
    visitor_id: kw,
    site_id: kw,
    start: date,
    end: date,
    duration_ms: cnt,
    pages: cnt,
    events: cnt,
    entry_page: kw,
    exit_page: kw,
    country: kw,
    device_type: kw,
    added_to_cart: { type: 'boolean' },
    purchased: { type: 'boolean' },
    revenue: num,
    closed: { type: 'boolean' },
    partition: cnt,
    updated_at: date,
  },
} as const;

export const alertMappings = {
  dynamic: 'strict',
  properties: {
    alert_id: kw,
    kind: kw, // click_burst, kpi_anomaly ...
    severity: kw,
    visitor_id: kw,
    site_id: kw,
    message: { type: 'text' },
    value: num,
    threshold: num,
    window_start: date,
    window_end: date,
    event_time: date,
    raised_at: date,
  },
} as const;

/** Every index template infra installs: name -> { patterns, mappings }. */
export function indexTemplates(prefix: string) {
  const n = indexNames(prefix);
  return {
    [`${prefix}-events`]: { index_patterns: [n.eventsPattern], mappings: eventMappings },
    [`${prefix}-kpis`]: { index_patterns: [n.kpis], mappings: kpiMappings },
    [`${prefix}-url-stats`]: { index_patterns: [n.urlStats], mappings: urlStatsMappings },
    [`${prefix}-sessions`]: { index_patterns: [n.sessions], mappings: sessionMappings },
    [`${prefix}-alerts`]: { index_patterns: [n.alerts], mappings: alertMappings },
  };
}
