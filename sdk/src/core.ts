/**
 * The core of the browser SDK: identity, session, batching, delivery, offline queue, privacy.
 *
 * Written for size (the core has a 2,048-byte min+gzip budget, see scripts/size.mjs): module
 * state instead of classes, one timer, one storage writer. Every byte here ships to every site.
 *
 * Wire format: `EventBatch` of contracts/event-schema.ts, with the schema's full field names.
 * Bodies go out as text/plain (a CORS "simple request": no preflight, and what sendBeacon sends).
 */
import type { ClientEvent, EventType } from '../../contracts/event-schema.js';

export interface Options {
  /** Where batches are POSTed. Default `/v1/events` (first-party, same origin). */
  endpoint?: string;
  /** Site write key, sent as `?site=KEY` (works for fetch and sendBeacon alike). */
  siteKey?: string;
  /** Send as soon as this many events are queued. Default 10. */
  batchSize?: number;
  /** Otherwise send this many ms after the first queued event. Default 5000. */
  flushInterval?: number;
  /** Offline queue bound: most events kept (oldest dropped first). Default 500. */
  maxQueue?: number;
  /** Offline queue bound: most characters of JSON kept in localStorage. Default 200,000. */
  maxBytes?: number;
  /** Track nothing when the browser sends Do Not Track or Global Privacy Control. Default false. */
  respectDnt?: boolean;
  /**
   * Consent before anything is stored or sent. `'granted'` (default): track at once.
   * `'hold'`: keep events in memory until `consent(true)`, drop them on `consent(false)`.
   * `'drop'`: discard events until `consent(true)`.
   * Until consent is granted nothing is written to localStorage.
   */
  consent?: 'granted' | 'hold' | 'drop';
}

type Props = object;

const KEY = 'cs';
/** A session ends after 30 minutes without an event. */
const SESSION_MS = 30 * 60e3;
/** Retries wait 1 s, 2 s, 4 s ... up to 60 s, each times a random factor in [0.5, 1). */
const RETRY_BASE_MS = 1e3;
const RETRY_MAX_MS = 60e3;

/** The endpoint with the site key; empty until init. */
let ep = '';
let batchSize: number;
let interval: number;
let maxQueue: number;
let maxBytes: number;
/** Consent: 1 granted, 0 on hold, -1 refused (or not given yet in 'drop' mode). */
let c = 1;
/** Events queued for delivery, persisted (oldest first). */
let q: ClientEvent[] = [];
/** Events recorded while consent is on hold. */
let held: ClientEvent[] = [];
/** Events already handed to sendBeacon on this page: not beaconed twice. */
const beaconed = new WeakSet<ClientEvent>();
let vid: string;
let sid: string;
let uid: string;
let last = 0;
let utm: Record<string, string>;
/** 1: a request is in flight; 2: waiting to retry (backoff, Retry-After). Nothing else is sent meanwhile. */
let busy = 0;
/** The batch interval timer, or the retry timer. */
let timer: ReturnType<typeof setTimeout> | 0 = 0;
/** Failed attempts in a row. */
let attempt = 0;
/** The stored state, JSON [visitor, session, last event time, utm, user, queue]; throws when there is none or no storage (callers catch and keep what memory holds). */
const load = (): [string, string, number, Record<string, string>, string, ClientEvent[]] => JSON.parse(localStorage[KEY]);

/** A random id, 20 to 51 characters of [0-9a-z_]: base-36 time (8 characters), then 128 random bits. */
const uuid = (): string =>
  Date.now().toString(36) + crypto.getRandomValues(new Uint32Array(4)).join('_');

const body = (events: ClientEvent[]) => JSON.stringify({ sent_at: Date.now(), events });

/**
 * Bounds the queue (oldest out first, to maxQueue events and maxBytes of stored JSON), then
 * persists identity, session and queue in one localStorage key when consent allows.
 */
function store() {
  let s: string;
  while (((s = JSON.stringify([vid, sid, last, utm, uid, q])).length > maxBytes && q.length) || q.length > maxQueue) q.shift();
  if (c == 1)
    try {
      localStorage[KEY] = s;
    } catch {
      /* full or disabled: memory only */
    }
}

const tick = () => {
  timer = 0;
  flush();
};

function schedule() {
  if (q.length >= batchSize) flush();
  else if (q.length && !timer) timer = setTimeout(tick, interval);
}

function enqueue(e: ClientEvent) {
  q.push(e);
  store();
  schedule();
}

/**
 * Sends the oldest batch now with fetch (one request in flight at a time), or with `beacon`
 * every queued event not beaconed yet (page hidden or unloading). Beaconed events stay in the
 * persisted queue until a fetch is acknowledged: a beacon is never acknowledged, and the gateway
 * drops the duplicate by event id when both arrive.
 */
export function flush(beacon?: boolean): void {
  if (!ep) return;
  if (beacon) {
    // In batches: one beacon can carry 64 KB at most.
    const list = q.filter((e) => !beaconed.has(e));
    while (list.length) {
      const b = list.splice(0, batchSize);
      if (navigator.sendBeacon?.(ep, body(b))) b.map((e) => beaconed.add(e));
    }
    return;
  }
  if (busy || !q.length) return;
  clearTimeout(timer);
  timer = 0;
  busy = 1;
  const b = q.slice(0, batchSize);
  const text = body(b);
  // Network error, 5xx or 429: the same events (same ids) again, after Retry-After seconds when
  // the answer gives them (a number; NaN for an HTTP date or an Error, which means the backoff).
  const retry = (retryAfter: unknown) => {
    busy = 2;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        busy = 0;
        tick();
      },
      (retryAfter as number) > 0 ? (retryAfter as number) * 1e3 : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt++) * (0.5 + Math.random() / 2),
    );
  };
  fetch(ep, { method: 'POST', body: text, keepalive: text.length < 6e4 }).then((r) => {
    if (r.status == 429 || r.status > 499) retry(+r.headers.get('retry-after')!);
    else {
      // Accepted (2xx, with per-event results) or refused for good (other 4xx): never sent again.
      busy = attempt = 0;
      q = q.filter((e) => !b.includes(e));
      store();
      schedule();
    }
  }, retry);
}

/** Records an event of any type; the exported builders are thin wrappers around this. */
export function track(type: EventType, props?: Props): void {
  if (!ep || c < 0) return;
  const now = Date.now();
  try {
    // Re-read: another tab may have kept the session alive (and identified or reset). Only a state
    // more recent than ours: a write that failed (storage full) leaves an older one behind.
    const st = load();
    if (st[2] > last) [vid, sid, last, utm, uid] = st;
  } catch {
    /* not stored (first event, no consent yet, no storage): memory holds it */
  }
  if (!sid || now - last > SESSION_MS) {
    sid = uuid();
    utm = {};
    new URLSearchParams(location.search).forEach((v, k) => {
      if (/^utm_(source|medium|campaign|term|content)$/.test(k)) utm[k] = v.slice(0, 256);
    });
  }
  last = now;
  const e = {
    event_id: uuid(),
    type,
    ts: now,
    visitor_id: vid,
    session_id: sid,
    user_id: uid || undefined,
    url: location.href.slice(0, 4096),
    referrer: document.referrer.slice(0, 4096),
    title: document.title.slice(0, 1024),
    language: navigator.language,
    screen: screen.width + 'x' + screen.height,
    viewport: innerWidth + 'x' + innerHeight,
    ...utm,
    ...props,
  } as ClientEvent;
  if (c) enqueue(e);
  else if (held.push(e) > maxQueue) held.shift();
}

/** Starts the SDK. Calls before init are ignored (the script-tag loader queues them instead). */
export function init(options: Options): void {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  // Under DNT/GPC (when honoured) the SDK never starts: every call stays a no-op, consent(true) included.
  if (ep || (options.respectDnt && (n.doNotTrack == '1' || n.globalPrivacyControl))) return;
  const { endpoint = '/v1/events', siteKey, consent } = options;
  ({ batchSize = 10, flushInterval: interval = 5e3, maxQueue = 500, maxBytes = 2e5 } = options);
  ep = endpoint + (siteKey ? (/\?/.test(endpoint) ? '&' : '?') + 'site=' + encodeURIComponent(siteKey) : '');
  c = consent == 'drop' ? -1 : consent == 'hold' ? 0 : 1;
  try {
    [vid, sid, last, utm, uid, q] = load();
  } catch {
    /* nothing stored yet */
  }
  vid ||= uuid();
  addEventListener('pagehide', () => flush(true));
  addEventListener('visibilitychange', () => document.hidden && flush(true));
  // Back online: retry now rather than at the end of the backoff.
  addEventListener('online', () => {
    if (busy > 1) {
      clearTimeout(timer);
      busy = 0;
      tick();
    }
  });
  schedule();
}

/**
 * Grants (true) or refuses (false) consent. Granting sends what was held and starts storing;
 * refusing drops held events and stops tracking.
 */
export function consent(granted: boolean): void {
  c = granted ? 1 : -1;
  if (granted) held.map(enqueue);
  else {
    // Refused: forget everything stored, and what waits to be sent.
    q = [];
    try {
      localStorage.removeItem(KEY);
    } catch {
      /* no storage */
    }
  }
  held = [];
}

/** Attaches a user id to every following event (kept across pages until reset). */
export function identify(userId: string): void {
  uid = userId.slice(0, 256);
  if (ep) store();
}

/** Forgets the user: new visitor id, new session, no user id. Queued events are still delivered. */
export function reset(): void {
  vid = uuid();
  sid = uid = '';
  if (ep) store();
}
