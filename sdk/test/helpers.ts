/**
 * Test helpers for the SDK unit tests (happy-dom). The SDK keeps module state, so each test
 * imports a fresh copy (`fresh()`), after removing the listeners an earlier copy registered.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { Ajv } from 'ajv';
import { clientEventSchemas, type ClientEvent, type EventBatch } from '../../contracts/event-schema.js';

type Added = [EventTarget, string, EventListenerOrEventListenerObject, unknown];
const added: Added[] = [];
for (const target of [window, document] as EventTarget[]) {
  const orig = target.addEventListener;
  target.addEventListener = function (this: EventTarget, type: string, l: EventListenerOrEventListenerObject, o?: unknown) {
    added.push([target, type, l, o]);
    return orig.call(this, type, l, o as AddEventListenerOptions);
  } as typeof orig;
}
// The SDK calls the global addEventListener: make sure it is the patched window's.
globalThis.addEventListener = window.addEventListener;

/** The core with the consent, identify, utm and check-endpoint entry points, as one object (the full build's API). */
export type Sdk = typeof import('../src/index.js') &
  typeof import('../src/plugins/consent.js') &
  typeof import('../src/plugins/identify.js') &
  typeof import('../src/plugins/utm.js') &
  typeof import('../src/plugins/check-endpoint.js');

/** The time every SDK test starts at (fake timers). */
export const T0 = new Date('2026-11-22T10:00:00Z').getTime();

/**
 * Registers the hooks every SDK test file shares. Before each test: fake timers at T0, `before`
 * (the page the SDK starts on), a fresh SDK and a fake network, handed to `use`. After each:
 * `after` (the file's own clean-up), then real timers, globals and spies restored.
 */
export function sdkHooks(use: (sdk: Sdk, net: Net) => void, opts: { before?: () => void; after?: () => void } = {}) {
  beforeEach(async () => {
    vi.useFakeTimers({ now: T0 });
    opts.before?.();
    const sdk = await fresh();
    use(sdk, network());
  });
  afterEach(() => {
    opts.after?.();
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });
}

/** Resets DOM listeners, storage, URL and timers' owners, then imports a new SDK instance. */
export async function fresh(opts: { keepStorage?: boolean } = {}): Promise<Sdk> {
  for (const [t, type, l, o] of added.splice(0)) t.removeEventListener(type, l, o as EventListenerOptions);
  if (!opts.keepStorage) localStorage.clear();
  vi.resetModules();
  // One fresh core shared by the modules (they import the same core.js).
  return {
    ...(await import('../src/index.js')),
    ...(await import('../src/plugins/consent.js')),
    ...(await import('../src/plugins/identify.js')),
    ...(await import('../src/plugins/utm.js')),
    ...(await import('../src/plugins/check-endpoint.js')),
  };
}

/**
 * The same page reloaded: pagehide (as a browser fires it; `crash` skips it), the old instance's
 * listeners and timers gone, storage kept, new instance.
 */
export const reload = (opts: { crash?: boolean } = {}) => {
  if (!opts.crash) dispatchEvent(new Event('pagehide'));
  if (vi.isFakeTimers()) {
    // clearAllTimers also rewinds the fake clock: keep the time.
    const now = Date.now();
    vi.clearAllTimers();
    vi.setSystemTime(now);
  }
  return fresh({ keepStorage: true });
};

/** A gateway-like answer: JSON, with the content type the gateway sends. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });

export interface Request {
  url: string;
  init: RequestInit;
  batch: EventBatch;
  /** Date.now() when fetch was called (fake time in timing tests). */
  at: number;
}

export interface Net {
  requests: Request[];
  beacons: { url: string; data: unknown; batch: EventBatch }[];
  /** How the next fetches are answered. */
  reply: (r: (n: number) => Promise<Response>) => void;
  status: (code: number, headers?: Record<string, string>) => void;
  offline: () => void;
  /** fetch hangs until `release()` answers it with `code`. */
  hang: () => { release: (code?: number) => Promise<void> };
  beaconResult: (ok: boolean) => void;
  /** Every event id fetched, in order, with repeats. */
  ids: () => string[];
}

export function network(): Net {
  const requests: Request[] = [];
  const beacons: Net['beacons'] = [];
  let answer: (n: number) => Promise<Response> = () => Promise.resolve(json({}));
  let beaconOk = true;
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string, init: RequestInit) => {
      requests.push({ url, init, batch: JSON.parse(init.body as string), at: Date.now() });
      return answer(requests.length);
    }),
  );
  Object.defineProperty(navigator, 'sendBeacon', {
    configurable: true,
    value: vi.fn((url: string, data: unknown) => {
      if (!beaconOk) return false;
      beacons.push({ url, data, batch: JSON.parse(data as string) });
      return true;
    }),
  });
  const net: Net = {
    requests,
    beacons,
    reply: (r) => (answer = r),
    status: (code, headers) =>
      (answer = () => Promise.resolve(new Response(code == 204 ? null : '{}', { status: code, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } }))),
    offline: () => (answer = () => Promise.reject(new TypeError('Failed to fetch'))),
    hang: () => {
      let release!: (r: Response) => void;
      answer = () => new Promise<Response>((r) => (release = r));
      return {
        release: async (code = 200) => {
          release(json({}, code));
          await settle();
        },
      };
    },
    beaconResult: (ok) => (beaconOk = ok),
    ids: () => requests.flatMap((r) => r.batch.events.map((e) => e.event_id)),
  };
  return net;
}

/** Lets pending promise callbacks (fetch answers) run. */
export const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Sets document visibility and fires visibilitychange, as a browser does on tab switch. */
export function setHidden(hidden: boolean) {
  Object.defineProperty(document, 'visibilityState', { configurable: true, value: hidden ? 'hidden' : 'visible' });
  Object.defineProperty(document, 'hidden', { configurable: true, value: hidden });
  document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
}

/**
 * The stored queues of every page: `cs.<page id>` -> [time written (0: page gone), queue]. An event
 * of the queue carrying `$` (when it left) is unconfirmed; `queue` here is the others (not sent yet).
 */
export function pageEntries(): { key: string; written: number; queue: ClientEvent[]; unconfirmed: ClientEvent[] }[] {
  return Object.keys(localStorage)
    .filter((k) => k.startsWith('cs.'))
    .map((key) => {
      const [written, all] = JSON.parse(localStorage.getItem(key)!) as [number, (ClientEvent & { $?: number })[]];
      return { key, written, queue: all.filter((e) => !e.$), unconfirmed: all.filter((e) => e.$) };
    });
}

/**
 * What the SDK keeps in localStorage: identity in `cs` ([visitor, session, last event time, utm,
 * user]), and each page's queue under its own key: `queue` is every page's pending events,
 * `unconfirmed` every page's beaconed events not confirmed yet.
 */
export function stored(): {
  visitor: string;
  session: string;
  last: number;
  utm: Record<string, string>;
  user: string;
  queue: ClientEvent[];
  unconfirmed: ClientEvent[];
} | null {
  const raw = localStorage.getItem('cs');
  if (!raw) return null;
  const [visitor, session, last, utm, user] = JSON.parse(raw);
  const pages = pageEntries();
  return { visitor, session, last, utm, user, queue: pages.flatMap((p) => p.queue), unconfirmed: pages.flatMap((p) => p.unconfirmed) };
}

const ajv = new Ajv({ allErrors: true });
const validators = Object.fromEntries(Object.entries(clientEventSchemas).map(([t, s]) => [t, ajv.compile(s)]));

/** Validates an event against the gateway's JSON Schema; returns the errors (empty when valid). */
export function schemaErrors(e: ClientEvent): string[] {
  const v = validators[e.type];
  if (!v) return [`unknown type ${e.type}`];
  return v(e) ? [] : (v.errors ?? []).map((x) => `${x.instancePath} ${x.message} ${JSON.stringify(x.params)}`);
}
