/**
 * The saved-object envelope every Kibana object is written in, and the data views (one per
 * index pattern) the Lens panels and saved searches read.
 *
 * Objects carry coreMigrationVersion 8.8.0 and the typeMigrationVersion of the shape they are
 * written in, so Kibana migrates them forward on import.
 */
import { indexNames } from '../../contracts/indices.js';

/** The names the shipped file is written with; kibana-import.ts rewrites them for other settings. */
export const DEFAULT_PREFIX = 'clickstream';

export interface SavedObject {
  type: 'index-pattern' | 'lens' | 'search' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: { type: string; id: string; name: string }[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  managed: boolean;
}

const CORE = '8.8.0';
const TYPE_VERSION: Record<SavedObject['type'], string> = { 'index-pattern': '8.0.0', lens: '8.9.0', search: '8.0.0', dashboard: '8.7.0' };
export const obj = (type: SavedObject['type'], id: string, attributes: Record<string, unknown>, references: SavedObject['references'] = []): SavedObject => ({
  type,
  id,
  attributes,
  references,
  coreMigrationVersion: CORE,
  typeMigrationVersion: TYPE_VERSION[type],
  managed: false,
});

const names = indexNames(DEFAULT_PREFIX);
export const DATA_VIEWS = {
  events: { id: 'clickstream-dv-events', title: names.eventsPattern, time: 'timestamp', name: 'Clickstream: raw events' },
  kpis: { id: 'clickstream-dv-kpis', title: names.kpis, time: 'window_start', name: 'Clickstream: window KPIs (per-partition partials)' },
  urlStats: { id: 'clickstream-dv-url-stats', title: names.urlStats, time: 'window_start', name: 'Clickstream: URL x country (per-partition partials)' },
  sessions: { id: 'clickstream-dv-sessions', title: names.sessions, time: 'start', name: 'Clickstream: sessions' },
  alerts: { id: 'clickstream-dv-alerts', title: names.alerts, time: 'raised_at', name: 'Clickstream: alerts' },
} as const;
export type DataViewKey = keyof typeof DATA_VIEWS;

const percent = { id: 'percent', params: { pattern: '0.[00]%' } };
const money = { id: 'number', params: { pattern: '0,0.00' } };
const duration = { id: 'duration', params: { inputFormat: 'milliseconds', outputFormat: 'humanizePrecise', outputPrecision: 1 } };
const FIELD_FORMATS: Record<DataViewKey, Record<string, object>> = {
  events: { price: money, revenue: money, engagement_ms: duration },
  kpis: { conversion_rate: percent, cart_to_purchase_rate: percent },
  urlStats: { avg_time_spent_ms: duration, time_spent_ms: duration },
  sessions: { duration_ms: duration },
  alerts: {},
};

export function dataView(key: DataViewKey): SavedObject {
  const v = DATA_VIEWS[key];
  return obj('index-pattern', v.id, {
    title: v.title,
    name: v.name,
    timeFieldName: v.time,
    // Fields are read from the mappings when the data view is opened; none are stored.
    fields: '[]',
    fieldAttrs: '{}',
    fieldFormatMap: JSON.stringify(FIELD_FORMATS[key]),
    runtimeFieldMap: '{}',
    sourceFilters: '[]',
    typeMeta: '{}',
    // The alerts index exists only once an alert was raised: the data view works before that.
    allowNoIndex: true,
  });
}
