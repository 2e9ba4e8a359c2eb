/**
 * The window KPI aggregate as pure functions: `init`, `add`, `addLate`, `result`.
 *
 * Every field is a count, a sum in integer units or a set, so the result does not depend on
 * the order events were added in: a replay in another interleaving of the four topics gives
 * the same document. Revenue is summed in 1/10,000 of the currency unit (integers) because a
 * floating-point sum depends on the order of its terms.
 */
import { addRevenue, MISSING_VALUE, revenueList, toRevenueUnits, type Dimension, type KpiDoc } from '../../contracts/documents.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';

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
  visitors: Set<string>;
  visitorsCart: Set<string>;
  visitorsBought: Set<string>;
  sessions: Set<string>;
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
    visitors: new Set(),
    visitorsCart: new Set(),
    visitorsBought: new Set(),
    sessions: new Set(),
    lateEvents: 0,
  };
}

/**
 * Bits of `addNew`'s `unseen` and result: the event's visitor, session, carting visitor and buying
 * visitor, for the sets that may not hold them yet / that did not hold them.
 */
export const NEW_VISITOR = 1;
export const NEW_SESSION = 2;
export const NEW_CARTER = 4;
export const NEW_BUYER = 8;
export const ALL_UNSEEN = NEW_VISITOR | NEW_SESSION | NEW_CARTER | NEW_BUYER;

/** Adds one (on-time) event. Mutates and returns `acc`, which the caller owns. */
export function add(acc: KpiAcc, e: KpiEvent): KpiAcc {
  addNew(acc, e, ALL_UNSEEN);
  return acc;
}

/**
 * `add`, for a caller that knows which of the event's distinct sets already hold its visitor or
 * session: only the bits set in `unseen` are looked up (the rest are known members). Returns the
 * bits of the sets the event was new to, so the caller can pass them on to windows that hold
 * every event of this one (a sliding window holds each of its panes).
 */
export function addNew(acc: KpiAcc, e: KpiEvent, unseen: number): number {
  let added = 0;
  switch (e.event_type) {
    case 'page_view':
      if (isView(e)) acc.pageViews++;
      break;
    case 'click':
      acc.clicks++;
      break;
    case 'add_to_cart':
      acc.addToCart++;
      if ((unseen & NEW_CARTER) !== 0 && grows(acc.visitorsCart, e.visitor_id)) added |= NEW_CARTER;
      break;
    case 'purchase':
      acc.purchases++;
      addRevenue(acc.revenue, e.currency || UNKNOWN, 1, toRevenueUnits(e.revenue));
      if ((unseen & NEW_BUYER) !== 0 && grows(acc.visitorsBought, e.visitor_id)) added |= NEW_BUYER;
      break;
  }
  if ((unseen & NEW_VISITOR) !== 0 && grows(acc.visitors, e.visitor_id)) added |= NEW_VISITOR;
  if ((unseen & NEW_SESSION) !== 0 && grows(acc.sessions, e.session_id)) added |= NEW_SESSION;
  return added;
}

/** Adds `x` to `set`: true when it was not there (one hash lookup). */
function grows(set: Set<string>, x: string): boolean {
  const before = set.size;
  set.add(x);
  return set.size !== before;
}

/** Counts an event that came after the watermark had passed it (not added to any count). */
export function addLate(acc: KpiAcc): KpiAcc {
  acc.lateEvents++;
  return acc;
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

export function result(acc: KpiAcc): KpiResult {
  let cartedAndBought = 0;
  for (const v of acc.visitorsCart) if (acc.visitorsBought.has(v)) cartedAndBought++;
  return {
    page_views: acc.pageViews,
    clicks: acc.clicks,
    add_to_cart: acc.addToCart,
    purchases: acc.purchases,
    revenue_by_currency: revenueList(acc.revenue),
    unique_visitors: acc.visitors.size,
    visitors_added_to_cart: acc.visitorsCart.size,
    visitors_purchased: acc.visitorsBought.size,
    visitors_carted_and_purchased: cartedAndBought,
    sessions: acc.sessions.size,
    conversion_rate: ratio(acc.visitorsBought.size, acc.visitors.size),
    cart_to_purchase_rate: ratio(cartedAndBought, acc.visitorsCart.size),
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
