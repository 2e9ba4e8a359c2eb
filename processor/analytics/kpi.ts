/**
 * The window KPI aggregate as pure functions: `init`, `addCounts`, `addDistinct`, `addLate`,
 * `result`, and the distinct members of a window's pane (`initMembers`, `addMembers`).
 *
 * Every field is a count, a sum in integer units or the size of a set, so the result does not
 * depend on the order events were added in: a replay in another interleaving of the four topics
 * gives the same document. Revenue is summed in 1/10,000 of the currency unit (integers) because a
 * floating-point sum depends on the order of its terms.
 */
import { addRevenue, MISSING_VALUE, revenueList, toRevenueUnits, type Dimension, type KpiDoc } from '../../contracts/documents.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { IntSet } from './int-set.js';

/** The fields of an enriched event the aggregations read. */
export type KpiEvent = Pick<
  EnrichedEvent,
  | 'event_id'
  | 'event_type'
  | 'visitor_id'
  | 'session_id'
  | 'site_id'
  | 'country'
  | 'device_type'
  | 'url'
  | 'revenue'
  | 'currency'
  | 'engagement_ms'
>;

export interface KpiAcc {
  pageViews: number;
  clicks: number;
  addToCart: number;
  purchases: number;
  /** Purchases and revenue (1/REVENUE_SCALE units) per currency: currencies are never added up. */
  revenue: Map<string, { purchases: number; units: number }>;
  /** Sizes of the window's distinct sets (kept by its panes: `KpiMembers`). */
  visitors: number;
  visitorsCart: number;
  visitorsBought: number;
  /** Visitors in both the carting and the buying set. */
  cartedAndBought: number;
  sessions: number;
  lateEvents: number;
}

/** The aggregate fields of a KPI document (the window, cut and partition are the engine's). */
export type KpiResult = Omit<KpiDoc, 'window_kind' | 'window_start' | 'window_end' | 'dimension' | 'dimension_value' | 'partition' | 'final'>;


/**
 * A page_view carrying `engagement_ms` is the SDK's engagement report for a view already
 * counted (see sdk/src/plugins/engagement.ts): it is activity, not a new view.
 */
export const isView = (e: Pick<KpiEvent, 'event_type' | 'engagement_ms'>): boolean =>
  e.event_type === 'page_view' && (e.engagement_ms === null || e.engagement_ms === undefined);

export function init(): KpiAcc {
  return {
    pageViews: 0,
    clicks: 0,
    addToCart: 0,
    purchases: 0,
    revenue: new Map(),
    visitors: 0,
    visitorsCart: 0,
    visitorsBought: 0,
    cartedAndBought: 0,
    sessions: 0,
    lateEvents: 0,
  };
}

/**
 * Bits of the distinct sets an event was new to: its visitor, its session, its visitor as a
 * carting visitor (add_to_cart) and as a buying one (purchase). Bit i is set `KpiMembers[i]`.
 */
export const NEW_VISITOR = 1;
export const NEW_SESSION = 2;
export const NEW_CARTER = 4;
export const NEW_BUYER = 8;
export const VISITORS = 0;
export const SESSIONS = 1;
export const CARTERS = 2;
export const BUYERS = 3;

/**
 * The distinct members of one pane of a window (visitors, sessions, carting visitors, buying
 * visitors, by handle: handles.ts): a window's distinct counts are the sizes of the unions of its
 * panes' sets, kept up to date by the engine as members arrive (kpi-windows.ts).
 */
export type KpiMembers = [IntSet, IntSet, IntSet, IntSet];

export const initMembers = (): KpiMembers => [new IntSet(), new IntSet(), new IntSet(), new IntSet()];

/** Adds an on-time event's visitor and session (handles) to `m`; returns the bits of the sets they were new to. */
export function addMembers(m: KpiMembers, e: Pick<KpiEvent, 'event_type'>, visitor: number, session: number): number {
  let added = 0;
  if (m[VISITORS].add(visitor)) added |= NEW_VISITOR;
  if (m[SESSIONS].add(session)) added |= NEW_SESSION;
  if (e.event_type === 'add_to_cart') {
    if (m[CARTERS].add(visitor)) added |= NEW_CARTER;
  } else if (e.event_type === 'purchase') {
    if (m[BUYERS].add(visitor)) added |= NEW_BUYER;
  }
  return added;
}

/** Counts one on-time event (not its distinct members: `addDistinct`). Mutates `acc`, which the caller owns. */
export function addCounts(acc: KpiAcc, e: KpiEvent): void {
  switch (e.event_type) {
    case 'page_view':
      if (isView(e)) acc.pageViews++;
      break;
    case 'click':
      acc.clicks++;
      break;
    case 'add_to_cart':
      acc.addToCart++;
      break;
    case 'purchase':
      acc.purchases++;
      addRevenue(acc.revenue, e.currency || UNKNOWN, 1, toRevenueUnits(e.revenue));
      break;
  }
}

/**
 * The window gained the members of `gained` (NEW_* bits: new to the whole window, not only to a
 * pane); `bothNow`: the visitor, new as a carting (buying) one, was already a buying (carting) one.
 */
export function addDistinct(acc: KpiAcc, gained: number, bothNow: boolean): void {
  if ((gained & NEW_VISITOR) !== 0) acc.visitors++;
  if ((gained & NEW_SESSION) !== 0) acc.sessions++;
  if ((gained & NEW_CARTER) !== 0) acc.visitorsCart++;
  if ((gained & NEW_BUYER) !== 0) acc.visitorsBought++;
  if (bothNow && (gained & (NEW_CARTER | NEW_BUYER)) !== 0) acc.cartedAndBought++;
}

/** Counts an event that came after the watermark had passed it (not added to any count). */
export function addLate(acc: KpiAcc): KpiAcc {
  acc.lateEvents++;
  return acc;
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

export function result(acc: KpiAcc): KpiResult {
  return {
    page_views: acc.pageViews,
    clicks: acc.clicks,
    add_to_cart: acc.addToCart,
    purchases: acc.purchases,
    revenue_by_currency: revenueList(acc.revenue),
    unique_visitors: acc.visitors,
    visitors_added_to_cart: acc.visitorsCart,
    visitors_purchased: acc.visitorsBought,
    visitors_carted_and_purchased: acc.cartedAndBought,
    sessions: acc.sessions,
    conversion_rate: ratio(acc.visitorsBought, acc.visitors),
    cart_to_purchase_rate: ratio(acc.cartedAndBought, acc.visitorsCart),
    late_events: acc.lateEvents,
  };
}

export const UNKNOWN = MISSING_VALUE;

/** The cuts an event counts in: every event in all/site/country/device, a purchase also in its currency's. */
export function dimensionValues(e: Pick<KpiEvent, 'event_type' | 'site_id' | 'country' | 'device_type' | 'currency'>): [Dimension, string][] {
  const cuts: [Dimension, string][] = [
    ['all', 'all'],
    ['site', e.site_id || UNKNOWN],
    ['country', e.country || UNKNOWN],
    ['device', e.device_type || UNKNOWN],
  ];
  if (e.event_type === 'purchase') cuts.push(['currency', e.currency || UNKNOWN]);
  return cuts;
}

/**
 * `dimensionValues` without allocating: writes the values into `out` in DIMENSIONS order (all,
 * site, country, device, then currency for a purchase) and returns how many there are.
 */
export function dimensionValuesInto(e: Pick<KpiEvent, 'event_type' | 'site_id' | 'country' | 'device_type' | 'currency'>, out: string[]): number {
  out[0] = 'all';
  out[1] = e.site_id || UNKNOWN;
  out[2] = e.country || UNKNOWN;
  out[3] = e.device_type || UNKNOWN;
  if (e.event_type !== 'purchase') return 4;
  out[4] = e.currency || UNKNOWN;
  return 5;
}
