import { SCHEMA_VERSION, type ClientEvent, type EnrichedEvent } from '../contracts/event-schema.js';
import type { GeoInfo } from './geo.js';
import type { UaInfo } from './user-agent.js';
import { CLICK_ID_PARAMS, classifyReferrer } from './referrer.js';
import { normaliseUrl, queryAllowlist, type QueryKeep } from './url-normalise.js';
import { SETTINGS } from '../contracts/config.js';
import { isoTime } from './iso-time.js';

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
  /** Hosts of the site's own origins, "www." stripped: referrers from them are internal. */
  siteHosts?: ReadonlySet<string>;
  /** Keyed hash applied to user ids (USER_ID_HASH_KEY); absent: ids pass through. */
  hashUserId?: (id: string) => string;
  /** ISO forms of receivedAt / sentAt, computed once per request (filled in on first use). */
  receivedIso?: string;
  sentIso?: string | null;
  /** Query parameters a page URL keeps (URL_QUERY_ALLOWLIST); absent: the setting's default. */
  keepQuery?: QueryKeep;
  /** URLs parsed so far in this request: the events of a batch mostly share their page and referrer. */
  urls?: Map<string, ParsedUrl>;
}

/** What one URL parse yields: host, path, UTM / click-id hints from the query string, the normalised URL. */
interface ParsedUrl {
  host: string | null;
  path: string | null;
  query: URLSearchParams | null;
  /** gateway/url-normalise.ts; null when the URL does not parse (kept as sent). */
  normal: string | null;
}
const NO_URL: ParsedUrl = { host: null, path: null, query: null, normal: null };
const DEFAULT_KEEP = queryAllowlist(SETTINGS.urlQueryAllowlist.default.split(','));

function parseUrl(url: string | undefined, keep: QueryKeep): ParsedUrl {
  if (!url) return NO_URL;
  try {
    const u = new URL(url);
    return { host: u.hostname || null, path: u.pathname || null, query: u.search.length > 1 ? u.searchParams : null, normal: normaliseUrl(u, keep) };
  } catch {
    return NO_URL;
  }
}

const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
type Utm = Record<(typeof UTM_KEYS)[number], string | null>;
const UTM_MAX = 256;

/**
 * UTM fields as the event carried them; when it carried none, as the page URL's query has them
 * (the SDK may not forward them, the pixel never can). One source per event, never a mix.
 */
function utmOf(ev: ClientEvent, query: URLSearchParams | null): Utm {
  const out: Utm = { utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null };
  let carried = false;
  for (const k of UTM_KEYS) {
    const v = ev[k];
    if (v) {
      out[k] = v;
      carried = true;
    }
  }
  if (!carried && query) {
    for (const k of UTM_KEYS) {
      const v = query.get(k);
      if (v) out[k] = v.length > UTM_MAX ? v.slice(0, UTM_MAX) : v;
    }
  }
  return out;
}

function hasClickId(query: URLSearchParams | null): boolean {
  if (!query) return false;
  for (const k of CLICK_ID_PARAMS) if (query.has(k)) return true;
  return false;
}

/**
 * Event time = client time + (received - sent): the client's clock may be wrong, but the
 * interval between the event and the send is measured on that same clock, so adding it to
 * our receive time cancels the skew. Clamped so an event never lies in our future (nor
 * before 1970, whatever nonsense a client sends); `eventTimeWindow` refuses times far out first.
 */
export function correctedEventTime(clientTs: number, sentAt: number | null, receivedAt: number): number {
  const t = sentAt === null ? clientTs : receivedAt - (sentAt - clientTs);
  return Math.max(0, Math.min(t, receivedAt));
}

/** How far from the receive time an event time may lie (EVENT_MAX_AGE_DAYS, EVENT_MAX_FUTURE_S). */
export interface EventTimeWindow {
  maxAgeMs: number;
  maxFutureMs: number;
}

/**
 * Why an event's time is refused, or null when it is kept. Refused rather than stored at the
 * receive time: KPIs, sessions and the watermark run on event time, and one event dated a day
 * ahead would make every later event of its partition late; one dated years back is late for
 * every window anyway. The client is told per event (207) and the event is dead-lettered.
 */
export function eventTimeRefusal(clientTs: number, sentAt: number | null, receivedAt: number, w: EventTimeWindow): string | null {
  const t = sentAt === null ? clientTs : receivedAt - (sentAt - clientTs);
  if (t < receivedAt - w.maxAgeMs) return `event time ${iso(Math.max(0, t))} is more than ${Math.round(w.maxAgeMs / 86_400_000)} days before the receive time${sentAt === null ? ' (send sent_at to correct a wrong client clock)' : ''}`;
  if (t > receivedAt + w.maxFutureMs) return `event time ${iso(Math.min(t, 253_402_300_799_999))} is more than ${Math.round(w.maxFutureMs / 1000)} s after the receive time${sentAt === null ? ' (send sent_at to correct a wrong client clock)' : ''}`;
  return null;
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const iso = isoTime;

/** parseUrl, once per distinct URL of a request. */
function parseUrlOnce(url: string | undefined, ctx: RequestContext): ParsedUrl {
  if (!url) return NO_URL;
  const urls = (ctx.urls ??= new Map());
  let parsed = urls.get(url);
  if (!parsed) urls.set(url, (parsed = parseUrl(url, ctx.keepQuery ?? DEFAULT_KEEP)));
  return parsed;
}

export function enrichEvent(ev: ClientEvent, ctx: RequestContext): EnrichedEvent {
  const page = parseUrlOnce(ev.url, ctx);
  const referrer_host = parseUrlOnce(ev.referrer, ctx).host;
  const utm = utmOf(ev, page.query);
  const campaign = utm.utm_source !== null || utm.utm_medium !== null || utm.utm_campaign !== null || hasClickId(page.query);
  const geo = ctx.geo;
  return {
    event_id: ev.event_id,
    event_type: ev.type,
    schema_version: SCHEMA_VERSION,
    site_id: ctx.siteId,
    visitor_id: ev.visitor_id,
    session_id: ev.session_id,
    user_id: ev.user_id === undefined ? null : ctx.hashUserId ? ctx.hashUserId(ev.user_id) : ev.user_id,
    timestamp: iso(correctedEventTime(ev.ts, ctx.sentAt, ctx.receivedAt)),
    client_ts: iso(ev.ts),
    sent_at: (ctx.sentIso ??= ctx.sentAt === null ? null : iso(ctx.sentAt)),
    received_at: (ctx.receivedIso ??= iso(ctx.receivedAt)),
    url: page.normal ?? ev.url,
    url_raw: ev.url,
    url_host: page.host,
    url_path: page.path,
    referrer: ev.referrer || null,
    referrer_host,
    referrer_type: classifyReferrer({ pageHost: page.host, referrerHost: referrer_host, campaign, siteHosts: ctx.siteHosts }),
    title: orNull(ev.title),
    language: orNull(ev.language),
    screen: orNull(ev.screen),
    viewport: orNull(ev.viewport),
    ...utm,
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
