/**
 * The Kibana saved objects (Kibana 8.9 or later, 8.x) shipped in infra/kibana/clickstream.ndjson:
 * one data view per index pattern, Lens visualizations, two saved searches and the dashboard.
 * The ndjson is generated from this file (`npm run kibana:build`) so column ids, formula helper
 * columns and references stay consistent; saved-objects.test.ts parses the
 * ndjson and checks every field it names against the contract mappings.
 *
 * KPI and URL-stats documents are per-partition partials (contracts/indices.ts): every panel on
 * them sums (`sum`) and computes rates as formulas of sums, Σ numerator / Σ denominator (Lens
 * evaluates formulas in Kibana, so no Elasticsearch script is involved). KPI panels filter one
 * window kind and the `all` dimension, or the dimensions would be added on top of each other.
 *
 * The object envelope and data views are in data-views.ts, the Lens column and layer builders in
 * lens.ts; the dashboard references its panels (`<panelIndex>:panel_<panelIndex>`).
 */
import { writeFileSync } from 'node:fs';
import { tumbling } from '../../contracts/windows.js';
import { DATA_VIEWS, dataView, obj, type DataViewKey, type SavedObject } from './data-views.js';
import { count, dateHistogram, uniqueCount, divide, formula, lens, metric, ratioFormula, sum, terms, xy, type Format } from './lens.js';

export const KIBANA_NDJSON = new URL('./clickstream.ndjson', import.meta.url);

export const DEFAULT_TUMBLING_KIND = tumbling(60_000).kind; // tumbling_1m
/** Date-histogram interval of KPI and URL panels: one bucket per tumbling window. */
export const DEFAULT_INTERVAL = '1m';

/** Every KPI panel reads one window kind and the `all` cut (each event is also in every other dimension). */
export const KPI_QUERY = `window_kind : "${DEFAULT_TUMBLING_KIND}" and dimension : "all"`;

/** Raw-event panels leave bots out, as the live dashboard does. */
export const NOT_BOT = 'not is_bot : true';

function kpiMetric(field: string, title: string, format?: Format): SavedObject {
  const layerId = `layer-${field}`;
  return lens(
    `clickstream-kpi-${field.replaceAll('_', '-')}`,
    title,
    `Sum of ${field} over the tumbling windows in the time range (the partials of every partition added).`,
    'lnsMetric',
    { id: layerId, dataView: 'kpis', columns: { m: sum(field, title, format) }, order: ['m'] },
    metric(layerId, 'm'),
    KPI_QUERY,
  );
}

// ---------------------------------------------------------------------------------------------
// The objects

export function savedObjects(): SavedObject[] {
  const I = DEFAULT_INTERVAL;
  const lensObjects: SavedObject[] = [
    kpiMetric('page_views', 'Page views'),
    kpiMetric('clicks', 'Clicks'),
    kpiMetric('add_to_cart', 'Add to cart'),
    kpiMetric('purchases', 'Purchases'),
    lens(
      'clickstream-sessions-count',
      'Sessions',
      'Sessions that started in the time range (one document per session).',
      'lnsMetric',
      { id: 'layer-sessions', dataView: 'sessions', columns: { m: count('Sessions') }, order: ['m'] },
      metric('layer-sessions', 'm'),
    ),
    lens(
      'clickstream-kpi-events-over-time',
      'Page views, clicks, add to cart and purchases per window',
      'Each point sums the per-partition partials of one window.',
      'lnsXY',
      {
        id: 'layer-events',
        dataView: 'kpis',
        columns: {
          x: dateHistogram('window_start', I),
          page_views: sum('page_views', 'Page views'),
          clicks: sum('clicks', 'Clicks'),
          add_to_cart: sum('add_to_cart', 'Add to cart'),
          purchases: sum('purchases', 'Purchases'),
        },
        order: ['x', 'page_views', 'clicks', 'add_to_cart', 'purchases'],
      },
      xy('layer-events', 'line', 'x', ['page_views', 'clicks', 'add_to_cart', 'purchases']),
      KPI_QUERY,
    ),
    lens(
      'clickstream-kpi-revenue-over-time',
      'Revenue per currency over time',
      'Purchase revenue per interval, one series per currency (never added across currencies); bots left out.',
      'lnsXY',
      {
        id: 'layer-revenue',
        dataView: 'events',
        columns: {
          x: dateHistogram('timestamp', 'auto'),
          currency: terms('currency', 'Currency', 10, 'revenue'),
          revenue: sum('revenue', 'Revenue', { id: 'number', params: { decimals: 2 } }),
        },
        order: ['x', 'currency', 'revenue'],
      },
      xy('layer-revenue', 'bar', 'x', ['revenue'], { splitAccessor: 'currency' }),
      `${NOT_BOT} and event_type : "purchase"`,
    ),
    lens(
      'clickstream-kpi-conversion-over-time',
      'Conversion rate per window',
      'Σ visitors_purchased / Σ unique_visitors and Σ visitors_carted_and_purchased / Σ visitors_added_to_cart per window: rates recomputed from summed parts, never averaged. When Kibana widens the interval for a long range, a bucket pools several windows (still a ratio of sums).',
      'lnsXY',
      {
        id: 'layer-conversion',
        dataView: 'kpis',
        columns: {
          x: dateHistogram('window_start', I),
          ...ratioFormula('conversion', 'Conversion rate', 'visitors_purchased', 'unique_visitors'),
          ...ratioFormula('cart_to_purchase', 'Cart to purchase rate', 'visitors_carted_and_purchased', 'visitors_added_to_cart'),
        },
        order: ['x', 'conversion', 'cart_to_purchase'],
      },
      xy('layer-conversion', 'line', 'x', ['conversion', 'cart_to_purchase']),
      KPI_QUERY,
    ),
    lens(
      'clickstream-kpi-visitors-sessions',
      'Visitors and sessions per window',
      'Distinct visitors and sessions of each window: exact per window (a visitor lives on one partition, so partition counts add up).',
      'lnsXY',
      {
        id: 'layer-visitors',
        dataView: 'kpis',
        columns: {
          x: dateHistogram('window_start', I),
          unique_visitors: sum('unique_visitors', 'Unique visitors'),
          sessions: sum('sessions', 'Sessions'),
        },
        order: ['x', 'unique_visitors', 'sessions'],
      },
      xy('layer-visitors', 'line', 'x', ['unique_visitors', 'sessions']),
      KPI_QUERY,
    ),
    lens(
      'clickstream-url-country-table',
      'Top URLs x country',
      'URLs by page views, then countries. Unique users are distinct per window and summed over the windows in the time range. Average time on page = Σ time_spent_ms / Σ time_spent_samples (views whose time is known).',
      'lnsDatatable',
      {
        id: 'layer-urls',
        dataView: 'urlStats',
        columns: {
          url: terms('url', 'URL', 20, 'page_views'),
          country: terms('country', 'Country', 5, 'page_views'),
          unique_users: sum('unique_users', 'Unique users (per window, summed)'),
          page_views: sum('page_views', 'Page views'),
          clicks: sum('clicks', 'Clicks'),
          ...formula(
            'avg_time',
            'Avg time on page (s)',
            'sum(time_spent_ms) / sum(time_spent_samples) / 1000',
            [sum('time_spent_ms', ''), sum('time_spent_samples', '')],
            ([a, b]) => divide('sum(time_spent_ms) / sum(time_spent_samples) / 1000', divide('sum(time_spent_ms) / sum(time_spent_samples) ', a, b), 1000),
            { id: 'number', params: { decimals: 1 } },
          ),
        },
        order: ['url', 'country', 'unique_users', 'page_views', 'clicks', 'avg_time'],
      },
      {
        layerId: 'layer-urls',
        layerType: 'data',
        columns: ['url', 'country', 'unique_users', 'page_views', 'clicks', 'avg_time'].map((columnId) => ({ columnId, isTransposed: false })),
        rowHeight: 'single',
        rowHeightLines: 1,
      },
    ),
    lens(
      'clickstream-alerts-over-time',
      'Alerts over time by kind',
      'Alerts raised, by kind.',
      'lnsXY',
      {
        id: 'layer-alerts',
        dataView: 'alerts',
        columns: {
          x: { ...dateHistogram('raised_at', 'auto') },
          kind: terms('kind', 'Kind', 10, 'alerts'),
          alerts: count('Alerts'),
        },
        order: ['kind', 'x', 'alerts'],
      },
      xy('layer-alerts', 'bar_stacked', 'x', ['alerts'], { splitAccessor: 'kind' }),
    ),
  ];

  // Plausible-style top lists over the raw events, bots left out (as the live dashboard's).
  const breakdown = (key: string, field: string, title: string): SavedObject =>
    lens(
      `clickstream-top-${key}`,
      title,
      `Distinct visitors, page views and buying visitors by ${field}, bots left out.${field === 'url_path' ? ' Pages are paths: query strings are not part of them.' : ''}`,
      'lnsDatatable',
      {
        id: `layer-top-${key}`,
        dataView: 'events',
        columns: {
          value: terms(field, title, 10, 'visitors'),
          visitors: uniqueCount('visitor_id', 'Visitors'),
          views: count('Page views', 'event_type : "page_view" and not engagement_ms : *'),
          buyers: uniqueCount('visitor_id', 'Buying visitors', 'event_type : "purchase"'),
        },
        order: ['value', 'visitors', 'views', 'buyers'],
      },
      { layerId: `layer-top-${key}`, layerType: 'data', columns: ['value', 'visitors', 'views', 'buyers'].map((columnId) => ({ columnId, isTransposed: false })), rowHeight: 'single', rowHeightLines: 1 },
      NOT_BOT,
    );
  lensObjects.push(
    breakdown('pages', 'url_path', 'Top pages'),
    breakdown('sources', 'referrer_host', 'Sources'),
    breakdown('campaigns', 'utm_campaign', 'UTM campaigns'),
    breakdown('countries', 'country', 'Countries'),
    breakdown('browsers', 'browser', 'Browsers'),
    breakdown('os', 'os', 'Operating systems'),
    breakdown('devices', 'device_type', 'Devices'),
    lens(
      'clickstream-revenue-by-currency',
      'Revenue by currency',
      'Purchase revenue of each currency, never added across currencies; bots left out.',
      'lnsDatatable',
      {
        id: 'layer-currency',
        dataView: 'events',
        columns: { currency: terms('currency', 'Currency', 20, 'purchases'), purchases: count('Purchases'), revenue: sum('revenue', 'Revenue', { id: 'number', params: { decimals: 2 } }) },
        order: ['currency', 'purchases', 'revenue'],
      },
      { layerId: 'layer-currency', layerType: 'data', columns: ['currency', 'purchases', 'revenue'].map((columnId) => ({ columnId, isTransposed: false })), rowHeight: 'single', rowHeightLines: 1 },
      `${NOT_BOT} and event_type : "purchase"`,
    ),
  );

  const search = (id: string, title: string, dv: DataViewKey, columns: string[], sort: [string, 'asc' | 'desc'][], description: string): SavedObject =>
    obj(
      'search',
      id,
      {
        title,
        description,
        columns,
        sort,
        grid: {},
        hideChart: true,
        isTextBasedQuery: false,
        kibanaSavedObjectMeta: {
          searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' }),
        },
      },
      [{ type: 'index-pattern', id: DATA_VIEWS[dv].id, name: 'kibanaSavedObjectMeta.searchSourceJSON.index' }],
    );
  const searches = [
    search(
      'clickstream-recent-sessions',
      'Recent sessions',
      'sessions',
      ['end', 'visitor_id', 'country', 'device_type', 'pages', 'duration_ms', 'entry_page', 'exit_page', 'added_to_cart', 'purchased', 'closed'],
      [['end', 'desc']],
      'Sessions started in the time range, most recently active first.',
    ),
    search(
      'clickstream-alerts-table',
      'Alerts',
      'alerts',
      ['kind', 'severity', 'site_id', 'key', 'message', 'value', 'threshold', 'expected', 'score', 'event_time'],
      [['raised_at', 'desc']],
      'Anomaly alerts (click bursts per visitor and per network, bot-like sessions), newest first: key is the visitor, network prefix or session; value is what was observed against the threshold and the expected (population) value.',
    ),
  ];

  // The dashboard: a 48-column grid.
  const layout: [string, SavedObject['type'], number, number, number, number][] = [
    ['clickstream-kpi-page-views', 'lens', 0, 0, 8, 6],
    ['clickstream-kpi-clicks', 'lens', 8, 0, 8, 6],
    ['clickstream-kpi-add-to-cart', 'lens', 16, 0, 8, 6],
    ['clickstream-kpi-purchases', 'lens', 24, 0, 16, 6],
    ['clickstream-sessions-count', 'lens', 40, 0, 8, 6],
    ['clickstream-kpi-events-over-time', 'lens', 0, 6, 24, 13],
    ['clickstream-kpi-revenue-over-time', 'lens', 24, 6, 24, 13],
    ['clickstream-kpi-conversion-over-time', 'lens', 0, 19, 24, 13],
    ['clickstream-kpi-visitors-sessions', 'lens', 24, 19, 24, 13],
    ['clickstream-url-country-table', 'lens', 0, 32, 48, 16],
    ['clickstream-recent-sessions', 'search', 0, 48, 48, 15],
    ['clickstream-alerts-over-time', 'lens', 0, 63, 16, 15],
    ['clickstream-alerts-table', 'search', 16, 63, 32, 15],
    ['clickstream-revenue-by-currency', 'lens', 0, 78, 16, 12],
    ['clickstream-top-pages', 'lens', 16, 78, 32, 12],
    ['clickstream-top-sources', 'lens', 0, 90, 24, 12],
    ['clickstream-top-campaigns', 'lens', 24, 90, 24, 12],
    ['clickstream-top-countries', 'lens', 0, 102, 16, 12],
    ['clickstream-top-browsers', 'lens', 16, 102, 16, 12],
    ['clickstream-top-os', 'lens', 32, 102, 16, 12],
    ['clickstream-top-devices', 'lens', 0, 114, 16, 12],
  ];
  const panels = layout.map(([, type, x, y, w, h], i) => {
    const p = `p${i + 1}`;
    return { version: '8.9.0', type, gridData: { x, y, w, h, i: p }, panelIndex: p, embeddableConfig: { enhancements: {} }, panelRefName: `panel_${p}` };
  });
  const dashboard = obj(
    'dashboard',
    'clickstream-dashboard',
    {
      title: 'Clickstream KPIs',
      description:
        'Window KPIs, URL x country statistics, sessions and alerts from the clickstream processor. KPI and URL documents are per-partition partials: panels sum them, and rates are ratios of sums.',
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
      timeRestore: true,
      timeFrom: 'now-1h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 10_000 },
      version: 1,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
    layout.map(([id, type], i) => ({ type, id, name: `p${i + 1}:panel_p${i + 1}` })),
  );

  return [...(Object.keys(DATA_VIEWS) as DataViewKey[]).map(dataView), ...lensObjects, ...searches, dashboard];
}

/** One object per line, in a fixed order (what the import API takes). */
export function renderNdjson(objects: SavedObject[] = savedObjects()): string {
  return objects.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    writeFileSync(KIBANA_NDJSON, renderNdjson());
    console.log(`wrote ${KIBANA_NDJSON.pathname}`);
  } else process.stdout.write(renderNdjson());
}
