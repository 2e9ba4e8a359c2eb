/**
 * Seed 000's aggregate, per window x URL x country, as pure functions: unique users, page
 * views, clicks, and time on page from the session's consecutive page views (see session.ts).
 * `avg_time_spent_ms` = total time / views whose time is known; views whose time cannot be
 * known (the last view of a session without an engagement report) are counted in
 * `views_without_time` and left out of the average.
 */
import { addRevenue, revenueList, toRevenueUnits, urlStatsIdInput, type UrlStatsDoc } from '../../contracts/documents.js';
import { IntSet } from './int-set.js';
import { sha1Hex } from './sha1.js';
import { isView, UNKNOWN, type KpiEvent } from './kpi.js';

export interface UrlAcc {
  /** Visitors, by handle. */
  users: IntSet;
  pageViews: number;
  clicks: number;
  timeMs: number;
  timeSamples: number;
  viewsWithoutTime: number;
  /** Purchases and revenue (1/REVENUE_SCALE units) per currency, as the KPI windows keep them. */
  revenue: Map<string, { purchases: number; units: number }>;
}

/** The aggregate fields of a URL x country document (the window, URL, country and partition are the engine's). */
export type UrlResult = Required<Omit<UrlStatsDoc, 'window_start' | 'window_end' | 'url' | 'country' | 'site_id' | 'partition' | 'final'>>;

export function initUrl(): UrlAcc {
  return { users: new IntSet(), pageViews: 0, clicks: 0, timeMs: 0, timeSamples: 0, viewsWithoutTime: 0, revenue: new Map() };
}

/**
 * Any on-time event on the URL: its visitor (a handle of the partition's visitor ids, handles.ts)
 * counts as a user; views, clicks and purchases (revenue per currency) are counted. Returns
 * whether the visitor was new to the users.
 */
export function addUrlEvent(acc: UrlAcc, e: Pick<KpiEvent, 'event_type' | 'engagement_ms'> & Partial<Pick<KpiEvent, 'currency' | 'revenue'>>, visitor: number): boolean {
  if (isView(e)) acc.pageViews++;
  else if (e.event_type === 'click') acc.clicks++;
  else if (e.event_type === 'purchase') addRevenue(acc.revenue, e.currency || UNKNOWN, 1, toRevenueUnits(e.revenue));
  return acc.users.add(visitor);
}

/** A settled page view of this URL: its time on page, or null when unknown. */
export function addUrlTime(acc: UrlAcc, ms: number | null): UrlAcc {
  if (ms === null) acc.viewsWithoutTime++;
  else {
    acc.timeMs += ms;
    acc.timeSamples++;
  }
  return acc;
}

export function urlResult(acc: UrlAcc): UrlResult {
  return {
    unique_users: acc.users.size,
    page_views: acc.pageViews,
    clicks: acc.clicks,
    time_spent_ms: acc.timeMs,
    time_spent_samples: acc.timeSamples,
    views_without_time: acc.viewsWithoutTime,
    avg_time_spent_ms: acc.timeSamples === 0 ? null : acc.timeMs / acc.timeSamples,
    revenue_by_currency: revenueList(acc.revenue),
  };
}

/** The id of a URL x country document: a hash, because URLs are long and may hold any character. */
export function urlStatsId(d: Parameters<typeof urlStatsIdInput>[0]): string {
  return sha1Hex(urlStatsIdInput(d));
}
