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

/** The shared state (identity and session); each page's queue has its own key, `cs.<page id>`. */
const KEY = 'cs';
/** A session ends after 30 minutes without an event; a page's queue key not written for as long is orphaned. */
const SESSION_MS = 30 * 60e3;
/** Retries wait 1 s, 2 s, 4 s ... up to 60 s, each times a random factor in [0.5, 1). */
const RETRY_BASE_MS = 1e3;
const RETRY_MAX_MS = 60e3;
/**
 * Events handed to sendBeacon are checked this long after the first of them left: the newest goes
 * again in a fetch (the probe); the gateway calling it a duplicate confirms every one beaconed
 * before it, otherwise they are all sent again. One copy per check, not one per event.
 */
const BEACON_GRACE_MS = 10e3;

/** Consent states. */
const GRANTED = 1;
const ON_HOLD = 0;
const REFUSED = -1;
/** Delivery states: nothing in flight, a fetch in flight, waiting to retry (backoff, Retry-After). */
const IDLE = 0;
const SENDING = 1;
const WAITING = 2;

/** The endpoint with the site key; empty until init. */
let ep = '';
let batchSize: number;
let interval: number;
let maxQueue: number;
let maxBytes: number;
let consentState: number = GRANTED;
/** Events queued for delivery, persisted under this page's key (oldest first). */
let q: ClientEvent[] = [];
/** Events handed to sendBeacon (or carried by a fetch at page hide), not confirmed yet, persisted. */
let unconfirmed: ClientEvent[] = [];
/** When the oldest of `unconfirmed` left. */
let unconfirmedSince = 0;
/** Events recorded while consent is on hold. */
let held: ClientEvent[] = [];
/** This page's queue key. */
let pageKey: string;
/** The events the fetch in flight carries. */
let inFlight: ClientEvent[] = [];
/** Set while plugins report before a beacon: nothing is fetched then, the beacon takes it all. */
let hiding = 0;
/** 1 from pagehide on (visibilitychange to hidden follows it in Chromium), until a return from the back/forward cache. */
let gone = 0;
let warned = 0;
let vid: string;
let sid: string;
let uid: string;
let last = 0;
let utm: Record<string, string>;
let state = IDLE;
/** The batch interval timer, or the retry timer. */
let timer: ReturnType<typeof setTimeout> | 0 = 0;
/** Failed attempts in a row. */
let attempt = 0;

/**
 * Called when the page is hidden or unloaded, just before the beacon: what a plugin tracks here
 * (the engagement report) leaves in the same beacon.
 */
export const beforeBeacon: (() => void)[] = [];

/** The stored state, JSON [visitor, session, last event time, utm, user]; throws when there is none or no storage (callers catch and keep what memory holds). */
const load = (): [string, string, number, Record<string, string>, string, ClientEvent[]?] => JSON.parse(localStorage[KEY]);

/** The keys of the stored page queues (this page's included). */
const pageKeys = () => Object.keys(localStorage).filter((k) => k.startsWith(KEY + '.'));

const without = (a: ClientEvent[], b: ClientEvent[]) => a.filter((e) => !b.includes(e));

/** A random id, 20 to 51 characters of [0-9a-z_]: base-36 time (8 characters), then 128 random bits. */
const uuid = (): string =>
  Date.now().toString(36) + crypto.getRandomValues(new Uint32Array(4)).join('_');

const body = (events: ClientEvent[]) => JSON.stringify({ sent_at: Date.now(), events });

/**
 * Bounds the queue (oldest out first, to maxQueue events and maxBytes of stored JSON), then
 * persists identity and session (shared) and this page's queue when consent allows. The page's
 * entry is [time written, queue, unconfirmed, unconfirmed since]; time 0 once the page is gone.
 */
function store() {
  let s: string;
  while (((s = JSON.stringify([gone ? 0 : Date.now(), q, unconfirmed, unconfirmedSince])).length > maxBytes && q.length) || q.length > maxQueue) q.shift();
  if (consentState == GRANTED)
    try {
      localStorage[KEY] = JSON.stringify([vid, sid, last, utm, uid]);
      if (q.length + unconfirmed.length) localStorage[pageKey] = s;
      else localStorage.removeItem(pageKey);
    } catch {
      /* full or disabled: memory only */
    }
}

/**
 * Takes over the queues of pages that are gone: marked so at pagehide, or not written for
 * SESSION_MS (a crash). Each page writes only its own key, so no tab overwrites another's events.
 */
function adopt() {
  try {
    if (consentState == GRANTED)
      for (const k of pageKeys()) {
        const [t, pending, sent, since] = JSON.parse(localStorage[k]);
        // Our own key only after a return from the back/forward cache (marked gone, memory emptied).
        if (Date.now() - t > SESSION_MS && (k != pageKey || !t)) {
          if (!unconfirmed.length) unconfirmedSince = since;
          q = pending.concat(q);
          unconfirmed = sent.concat(unconfirmed);
          // One task: the browser commits both writes together.
          localStorage.removeItem(k);
          store();
        }
      }
  } catch {
    /* no storage, or another page's entry went away meanwhile (the next storage event tries again) */
  }
  schedule();
}

const tick = () => {
  timer = 0;
  flush();
};

function schedule() {
  if (q.length >= batchSize && !hiding) flush();
  else if ((q.length || unconfirmed.length) && !timer) timer = setTimeout(tick, interval);
}

function enqueue(e: ClientEvent) {
  q.push(e);
  store();
  schedule();
}

/**
 * Page hidden or unloaded: plugins report, then every queued event goes out with sendBeacon, once
 * (in batches: one beacon carries 64 KB at most). What the browser took moves to `unconfirmed`,
 * and so does a batch a fetch is carrying (keepalive outlives the page, like a beacon).
 */
function hide() {
  hiding = 1;
  beforeBeacon.map((f) => f());
  hiding = 0;
  let b = state == SENDING ? q.filter((e) => inFlight.includes(e)) : [];
  if (!unconfirmed.length) unconfirmedSince = Date.now();
  unconfirmed = unconfirmed.concat(b);
  q = without(q, b);
  // While fetches fail (waiting to retry), beaconed events stay queued: the network is likely down.
  for (let i = 0; i < q.length && navigator.sendBeacon?.(ep, body((b = q.slice(i, i + batchSize)))); ) {
    if (state == WAITING) i += b.length;
    else {
      unconfirmed = unconfirmed.concat(b);
      q = q.slice(b.length);
    }
  }
  store();
  schedule();
}

/**
 * Sends the oldest batch now with fetch (one request in flight at a time), or with `beacon`
 * every queued event (page hidden or unloading). A beacon is never acknowledged: its events are
 * confirmed later by one probe (see BEACON_GRACE_MS), and sent again only when it says they did
 * not arrive, or when a fetch fails meanwhile (the network was down; the gateway drops copies).
 */
export function flush(beacon?: boolean): void {
  if (!ep) return;
  if (beacon) return hide();
  if (state || hiding) return;
  // The probe: the newest unconfirmed event, once the grace has passed.
  const probe = Date.now() - unconfirmedSince > BEACON_GRACE_MS && unconfirmed[unconfirmed.length - 1];
  const checked = unconfirmed;
  if (!q.length && !probe) return schedule();
  clearTimeout(timer);
  timer = 0;
  state = SENDING;
  const b = (inFlight = q.slice(0, batchSize).concat(probe || []));
  const text = body(b);
  // Network error, 5xx or 429: the same events (same ids) again, after Retry-After seconds when
  // the answer gives them (a number; NaN for an HTTP date or an Error, which means the backoff).
  // What was beaconed may have failed alike: sent again too.
  const retry = (retryAfter: unknown) => {
    state = WAITING;
    q = unconfirmed.concat(q);
    unconfirmed = [];
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        state = IDLE;
        tick();
      },
      (retryAfter as number) > 0 ? (retryAfter as number) * 1e3 : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt++) * (0.5 + Math.random() / 2),
    );
  };
  fetch(ep, { method: 'POST', body: text, keepalive: text.length < 6e4 }).then(async (r) => {
    if (r.status == 429 || r.status > 499) return retry(+r.headers.get('retry-after')!);
    // Accepted (2xx, with per-event results) or refused for good (other 4xx): never sent again.
    // The gateway always answers JSON: anything else is a page or a proxy at the wrong URL.
    if (!/json/.test(r.headers.get('content-type')!) && !warned++) console.warn('clickstream: not the gateway at', ep, r.status);
    if (probe) {
      // Per-event results may be left out when every event was accepted: then the probe was not a duplicate.
      let seen: unknown;
      try {
        seen = ((await r.json()).results as { event_id: string; status: string }[]).some((x) => x.event_id == probe.event_id && x.status == 'duplicate');
      } catch {
        /* no results: accepted */
      }
      if (!seen) q = without(checked, b).concat(q);
      unconfirmed = without(unconfirmed, checked);
      unconfirmedSince = Date.now();
    }
    state = attempt = 0;
    q = without(q, b);
    unconfirmed = without(unconfirmed, b);
    store();
    schedule();
  }, retry);
}

/** Records an event of any type; the exported builders are thin wrappers around this. */
export function track(type: EventType, props?: Props): void {
  if (!ep || consentState == REFUSED) return;
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
  if (consentState == GRANTED) enqueue(e);
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
  consentState = consent == 'drop' ? REFUSED : consent == 'hold' ? ON_HOLD : GRANTED;
  pageKey = KEY + '.' + uuid();
  try {
    // A queue stored by an older version (one key for every tab) is taken over by the first page.
    [vid, sid, last, utm, uid, q = []] = load();
  } catch {
    /* nothing stored yet */
  }
  vid ||= uuid();
  addEventListener('pagehide', () => {
    gone = 1;
    hide();
  });
  addEventListener('visibilitychange', () => document.hidden && hide());
  // Back from the back/forward cache: this page's queue may have been taken over meanwhile.
  addEventListener('pageshow', (e) => {
    if (e.persisted) {
      gone = 0;
      q = [];
      unconfirmed = [];
      adopt();
    }
  });
  // Another page wrote: maybe it is gone and left events.
  addEventListener('storage', adopt);
  // Back online: retry now rather than at the end of the backoff.
  addEventListener('online', () => {
    if (state == WAITING) {
      clearTimeout(timer);
      state = IDLE;
      tick();
    }
  });
  adopt();
}

/**
 * Grants (true) or refuses (false) consent. Granting sends what was held and starts storing;
 * refusing drops held events and stops tracking.
 */
export function consent(granted: boolean): void {
  consentState = granted ? GRANTED : REFUSED;
  if (granted) held.map(enqueue);
  else {
    // Refused: forget everything stored (every page's queue too), and what waits to be sent.
    q = [];
    unconfirmed = [];
    try {
      for (const k of pageKeys().concat(KEY)) localStorage.removeItem(k);
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
