/**
 * The one definition of what an event is: the wire format the SDK (or curl) sends,
 * and the enriched record the gateway writes to Kafka, the processor archives to
 * Parquet and indexes into Elasticsearch. Everything else imports from here.
 *
 * Pure module: no DOM, Node, Kafka or AWS imports (the SDK bundles the types).
 */

export const EVENT_TYPES = ['page_view', 'click', 'add_to_cart', 'purchase'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const SCHEMA_VERSION = 1;

/** Fields every incoming event carries, whatever its type. */
export interface BaseClientEvent {
  /** Random id chosen by the client; the dedup and idempotency key everywhere downstream. */
  event_id: string;
  type: EventType;
  /** Client clock, epoch milliseconds, when the event happened. */
  ts: number;
  visitor_id: string;
  session_id: string;
  user_id?: string;
  url: string;
  referrer?: string;
  title?: string;
  language?: string;
  /** "WIDTHxHEIGHT" */
  screen?: string;
  viewport?: string;
  utm_source?: string;
  utm_medium?: string;
  utm_campaign?: string;
  utm_term?: string;
  utm_content?: string;
}

export interface PageViewEvent extends BaseClientEvent {
  type: 'page_view';
  /**
   * Set only on an engagement report from the SDK's engagement plugin (sdk/src/plugins/engagement.ts):
   * such a page_view is NOT a new view. It reports the visible time spent on `url` since the previous
   * report of the same view (reports add up), sent when the page is hidden or the SPA route changes.
   * Views are page_view events without engagement_ms.
   */
  engagement_ms?: number;
}
export interface ClickEvent extends BaseClientEvent {
  type: 'click';
  /** A short description of what was clicked (selector, id or text). */
  element?: string;
  target_url?: string;
}
export interface AddToCartEvent extends BaseClientEvent {
  type: 'add_to_cart';
  product_id: string;
  product_name?: string;
  price: number;
  quantity: number;
  currency: string;
}
export interface PurchaseItem {
  product_id: string;
  price: number;
  quantity: number;
}
export interface PurchaseEvent extends BaseClientEvent {
  type: 'purchase';
  order_id: string;
  revenue: number;
  currency: string;
  items?: PurchaseItem[];
}
export type ClientEvent = PageViewEvent | ClickEvent | AddToCartEvent | PurchaseEvent;

/** Body of POST /v1/events. */
export interface EventBatch {
  /** Client clock when the batch left the browser; lets the gateway correct clock skew. */
  sent_at?: number;
  events: ClientEvent[];
}

// ---------------------------------------------------------------------------
// JSON Schema (draft-07, compiled by ajv in the gateway).

const str = (maxLength: number, minLength = 0) => ({ type: 'string', minLength, maxLength }) as const;
/**
 * Latest epoch milliseconds with a four-digit year (9999-12-31T23:59:59.999Z): later times print
 * as `+010000-…`, which Elasticsearch's date fields refuse. Event times are bounded much tighter
 * around the receive time by the gateway (EVENT_MAX_AGE_DAYS, EVENT_MAX_FUTURE_S).
 */
export const MAX_EPOCH_MS = 253_402_300_799_999;
const epochMs = { type: 'integer', minimum: 0, maximum: MAX_EPOCH_MS } as const;
const money = { type: 'number', minimum: 0, maximum: 1e12 } as const;
const currency = { type: 'string', pattern: '^[A-Z]{3}$' } as const;

const baseProperties = {
  event_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' },
  ts: epochMs,
  visitor_id: str(128, 1),
  session_id: str(128, 1),
  user_id: str(256, 1),
  url: str(4096, 1),
  referrer: str(4096),
  title: str(1024),
  language: str(35),
  screen: { type: 'string', pattern: '^[0-9]{1,5}x[0-9]{1,5}$' },
  viewport: { type: 'string', pattern: '^[0-9]{1,5}x[0-9]{1,5}$' },
  utm_source: str(256),
  utm_medium: str(256),
  utm_campaign: str(256),
  utm_term: str(256),
  utm_content: str(256),
} as const;
const baseRequired = ['event_id', 'type', 'ts', 'visitor_id', 'session_id', 'url'];

function variant(type: EventType, properties: Record<string, unknown>, required: string[] = []) {
  return {
    type: 'object',
    properties: { ...baseProperties, type: { const: type }, ...properties },
    required: [...baseRequired, ...required],
    additionalProperties: false,
  };
}

/** Per-type schemas, keyed by event type. A type not listed here is rejected as unknown. */
export const clientEventSchemas: Record<EventType, object> = {
  page_view: variant('page_view', { engagement_ms: { type: 'integer', minimum: 0, maximum: 86_400_000 } }),
  click: variant('click', { element: str(512), target_url: str(4096) }),
  add_to_cart: variant(
    'add_to_cart',
    {
      product_id: str(128, 1),
      product_name: str(512),
      price: money,
      quantity: { type: 'integer', minimum: 1, maximum: 100_000 },
      currency,
    },
    ['product_id', 'price', 'quantity', 'currency'],
  ),
  purchase: variant(
    'purchase',
    {
      order_id: str(128, 1),
      revenue: money,
      currency,
      items: {
        type: 'array',
        maxItems: 200,
        items: {
          type: 'object',
          properties: {
            product_id: str(128, 1),
            price: money,
            quantity: { type: 'integer', minimum: 1, maximum: 100_000 },
          },
          required: ['product_id', 'price', 'quantity'],
          additionalProperties: false,
        },
      },
    },
    ['order_id', 'revenue', 'currency'],
  ),
};

/**
 * Envelope schema for the request body. Events are only checked to be objects here:
 * each one is validated on its own so that one bad event never rejects its neighbours.
 */
export function batchSchema(maxEvents: number) {
  return {
    type: 'object',
    properties: {
      sent_at: epochMs,
      events: { type: 'array', minItems: 1, maxItems: maxEvents },
    },
    required: ['events'],
    additionalProperties: false,
  } as const;
}

// ---------------------------------------------------------------------------
// The enriched event: what Kafka carries, what Parquet stores, what Elasticsearch indexes.

/** Storage type of each enriched field; ES mappings and the Parquet schema derive from it. */
export type FieldKind = 'keyword' | 'text' | 'date' | 'long' | 'double' | 'boolean' | 'geo_point' | 'json';

export const ENRICHED_FIELDS = {
  event_id: 'keyword',
  event_type: 'keyword',
  schema_version: 'long',
  site_id: 'keyword',
  visitor_id: 'keyword',
  session_id: 'keyword',
  user_id: 'keyword',
  /** Event time: the client's time corrected for its clock skew (see gateway/enrich). */
  timestamp: 'date',
  client_ts: 'date',
  sent_at: 'date',
  received_at: 'date',
  /** The page URL normalised once, at the gateway (gateway/url-normalise.ts): what every output groups pages by. */
  url: 'keyword',
  /** The page URL as the client sent it. */
  url_raw: 'keyword',
  url_host: 'keyword',
  url_path: 'keyword',
  referrer: 'keyword',
  referrer_host: 'keyword',
  /** search, social, internal, campaign, direct or other (see REFERRER_TYPES). */
  referrer_type: 'keyword',
  title: 'text',
  language: 'keyword',
  screen: 'keyword',
  viewport: 'keyword',
  utm_source: 'keyword',
  utm_medium: 'keyword',
  utm_campaign: 'keyword',
  utm_term: 'keyword',
  utm_content: 'keyword',
  browser: 'keyword',
  browser_version: 'keyword',
  os: 'keyword',
  os_version: 'keyword',
  device_type: 'keyword',
  device_vendor: 'keyword',
  device_model: 'keyword',
  is_bot: 'boolean',
  ip: 'keyword',
  country: 'keyword',
  region: 'keyword',
  city: 'keyword',
  timezone: 'keyword',
  /** "lat,lon" of the city centre, never of the visitor. */
  location: 'geo_point',
  engagement_ms: 'long',
  element: 'keyword',
  target_url: 'keyword',
  product_id: 'keyword',
  product_name: 'keyword',
  price: 'double',
  quantity: 'long',
  currency: 'keyword',
  order_id: 'keyword',
  revenue: 'double',
  items: 'json',
} as const satisfies Record<string, FieldKind>;

/**
 * How a visit arrived: campaign (UTM or ad click id in the page URL), direct (no referrer),
 * internal (from the same site), search, social, or other (any other site).
 */
export const REFERRER_TYPES = ['search', 'social', 'internal', 'campaign', 'direct', 'other'] as const;
export type ReferrerType = (typeof REFERRER_TYPES)[number];

export type EnrichedFieldName = keyof typeof ENRICHED_FIELDS;

export interface EnrichedEvent {
  event_id: string;
  event_type: EventType;
  schema_version: number;
  site_id: string | null;
  visitor_id: string;
  session_id: string;
  user_id: string | null;
  timestamp: string;
  client_ts: string;
  sent_at: string | null;
  received_at: string;
  url: string;
  url_raw: string;
  url_host: string | null;
  url_path: string | null;
  referrer: string | null;
  referrer_host: string | null;
  referrer_type: ReferrerType;
  title: string | null;
  language: string | null;
  screen: string | null;
  viewport: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  browser: string | null;
  browser_version: string | null;
  os: string | null;
  os_version: string | null;
  device_type: string;
  device_vendor: string | null;
  device_model: string | null;
  is_bot: boolean;
  ip: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  timezone: string | null;
  location: string | null;
  engagement_ms: number | null;
  element: string | null;
  target_url: string | null;
  product_id: string | null;
  product_name: string | null;
  price: number | null;
  quantity: number | null;
  currency: string | null;
  order_id: string | null;
  revenue: number | null;
  items: PurchaseItem[] | null;
}

// Compile-time check that the field table and the interface list the same names.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _fieldsMatch: Same<EnrichedFieldName, keyof EnrichedEvent> = true;
void _fieldsMatch;
