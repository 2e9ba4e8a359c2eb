import { SCHEMA_VERSION, type ClientEvent, type EnrichedEvent } from '../contracts/event-schema.js';
import type { GeoInfo } from './geo.js';
import type { UaInfo } from './user-agent.js';
import { CLICK_ID_PARAMS, classifyReferrer } from './referrer.js';
import type { QueryKeep } from './url-normalise.js';
import { NO_URL, UrlMemo, type ParsedUrl } from './parsed-url.js';
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
  /** Parsed URLs: the gateway's (ingest passes its own), else this request's (made on first use). */
  urls?: UrlMemo;
  /** This request's number among those that used `urls` (made on first use): what it memoises on a shared ParsedUrl for this request only is marked with it. */
  memo?: number;
  /** JSON of the fields every event of the request shares (enrichedJson; filled in on first use). */
  json?: RequestJson;
  /**
   * Every string the request's events hold is written by JSON.stringify as itself in quotes: they
   * were parsed from a body with no backslash (`plainBody`), so none holds a quote, a backslash, a
   * control character or a lone surrogate. enrichedJson then quotes them without looking.
   */
  plainStrings?: boolean;
}

/**
 * Whether every string JSON.parse makes of `body` is written back by JSON.stringify as itself in
 * quotes: true when the body has no backslash (no escape, so no quote or control character
 * inside a string, which JSON forbids raw; a body decoded from valid UTF-8 holds no lone
 * surrogate). One scan of the body instead of a test per field of every event.
 */
export const plainBody = (body: string): boolean => body.indexOf('\\') < 0;

/** The request's shared fields as JSON fragments, each starting with its comma. */
interface RequestJson {
  /** `,"schema_version":..,"site_id":..` */
  site: string;
  /** `,"sent_at":..,"received_at":..` */
  times: string;
  /** `,"browser":..` to `,"location":..`: user agent, anonymised IP and geo, in ENRICHED_FIELDS's order. */
  client: string;
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

/** A URL's parse, through the request's memo. */
function parseUrlOnce(url: string | undefined, ctx: RequestContext): ParsedUrl {
  if (!url) return NO_URL;
  return (ctx.urls ??= new UrlMemo(ctx.keepQuery)).get(url);
}

/** Numbers the requests that memoise on ParsedUrls (RequestContext.memo). */
let requests = 0;

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

/** What JSON.stringify escapes in a string: quote, backslash, control characters, surrogates (lone ones; pairs go the slow way too). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/**
 * A string field as JSON.stringify writes it (null for absent). Most fields need no escape, and
 * quoting them by hand costs about half of a JSON.stringify call (the largest single function of
 * enrichment, profile of 1 Dec 2026).
 */
const str = (v: string | null | undefined): string => (v == null ? 'null' : NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`);
/** A number field as JSON.stringify writes it (non-finite numbers as null, like it). */
const num = (v: number | null | undefined): string => (v == null || !Number.isFinite(v) ? 'null' : String(v));

/**
 * `s`, stored flat from now on. A template or `+` makes a tree of its pieces, and V8 walks the
 * whole tree of every enriched event when the Kafka client measures and writes its UTF-8: a
 * fragment that all of a request's events embed was walked once per event. A search makes V8
 * flatten the string in place, once; the events then hold one piece for it (5 % less CPU for
 * a request's enrichment and encoding, bench:gateway-work --encode, 4 Dec 2026).
 */
let _nulAt = -1;
const flat = (s: string): string => {
  // Kept in a variable, so that the optimising compiler cannot drop the search as unused.
  _nulAt = s.indexOf('\0');
  return s;
};

function requestJson(ctx: RequestContext): RequestJson {
  const geo = ctx.geo;
  const ua = ctx.ua;
  const client =
    `,"browser":${str(ua.browser)},"browser_version":${str(ua.browser_version)},"os":${str(ua.os)},"os_version":${str(ua.os_version)}` +
    `,"device_type":${str(ua.device_type)},"device_vendor":${str(ua.device_vendor)},"device_model":${str(ua.device_model)},"is_bot":${ua.is_bot ? 'true' : 'false'}` +
    `,"ip":${str(ctx.ip)},"country":${str(geo?.country)},"region":${str(geo?.region)},"city":${str(geo?.city)},"timezone":${str(geo?.timezone)},"location":${str(geo?.location)}`;
  return {
    site: flat(`,"schema_version":${SCHEMA_VERSION},"site_id":${str(ctx.siteId)}`),
    times: flat(`,"sent_at":${str((ctx.sentIso ??= ctx.sentAt === null ? null : iso(ctx.sentAt)))},"received_at":${str((ctx.receivedIso ??= iso(ctx.receivedAt)))}`),
    client: flat(client),
  };
}

/** A string field known to need no escape (`plainStrings`), as JSON.stringify writes it. */
const quote = (v: string | null | undefined): string => (v == null ? 'null' : `"${v}"`);

/** `,"utm_source":..` to `,"utm_content":..` from the given values. */
const utmJson = (q: (v: string | null | undefined) => string, src: string | null | undefined, medium: string | null | undefined, campaign: string | null | undefined, term: string | null | undefined, content: string | null | undefined): string =>
  `,"utm_source":${q(src || null)},"utm_medium":${q(medium || null)},"utm_campaign":${q(campaign || null)},"utm_term":${q(term || null)},"utm_content":${q(content || null)}`;

/** The UTM fields of a page URL's query (utmOf for an event that carries none) and whether the query marks a campaign. */
function queryUtm(page: ParsedUrl): { json: string; campaign: boolean } {
  const u = utmOf({} as ClientEvent, page.query);
  return { json: flat(utmJson(str, u.utm_source, u.utm_medium, u.utm_campaign, u.utm_term, u.utm_content)), campaign: u.utm_source !== null || u.utm_medium !== null || u.utm_campaign !== null || hasClickId(page.query) };
}

/**
 * `JSON.stringify(enrichEvent(ev, ctx))`, byte for byte, without building the enriched object:
 * what a request's events share (user agent, geo, IP, site, receive time) is written once per
 * request; each page URL's fields, its query's UTM fields and the referrer fields of a run of
 * events with the same page and referrer once per request too, so an event costs only its own
 * fields (and, with `plainStrings`, no escape test per field: those tests and the per-event UTM
 * and referrer work were about a third of enrichment, profile of 2 Dec 2026). The enriched object
 * and its serialisation were a third of the gateway's own work (profile of 1 Dec 2026);
 * gateway/enriched-json.test.ts holds this to JSON.stringify of enrichEvent's object.
 */
export function enrichedJson(ev: ClientEvent, ctx: RequestContext): string {
  const q = ctx.plainStrings ? quote : str;
  const page = parseUrlOnce(ev.url, ctx);
  const shared = page !== NO_URL;
  let utm: string;
  let campaign: boolean;
  if (ev.utm_source || ev.utm_medium || ev.utm_campaign || ev.utm_term || ev.utm_content) {
    // Carried by the event: its own values, never mixed with the page's (utmOf).
    utm = utmJson(q, ev.utm_source, ev.utm_medium, ev.utm_campaign, ev.utm_term, ev.utm_content);
    campaign = !!(ev.utm_source || ev.utm_medium || ev.utm_campaign) || hasClickId(page.query);
  } else {
    const u = shared ? (page.utm ??= queryUtm(page)) : queryUtm(page);
    utm = u.json;
    campaign = u.campaign;
  }
  const request = (ctx.memo ??= ++requests);
  let ref = shared ? page.ref : undefined;
  if (!ref || ref.request !== request || ref.referrer !== ev.referrer || ref.campaign !== campaign) {
    const referrerHost = parseUrlOnce(ev.referrer, ctx).host;
    const type = classifyReferrer({ pageHost: page.host, referrerHost, campaign, siteHosts: ctx.siteHosts });
    ref = { request, referrer: ev.referrer, campaign, json: flat(`,"referrer":${q(ev.referrer || null)},"referrer_host":${str(referrerHost)},"referrer_type":"${type}"`) };
    if (shared) page.ref = ref;
  }
  const rj = (ctx.json ??= requestJson(ctx));
  const pageJson = shared ? (page.pageJson ??= urlJson(page, ev.url)) : urlJson(page, ev.url);
  let out =
    `{"event_id":${q(ev.event_id)},"event_type":${q(ev.type)}${rj.site},"visitor_id":${q(ev.visitor_id)},"session_id":${q(ev.session_id)}` +
    `,"user_id":${ev.user_id === undefined ? 'null' : ctx.hashUserId ? str(ctx.hashUserId(ev.user_id)) : q(ev.user_id)}` +
    `,"timestamp":"${iso(correctedEventTime(ev.ts, ctx.sentAt, ctx.receivedAt))}","client_ts":"${iso(ev.ts)}"${rj.times}${pageJson}${ref.json}` +
    `,"title":${q(ev.title)},"language":${q(ev.language)},"screen":${q(ev.screen)},"viewport":${q(ev.viewport)}${utm}${rj.client}`;
  switch (ev.type) {
    case 'page_view':
      out += `,"engagement_ms":${num(ev.engagement_ms)},"element":null,"target_url":null,"product_id":null,"product_name":null,"price":null,"quantity":null,"currency":null,"order_id":null,"revenue":null,"items":null}`;
      break;
    case 'click':
      out += `,"engagement_ms":null,"element":${q(ev.element)},"target_url":${q(ev.target_url)},"product_id":null,"product_name":null,"price":null,"quantity":null,"currency":null,"order_id":null,"revenue":null,"items":null}`;
      break;
    case 'add_to_cart':
      out += `,"engagement_ms":null,"element":null,"target_url":null,"product_id":${q(ev.product_id)},"product_name":${q(ev.product_name)},"price":${num(ev.price)},"quantity":${num(ev.quantity)},"currency":${q(ev.currency)},"order_id":null,"revenue":null,"items":null}`;
      break;
    default:
      out += `,"engagement_ms":null,"element":null,"target_url":null,"product_id":null,"product_name":null,"price":null,"quantity":null,"currency":${q(ev.currency)},"order_id":${q(ev.order_id)},"revenue":${num(ev.revenue)},"items":${ev.items == null ? 'null' : JSON.stringify(ev.items)}}`;
  }
  return out;
}

function urlJson(page: ParsedUrl, raw: string): string {
  return flat(`,"url":${str(page.normal ?? raw)},"url_raw":${str(raw)},"url_host":${str(page.host)},"url_path":${str(page.path)}`);
}
