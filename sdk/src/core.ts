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

/**
 * A queued event. `$` is the delivery mark: when the event left with a transport whose answer
 * this page may never read (a fetch, a beacon); absent while it waits to be sent. The mark is
 * stored with the event and never sent.
 */
type Queued = ClientEvent & { $?: number };

/** The endpoint with the site key; empty until init. */
let ep = '';
let batchSize: number;
let interval: number;
let maxQueue: number;
let maxBytes: number;
let consentState: number = GRANTED;
/**
 * The one queue, oldest first, persisted under this page's key: events waiting to be sent
 * (unmarked), and events that left but are not confirmed yet (marked: in a fetch not answered
 * yet, or in a beacon, which is never answered).
 */
let q: Queued[] = [];
/** This page's queue key. */
let pageKey: string;
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
const load = (): [string, string, number, Record<string, string>, string, Queued[]?] => JSON.parse(localStorage[KEY]);

/** The keys of the stored page queues (this page's included). */
const pageKeys = () => Object.keys(localStorage).filter((k) => /^cs\./.test(k));

/** A random id, 20 to 51 characters of [0-9a-z_]: base-36 time (8 characters), then 128 random bits. */
const uuid = (): string =>
  Date.now().toString(36) + crypto.getRandomValues(new Uint32Array(4)).join('_');

/** A batch as it goes on the wire: the delivery mark stays home. */
const body = (events: Queued[]) => JSON.stringify({ sent_at: Date.now(), events }, (k, v) => (k == '$' ? undefined : v));

/** Events not handed to any transport yet, oldest first. */
const pending = () => q.filter((e) => !e.$);

/**
 * Bounds the queue (oldest out first, to maxQueue events and maxBytes of stored JSON), then
 * persists identity and session (shared) and this page's queue when consent allows, then
 * schedules delivery. The page's entry is [time written, queue]; time 0 once the page is gone.
 */
function store() {
  let s: string;
  while (((s = JSON.stringify([gone ? 0 : Date.now(), q])).length > maxBytes && q.length) || q.length > maxQueue) q.shift();
  if (consentState == GRANTED)
    try {
      localStorage[KEY] = JSON.stringify([vid, sid, last, utm, uid]);
      if (q.length) localStorage[pageKey] = s;
      else localStorage.removeItem(pageKey);
    } catch {
      /* full or disabled: memory only */
    }
  schedule();
}

/**
 * Takes over the queues of pages that are gone: marked so at pagehide, or not written for
 * SESSION_MS (a crash). Each page writes only its own key, so no tab overwrites another's events.
 */
function adopt() {
  try {
    if (consentState == GRANTED)
      for (const k of pageKeys()) {
        // [time written, queue]; an entry of the previous version has its beaconed events third (sent again here).
        const [t, theirs, older = []] = JSON.parse(localStorage[k]);
        // Our own key only after a return from the back/forward cache (marked gone, memory emptied).
        if (Date.now() - t > SESSION_MS && (k != pageKey || !t)) {
          q = older.concat(theirs, q);
          // One task: the browser commits both writes together.
          localStorage.removeItem(k);
          store();
        }
      }
  } catch {
    /* no storage, or another page's entry went away meanwhile (the next storage event tries again) */
  }
  // Written only when something was taken over: a write here would wake every other page (storage event).
  schedule();
}

const tick = () => {
  timer = 0;
  flush();
};

/** The wait before a retry is over (or the browser is back online): send again now. */
const resume = () => {
  clearTimeout(timer);
  state = IDLE;
  tick();
};

function schedule() {
  if (pending().length >= batchSize && !hiding) flush();
  else if (q.length && !timer) timer = setTimeout(tick, interval);
}

/**
 * Page hidden or unloaded: plugins report, then every event not sent yet goes out with
 * sendBeacon, once (in batches: one beacon carries 64 KB at most), and is marked. A batch a fetch
 * is carrying is marked already (keepalive outlives the page, like a beacon).
 */
function hide() {
  hiding = 1;
  beforeBeacon.map((f) => f());
  hiding = 0;
  const p = pending();
  // While fetches fail (waiting to retry), beaconed events stay unmarked: the network is likely down.
  for (let i = 0, b; consentState == GRANTED && i < p.length && navigator.sendBeacon?.(ep, body((b = p.slice(i, (i += batchSize))))); )
    if (state != WAITING) for (const e of b) e.$ = Date.now();
  store();
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
  if (state || hiding || consentState != GRANTED) return;
  // The probe: the newest marked event, once the grace has passed since it left.
  const marked = q.filter((e) => e.$);
  const probe = marked[marked.length - 1];
  const checked = probe && Date.now() - probe.$! > BEACON_GRACE_MS ? marked : [];
  // The probe goes alone: the answer's duplicate count is then about it alone.
  const b = checked.length ? [probe] : pending().slice(0, batchSize);
  if (!b.length) return schedule();
  // A batch timer still set fires into a fetch in flight (ignored) or sends the next batch early.
  state = SENDING;
  const text = body(b);
  for (const e of b) e.$ ||= Date.now();
  // Network error, 5xx or 429: the same events (same ids) again, after Retry-After seconds when
  // the answer gives them (a number; NaN for an HTTP date or an Error, which means the backoff).
  // What was beaconed may have failed alike: every mark goes, all is sent again.
  const retry = (retryAfter: unknown) => {
    state = WAITING;
    for (const e of q) delete e.$;
    store();
    clearTimeout(timer);
    timer = setTimeout(
      resume,
      (retryAfter as number) > 0 ? (retryAfter as number) * 1e3 : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt++) * (0.5 + Math.random() / 2),
    );
  };
  fetch(ep, { method: 'POST', body: text, keepalive: text.length < 6e4 }).then(async (r) => {
    if (r.status == 429 || r.status > 499) return retry(+r.headers.get('retry-after')!);
    // Accepted (2xx, with per-event results) or refused for good (other 4xx): never sent again.
    // The gateway always answers JSON: anything else is a page or a proxy at the wrong URL.
    if (!/json/.test(r.headers.get('content-type')!) && !warned++) console.warn('clickstream: not the gateway at', ep, r.status);
    let seen: unknown;
    try {
      seen = checked.length && (await r.json()).duplicate;
    } catch {
      /* not JSON: not the gateway, nothing confirmed */
    }
    // The probe a duplicate: everything beaconed before it arrived. Otherwise it is all sent again.
    if (!seen) for (const e of checked) delete e.$;
    state = attempt = 0;
    q = q.filter((e) => !b.includes(e) && !(seen && checked.includes(e)));
    store();
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
  // On hold (no consent yet), the event waits in the queue, in memory only (see store and flush).
  q.push(e);
  store();
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
      adopt();
    }
  });
  // Another page wrote: maybe it is gone and left events.
  addEventListener('storage', adopt);
  // Back online: retry now rather than at the end of the backoff.
  addEventListener('online', () => state == WAITING && resume());
  adopt();
}

/**
 * Grants (true) or refuses (false) consent. Granting sends what was held and starts storing;
 * refusing drops held events and stops tracking.
 */
export function consent(granted: boolean): void {
  consentState = granted ? GRANTED : REFUSED;
  if (granted) {
    // Before init (or under Do Not Track, when the SDK never starts) there is nothing to send.
    if (ep) store();
  } else {
    // Refused: forget everything stored (every page's queue too), and what waits to be sent.
    q = [];
    try {
      for (const k of pageKeys().concat(KEY)) localStorage.removeItem(k);
    } catch {
      /* no storage */
    }
  }
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
