import { SCHEMA_VERSION, type ClientEvent, type EnrichedEvent } from '../contracts/event-schema.js';
import type { GeoInfo } from './geo.js';
import type { UaInfo } from './user-agent.js';

/** What is known once per request and shared by every event in its batch. */
export interface RequestContext {
  ua: UaInfo;
  geo: GeoInfo | null;
  /** Already anonymised. The raw address never reaches this object. */
  ip: string | null;
  siteId: string | null;
  receivedAt: number;
  /** Client clock when the batch was sent, if the client said. */
  sentAt: number | null;
}

function hostAndPath(url: string | undefined): [string | null, string | null] {
  if (!url) return [null, null];
  try {
    const u = new URL(url);
    return [u.hostname || null, u.pathname || null];
  } catch {
    return [null, null];
  }
}

/**
 * Event time = client time + (received - sent): the client's clock may be wrong, but the
 * interval between the event and the send is measured on that same clock, so adding it to
 * our receive time cancels the skew. Clamped so an event never lies in our future.
 */
export function correctedEventTime(clientTs: number, sentAt: number | null, receivedAt: number): number {
  if (sentAt === null) return Math.min(clientTs, receivedAt);
  const t = receivedAt - (sentAt - clientTs);
  return Math.min(t, receivedAt);
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const iso = (ms: number) => new Date(ms).toISOString();

export function enrichEvent(ev: ClientEvent, ctx: RequestContext): EnrichedEvent {
  const [url_host, url_path] = hostAndPath(ev.url);
  const [referrer_host] = hostAndPath(ev.referrer);
  const geo = ctx.geo;
  return {
    event_id: ev.event_id,
    event_type: ev.type,
    schema_version: SCHEMA_VERSION,
    site_id: ctx.siteId,
    visitor_id: ev.visitor_id,
    session_id: ev.session_id,
    user_id: orNull(ev.user_id),
    timestamp: iso(correctedEventTime(ev.ts, ctx.sentAt, ctx.receivedAt)),
    client_ts: iso(ev.ts),
    sent_at: ctx.sentAt === null ? null : iso(ctx.sentAt),
    received_at: iso(ctx.receivedAt),
    url: ev.url,
    url_host,
    url_path,
    referrer: ev.referrer || null,
    referrer_host,
    title: orNull(ev.title),
    language: orNull(ev.language),
    screen: orNull(ev.screen),
    viewport: orNull(ev.viewport),
    utm_source: orNull(ev.utm_source),
    utm_medium: orNull(ev.utm_medium),
    utm_campaign: orNull(ev.utm_campaign),
    utm_term: orNull(ev.utm_term),
    utm_content: orNull(ev.utm_content),
    ...ctx.ua,
    ip: ctx.ip,
    country: geo?.country ?? null,
    region: geo?.region ?? null,
    city: geo?.city ?? null,
    timezone: geo?.timezone ?? null,
    location: geo?.location ?? null,
    engagement_ms: ev.type === 'page_view' ? orNull(ev.engagement_ms) : null,
    element: ev.type === 'click' ? orNull(ev.element) : null,
    target_url: ev.type === 'click' ? orNull(ev.target_url) : null,
    product_id: ev.type === 'add_to_cart' ? ev.product_id : null,
    product_name: ev.type === 'add_to_cart' ? orNull(ev.product_name) : null,
    price: ev.type === 'add_to_cart' ? ev.price : null,
    quantity: ev.type === 'add_to_cart' ? ev.quantity : null,
    currency: ev.type === 'add_to_cart' || ev.type === 'purchase' ? ev.currency : null,
    order_id: ev.type === 'purchase' ? ev.order_id : null,
    revenue: ev.type === 'purchase' ? ev.revenue : null,
    items: ev.type === 'purchase' ? orNull(ev.items) : null,
  };
}
