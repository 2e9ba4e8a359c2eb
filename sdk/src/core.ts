/**
 * The core of the browser SDK: identity, session, batching, delivery, offline queue, privacy.
 *
 * Written for size (the core is held under 1,536 bytes min+gzip, see scripts/size.mjs): module
 * state instead of classes, one timer, one storage writer. Every byte here ships to every site;
 * what only some sites need is a plugin (plugins/), hooked in through setters that only the
 * plugin imports, so the minifier drops the hook's call where no plugin sets it.
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
  /**
   * Offline queue bound: most characters of JSON kept in localStorage (oldest events dropped
   * first). Default 200,000 (about 400 events). It bounds memory too: the queue is what is stored.
   */
  maxBytes?: number;
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
 * Events handed to sendBeacon are checked this long after the newest of them left: that newest
 * goes again in a fetch (the probe); the gateway calling it a duplicate confirms every one that
 * left before it, otherwise they are all sent again. One copy per check, not one per event.
 */
const BEACON_GRACE_MS = 10e3;

/**
 * A queued event. `$` is the delivery mark: when the event left with a transport whose answer
 * this page may never read (a fetch, a beacon); absent while it waits to be sent. The mark is
 * stored with the event and never sent.
 */
type Queued = ClientEvent & { $?: number };

// Module state. Flags and strings start undefined (falsy) rather than 0 or '': bytes.
/** The endpoint with the site key; unset until init. */
let url: string | undefined;
/**
 * Where events go: `url` once consent is granted, empty before (on hold or refused). Nothing is
 * stored, taken over or sent without it; events are recorded without it unless `refused`.
 */
let ep: string | undefined;
/** 1 under `consent: 'drop'` until consent(true), and after consent(false): events are not even recorded. */
let refused: number | undefined;
let batchSize: number;
let interval: number;
let maxBytes: number;
/**
 * The one queue, oldest first, persisted under this page's key: events waiting to be sent
 * (unmarked), and events that left but are not confirmed yet (marked: in a fetch not answered
 * yet, or in a beacon, which is never answered).
 */
let q: Queued[] = [];
/** This page's queue key. */
let pageKey: string;
/** 1 from pagehide on (visibilitychange to hidden follows it in Chromium), until a return from the back/forward cache. */
let gone: number | undefined;
let vid: string;
let sid: string;
let uid: string;
/** When the last event was recorded; unset until the first (or the stored state, if any, was read). */
let last: number;
/** Fields of the whole session, from the session hook when it started (the utm plugin's campaign). */
let sessionFields: object | undefined;
/** 1 while a fetch is in flight (one at a time). */
let sending: number | undefined;
/** The batch interval timer, or the retry timer. */
let timer: ReturnType<typeof setTimeout> | 0 | undefined;
/** Failed attempts in a row: while there are, the timer is the retry timer and nothing else is sent before it fires. */
let attempt = 0;

/**
 * What plugins plug in, each through a setter below that only the plugin imports (so a site
 * without it ships neither the setter nor the plugin, only the call here).
 */
/** Called when a session starts: fields sent with each of its events, from every tab (the utm plugin). */
let sessionHook: (() => object) | undefined;
/** Called with each answer of the endpoint but a 429 or 5xx (the check-endpoint plugin). */
let answerHook: ((r: Response, endpoint: string) => void) | undefined;

/** Sets the session hook (for plugins/utm.ts). */
export const onSession = (hook: typeof sessionHook): void => {
  sessionHook = hook;
};

/** Sets the answer hook (for plugins/check-endpoint.ts). */
export const onAnswer = (hook: typeof answerHook): void => {
  answerHook = hook;
};

/** A random id, 9 to 54 characters of [0-9_]: 160 random bits. */
const uuid = (): string => crypto.getRandomValues(new Uint32Array(5)).join('_');

/** A batch as it goes on the wire: the delivery mark stays home. */
const body = (events: Queued[]) => JSON.stringify({ sent_at: Date.now(), events }, (k, v) => (k == '$' ? undefined : v));

/** Events not handed to any transport yet, oldest first. */
const pending = () => q.filter((e) => !e.$);

/**
 * Reads the stored identity and session, [visitor, session, last event time, session fields, user],
 * when it is more recent than ours: another tab may have kept the session alive (and identified or
 * reset). A write that failed (storage full) leaves an older one behind, never read back.
 */
function sync() {
  try {
    const st = JSON.parse(localStorage[KEY]);
    // Not `>`: `last` unset (nothing read yet) compares false.
    if (!(st[2] <= last)) [vid, sid, last, sessionFields, uid] = st;
  } catch {
    /* not stored (first event, no consent yet, no storage): memory holds it */
  }
}

/** A new queue key for this page. */
const newKey = () => (pageKey = KEY + '.' + uuid());

/**
 * Bounds the queue (oldest out first, to maxBytes of stored JSON), then
 * persists identity and session (shared) and this page's queue when consent allows, then
 * schedules delivery. The page's entry is [time written, queue]; time 0 once the page is gone.
 */
function store() {
  let s: string;
  while ((s = JSON.stringify([gone ? 0 : Date.now(), q])).length > maxBytes && q.shift());
  if (ep)
    try {
      localStorage[KEY] = JSON.stringify([vid, sid, last, sessionFields, uid]);
      // Marked gone, the entry can be taken over at any moment: read by another page, then
      // removed, and in Chromium that removal can land after a write this page made meanwhile
      // (its engagement report, its next beacon), which would go with it unread. So once gone each
      // write goes under a new key, in the task that removes the one before (committed together).
      if (gone) {
        localStorage.removeItem(pageKey);
        newKey();
      }
      if (q.length) localStorage[pageKey] = s;
      else localStorage.removeItem(pageKey);
    } catch {
      /* full or disabled: memory only */
    }
  schedule();
}

/**
 * Takes over the queues of pages that are gone: marked so at pagehide, or not written for
 * SESSION_MS (a crash). Each page writes only its own keys, so no tab overwrites another's events;
 * a key is removed by another page only once it is gone, and then never written again (store).
 */
function adopt(e?: Event) {
  // Back from the back/forward cache: another page may have taken this page's queue over
  // meanwhile. Memory is emptied; the entry, if still there (marked gone), is taken back below,
  // and the page goes on under a new key (another page may be removing the old one).
  if ((e as PageTransitionEvent)?.persisted) {
    gone = 0;
    q = [];
    newKey();
  }
  try {
    if (ep)
      for (const k in localStorage)
        if (/^cs\./.test(k)) {
          const [t, theirs] = JSON.parse(localStorage[k]);
          // Never our own key: a closing page would take its own queue twice.
          if (Date.now() - t > SESSION_MS && k != pageKey) {
            q = theirs.concat(q);
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

/** The timer fired (batch interval, or a retry waited for), or the browser is back online: send now. */
const go = () => {
  clearTimeout(timer);
  timer = 0;
  flush();
};

function schedule() {
  if (pending().length >= batchSize) flush();
  else if (q.length && !timer) timer = setTimeout(go, interval);
}

/**
 * Sends the oldest batch now with fetch (one request in flight at a time), or with `beacon`
 * every queued event (page hidden or unloading). A beacon is never acknowledged: its events are
 * confirmed later by one probe (see BEACON_GRACE_MS), and sent again only when it says they did
 * not arrive, or when a fetch fails meanwhile (the network was down; the gateway drops copies).
 */
export function flush(beacon?: boolean): void {
  // Page hidden or unloaded: every event not sent yet goes out with sendBeacon, once (in batches:
  // one beacon carries 64 KB at most), and is marked; a batch a fetch is carrying is marked
  // already (keepalive outlives the page, like a beacon). Before init nothing is queued, nor stored.
  if (beacon) {
    const p = pending();
    // While fetches fail (waiting to retry), beaconed events stay unmarked: the network is likely down.
    for (let b; ep && (b = p.splice(0, batchSize))[0] && navigator.sendBeacon?.(ep, body(b)); ) if (!attempt) b.map((e) => (e.$ = Date.now()));
    return store();
  }
  if (!ep || sending || (attempt && timer)) return;
  // The probe: the event that left last (by its mark, not by its place: the queues taken over go
  // first), once the grace has passed since it left; `sent` is when it left (0: no probe due).
  const p = q.filter((e) => e.$).sort((x, y) => x.$! - y.$!).pop();
  // No marked event: NaN, never more than the grace.
  const sent = Date.now() - (p?.$ as number) > BEACON_GRACE_MS && p!.$!;
  // The probe goes alone: the answer's duplicate count is then about it alone.
  const b = sent ? [p!] : pending().slice(0, batchSize);
  if (!b.length) return schedule();
  // A batch timer still set fires into a fetch in flight (ignored) or sends the next batch early.
  sending = 1;
  const text = body(b);
  b.map((e) => (e.$ = Date.now()));
  fetch(ep, { method: 'POST', body: text, keepalive: text.length < 6e4 })
    .then(async (r) => {
      // 429 or 5xx: retried, after Retry-After seconds when the answer gives them.
      if (r.status == 429 || r.status > 499) throw r.headers.get('retry-after');
      // Accepted (2xx, with per-event results) or refused for good (other 4xx): never sent again.
      answerHook?.(r, ep!);
      // The probe a duplicate: everything that left before it arrived (dropped with the batch);
      // otherwise all of it is sent again. A body that is not JSON confirms nothing.
      const seen = sent && (await r.json().catch(() => 0)).duplicate;
      sending = attempt = 0;
      // Every copy of an acknowledged event goes too: a queue can hold one twice (taken over from a
      // page that wrote its entry again after the first takeover), and a marked copy of an event
      // that arrived by fetch, probed later, would confirm what its own beacon carried, lost or not.
      q = q.filter((e) => !(b.some((x) => x.event_id == e.event_id) || (e.$! <= (sent as number) && (seen || (delete e.$ && 0)))));
      store();
    })
    // Network error, 5xx or 429: the same events (same ids) again, after Retry-After seconds (a
    // number; an HTTP date, no header or an Error is not above 0: the backoff). What was beaconed
    // may have failed alike: every mark goes, all is sent again.
    .catch((retryAfter: number) => {
      sending = 0;
      q.map((e) => delete e.$);
      clearTimeout(timer);
      timer = setTimeout(go, ++attempt && retryAfter > 0 ? retryAfter * 1e3 : Math.min(RETRY_MAX_MS, (RETRY_BASE_MS / 2) * 2 ** attempt) * (0.5 + Math.random() / 2));
      store();
    });
}

/** Records an event of any type; the exported builders are thin wrappers around this. */
export function track(type: EventType, props?: Props): void {
  if (!url || refused) return;
  const now = Date.now();
  sync();
  if (!sid || now - last > SESSION_MS) {
    sid = uuid();
    sessionFields = sessionHook?.();
  }
  last = now;
  // On hold (no consent yet), the event waits in the queue, in memory only (see store and flush).
  q.push({
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
    ...sessionFields,
    ...props,
  } as ClientEvent);
  store();
}

/** Starts the SDK. Calls before init are ignored (the script-tag loader queues them instead). */
export function init(options: Options): void {
  if (url) return;
  const { endpoint = '/v1/events', siteKey, consent } = options;
  ({ batchSize = 10, flushInterval: interval = 5e3, maxBytes = 2e5 } = options);
  url = siteKey ? endpoint + (/\?/.test(endpoint) ? '&' : '?') + 'site=' + encodeURIComponent(siteKey) : endpoint;
  // 'hold': recorded, neither stored nor sent; 'drop': not even recorded (refused).
  ep = consent == 'hold' || (refused = +(consent == 'drop')) ? '' : url;
  newKey();
  sync();
  vid ||= uuid();
  addEventListener('pagehide', () => {
    gone = 1;
    flush(true);
  });
  addEventListener('visibilitychange', () => document.hidden && flush(true));
  addEventListener('pageshow', adopt);
  // Another page wrote: maybe it is gone and left events.
  addEventListener('storage', adopt);
  // Back online: retry now rather than at the end of the backoff (or send a partial batch early).
  addEventListener('online', go);
  adopt();
}

/**
 * Grants (true) or refuses (false) consent. Granting sends what was held and starts storing;
 * refusing drops held events and stops tracking.
 */
export function consent(granted: boolean): void {
  refused = +!granted;
  // Before init (or under Do Not Track, when the SDK never starts) there is nothing to send.
  ep = granted ? url : '';
  if (granted) {
    if (ep) store();
  } else {
    // Refused: forget everything stored (every page's queue too), and what waits to be sent.
    q = [];
    try {
      for (const k in localStorage) if (/^cs(\.|$)/.test(k)) localStorage.removeItem(k);
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
