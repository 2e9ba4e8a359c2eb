import { SETTINGS, type Config } from './config.js';
import { ALERT_DELIVERY_FIELDS, ALERT_FIELDS, KPI_FIELDS, SESSION_FIELDS, URL_STATS_FIELDS, type DocFieldKind } from './documents.js';
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

/**
 * A raw event's document id: its identity, site and event id (`shop:evt-123`; the event id
 * alone when the event has no site). Event ids are chosen by clients, so two sites may use the
 * same one: neither may overwrite the other's document. Unambiguous: event ids have no colon.
 */
export function eventDocId(e: { site_id: string | null; event_id: string }): string {
  return e.site_id ? `${e.site_id}:${e.event_id}` : e.event_id;
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

const DOC_ES_TYPE: Record<DocFieldKind, object> = {
  keyword: { type: 'keyword' },
  'keyword?': { type: 'keyword' },
  text: { type: 'text' },
  date: { type: 'date' },
  'date?': { type: 'date' },
  long: { type: 'long' },
  double: { type: 'double' },
  'double?': { type: 'double' },
  boolean: { type: 'boolean' },
  // nested: a sum per currency is a nested terms aggregation on currency.
  revenue: { type: 'nested', properties: { currency: { type: 'keyword' }, purchases: { type: 'long' }, revenue: { type: 'double' } } },
};

/** The explicit mapping of an output document's field table (contracts/documents.ts). */
function docMappings(fields: Record<string, DocFieldKind>) {
  return { dynamic: 'strict', properties: Object.fromEntries(Object.entries(fields).map(([name, kind]) => [name, DOC_ES_TYPE[kind]])) } as const;
}

/** Window KPI documents: one per window x dimension x partition (summed at query time). */
export const kpiMappings = docMappings(KPI_FIELDS);
export const urlStatsMappings = docMappings(URL_STATS_FIELDS);
export const sessionMappings = docMappings(SESSION_FIELDS);
/** Alerts: the alert's fields and its webhook delivery state (the outbox). */
export const alertMappings = docMappings({ ...ALERT_FIELDS, ...ALERT_DELIVERY_FIELDS });

/** ES_KPI_TRANSLOG_DURABILITY's values (Elasticsearch's `index.translog.durability`). */
export const TRANSLOG_DURABILITIES = ['request', 'async'] as const;
export type TranslogDurability = (typeof TRANSLOG_DURABILITIES)[number];

/** ES_KPI_TRANSLOG_DURABILITY checked; throws on a value Elasticsearch does not know. */
export function kpiTranslogDurability(cfg: Pick<Config, 'esKpiTranslogDurability'>): TranslogDurability {
  const v = cfg.esKpiTranslogDurability;
  if ((TRANSLOG_DURABILITIES as readonly string[]).includes(v)) return v as TranslogDurability;
  throw new Error(`ES_KPI_TRANSLOG_DURABILITY: "${v}" is not one of ${TRANSLOG_DURABILITIES.join(', ')}`);
}

export type KpiIndexConfig = Pick<Config, 'esKpiRefreshIntervalMs' | 'esKpiTranslogDurability'>;

/**
 * Index settings of the KPI window index: it is refreshed more often than the others, since KPI
 * freshness is measured on it. With an `async` translog a KPI bulk is acknowledged without an
 * fsync; the final documents, past which a flush commits Kafka offsets, are made durable by a flush
 * of the index before that commit (processor/sinks/analytics-sink.ts), so an Elasticsearch crash
 * loses only provisional values, which their open window writes again.
 */
export const kpiIndexSettings = (cfg: KpiIndexConfig) => ({ 'index.refresh_interval': `${cfg.esKpiRefreshIntervalMs}ms`, 'index.translog.durability': kpiTranslogDurability(cfg) });

/**
 * The other indices (raw events, sessions, URL x country, alerts) keep Elasticsearch's refresh
 * interval, so a shard no search has touched for a while is not refreshed at all until the next
 * search (which waits for that refresh: it still sees every document written before it). After 5 s
 * instead of Elasticsearch's 30: their refreshes (a second's raw events, thousands of session
 * updates) run on the same small refresh pool as the KPI index's, and a new index (at a start, or
 * the next day's raw index) refreshed every second for its first 30 s, each refresh seconds long on
 * a busy node, while the KPI refreshes waited behind them. With a dashboard polling them every few
 * seconds they refresh once per poll instead of every second.
 */
export const searchIdleSettings = { 'index.search.idle.after': '5s' } as const;

/** Every index template infra installs: name -> { patterns, mappings, settings of its own }. */
export function indexTemplates(
  prefix: string,
  cfg: KpiIndexConfig = { esKpiRefreshIntervalMs: Number(SETTINGS.esKpiRefreshIntervalMs.default), esKpiTranslogDurability: SETTINGS.esKpiTranslogDurability.default },
) {
  const n = indexNames(prefix);
  return {
    [`${prefix}-events`]: { index_patterns: [n.eventsPattern], mappings: eventMappings, settings: searchIdleSettings },
    [`${prefix}-kpis`]: { index_patterns: [n.kpis], mappings: kpiMappings, settings: kpiIndexSettings(cfg) },
    [`${prefix}-url-stats`]: { index_patterns: [n.urlStats], mappings: urlStatsMappings, settings: searchIdleSettings },
    [`${prefix}-sessions`]: { index_patterns: [n.sessions], mappings: sessionMappings, settings: searchIdleSettings },
    [`${prefix}-alerts`]: { index_patterns: [n.alerts], mappings: alertMappings, settings: searchIdleSettings },
  };
}
