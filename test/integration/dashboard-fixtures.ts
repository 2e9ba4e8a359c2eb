/**
 * Partial documents of the types the processor writes (contracts/documents.ts), with its ids,
 * written straight into Elasticsearch so the dashboard's sums can be checked against known values.
 */
import type { Client } from '@elastic/elasticsearch';
import { kpiDocId, type AlertDoc, type CurrencyRevenue, type KpiDoc, type SessionDoc, type UrlStatsDoc } from '../../contracts/documents.js';
import { eventIndexFor, indexNames } from '../../contracts/indices.js';
import type { EnrichedFieldName } from '../../contracts/event-schema.js';
import type { KpiSums, UrlSums } from '../../dashboard/sums.js';
import { urlStatsId } from '../../processor/analytics/url-stats.js';

const iso = (t: number) => new Date(t).toISOString();
const rate = (n: number, d: number) => (d === 0 ? 0 : n / d);

export type KpiFixture = KpiDoc;

/** One partition's KPI document for one window, with its own (partition-local) rates as the processor stores them. */
export function kpiDoc(
  kind: string,
  start: number,
  sizeMs: number,
  partition: number,
  counts: Partial<KpiSums> & { revenue_by_currency?: CurrencyRevenue[] },
  opts: { dimension?: string; value?: string; final?: boolean } = {},
): KpiFixture {
  const c: KpiSums & { revenue_by_currency: CurrencyRevenue[] } = {
    page_views: 0,
    clicks: 0,
    add_to_cart: 0,
    purchases: 0,
    revenue_by_currency: [],
    unique_visitors: 0,
    visitors_added_to_cart: 0,
    visitors_purchased: 0,
    visitors_carted_and_purchased: 0,
    sessions: 0,
    late_events: 0,
    ...counts,
  };
  return {
    window_kind: kind,
    window_start: iso(start),
    window_end: iso(start + sizeMs),
    dimension: opts.dimension ?? 'all',
    dimension_value: opts.value ?? 'all',
    partition,
    ...c,
    conversion_rate: rate(c.visitors_purchased, c.unique_visitors),
    cart_to_purchase_rate: rate(c.visitors_carted_and_purchased, c.visitors_added_to_cart),
    final: opts.final ?? true,
  };
}

export type UrlFixture = UrlStatsDoc;

export function urlDoc(start: number, sizeMs: number, url: string, country: string, partition: number, s: Partial<UrlSums> & { revenue_by_currency?: CurrencyRevenue[] }, final = true, site: string | null = null): UrlFixture {
  const { revenue_by_currency = [], ...sums } = s;
  const v: UrlSums = { unique_users: 0, page_views: 0, clicks: 0, time_spent_ms: 0, time_spent_samples: 0, views_without_time: 0, ...sums };
  return {
    window_start: iso(start),
    window_end: iso(start + sizeMs),
    url,
    country,
    site_id: site,
    partition,
    ...v,
    avg_time_spent_ms: v.time_spent_samples === 0 ? null : v.time_spent_ms / v.time_spent_samples,
    revenue_by_currency,
    final,
  };
}

export type SessionFixture = SessionDoc;

export function sessionDoc(id: string, start: number, end: number, o: Partial<SessionFixture> = {}): SessionFixture {
  return {
    session_id: id,
    visitor_id: `v-${id}`,
    site_id: 'shop',
    start: iso(start),
    end: iso(end),
    duration_ms: end - start,
    pages: 1,
    events: 1,
    entry_page: 'https://shop.example/',
    exit_page: 'https://shop.example/',
    country: 'FR',
    device_type: 'desktop',
    added_to_cart: false,
    purchased: false,
    revenue_by_currency: [],
    closed: true,
    partition: 0,
    ...o,
  };
}

export type AlertFixture = AlertDoc;

export function alertDoc(id: string, raisedAt: number, o: Partial<AlertFixture> = {}): AlertFixture {
  return {
    alert_id: id,
    kind: 'click_burst',
    severity: 'high',
    visitor_id: `v-${id}`,
    site_id: 'shop',
    message: `visitor v-${id} clicked 40 times in 10 s`,
    value: 40,
    threshold: 20,
    event_time: iso(raisedAt - 2000),
    raised_at: iso(raisedAt),
    ...o,
  };
}

/** A raw event as the index role writes it (only the fields the dashboard reads; the rest absent). */
export type EventFixture = Partial<Record<EnrichedFieldName, string | number | boolean | null>> & { event_id: string; timestamp: string };

export function eventDoc(id: string, at: number, o: Partial<EventFixture> = {}): EventFixture {
  return {
    event_id: id,
    event_type: 'page_view',
    schema_version: 1,
    site_id: 'shop',
    visitor_id: `v-${id}`,
    session_id: `s-${id}`,
    timestamp: iso(at),
    received_at: iso(at),
    url: 'https://shop.example/',
    url_host: 'shop.example',
    url_path: '/',
    is_bot: false,
    ...o,
  };
}

/** Bulk-indexes the documents with the processor's deterministic ids and refreshes. */
export async function writeFixtures(
  es: Client,
  prefix: string,
  f: { kpis?: KpiFixture[]; urls?: UrlFixture[]; sessions?: SessionFixture[]; alerts?: AlertFixture[]; events?: EventFixture[] },
): Promise<void> {
  const n = indexNames(prefix);
  const ops: object[] = [];
  for (const d of f.events ?? []) ops.push({ index: { _index: eventIndexFor(prefix, String(d.received_at ?? d.timestamp)), _id: d.event_id } }, d);
  for (const d of f.kpis ?? []) ops.push({ index: { _index: n.kpis, _id: kpiDocId(d) } }, d);
  for (const d of f.urls ?? []) ops.push({ index: { _index: n.urlStats, _id: urlStatsId(d) } }, d);
  for (const d of f.sessions ?? []) ops.push({ index: { _index: n.sessions, _id: d.session_id } }, d);
  for (const d of f.alerts ?? []) ops.push({ index: { _index: n.alerts, _id: d.alert_id } }, d);
  if (!ops.length) return;
  const res = await es.bulk({ refresh: true, operations: ops });
  if (res.errors) {
    const first = res.items.find((i) => Object.values(i)[0]?.error);
    throw new Error(`bulk refused a fixture: ${JSON.stringify(first)}`);
  }
}
