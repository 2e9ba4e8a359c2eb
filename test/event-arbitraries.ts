/**
 * fast-check generators of events as clients send them: valid events of every type (with
 * hostile but schema-valid strings, URLs and numbers), the same events mutated invalid for
 * certain (missing or mistyped fields, unknown keys with prototype-pollution names, out-of-range
 * values), and arbitrary JSON. Shared by the gateway's fuzz test and the pipeline's property
 * test (every accepted event ends in Elasticsearch or on the dead-letter topic).
 */
import fc from 'fast-check';
import { EVENT_TYPES, MAX_EPOCH_MS, type EventType } from '../contracts/event-schema.js';

const ID_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'];
/** Mostly fresh ids, some from a small pool so retries and duplicates happen. */
const eventId = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 8, maxLength: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }).map((n) => `pooled-id-${n}`) },
);
export const text = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max });
/** Any time the schema allows (up to year 9999); the gateway refuses most of them as out of its window. */
export const epochMs = fc.bigInt({ min: 0n, max: BigInt(MAX_EPOCH_MS) }).map(Number);
export const recentMs = fc.integer({ min: -86_400_000, max: 60_000 }).map((d) => Date.now() - d);
const size = fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 99999 })).map(([w, h]) => `${w}x${h}`);
const money = fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true });
const currency = fc.constantFrom('EUR', 'USD', 'GBP', 'JPY', 'CHF');
/** Cheaper than fc.webUrl, and closer to what pages send. */
export const webUrl = fc
  .tuple(
    fc.constantFrom('https://shop.example', 'https://www.shop.example', 'http://localhost:8080', 'https://xn--bcher-kva.example', 'https://a.b.c.example:8443'),
    fc.array(fc.string({ unit: fc.constantFrom(...'abcXYZ09-._~%é/'), maxLength: 8 }), { maxLength: 3 }),
    fc.option(fc.constantFrom('?q=1', '?utm_source=news&utm_medium=email', '?gclid=abc', '?a=%ZZ', '?utm_campaign=' + 'x'.repeat(300)), { nil: '' }),
    fc.option(fc.constantFrom('#top', '#'), { nil: '' }),
  )
  .map(([origin, segs, q, f]) => `${origin}/${segs.join('/')}${q}${f}`);
const url = fc.oneof({ weight: 4, arbitrary: webUrl }, { weight: 1, arbitrary: text(1, 60) });

const base = {
  event_id: eventId,
  ts: fc.oneof({ weight: 3, arbitrary: recentMs }, { weight: 1, arbitrary: epochMs }),
  visitor_id: text(1, 40),
  session_id: text(1, 40),
  url,
  user_id: text(1, 60),
  referrer: fc.oneof(webUrl, text(0, 60), fc.constantFrom('https://www.google.com/', 'https://t.co/', '')),
  title: text(0, 40),
  language: text(0, 35),
  screen: size,
  viewport: size,
  utm_source: text(0, 40),
  utm_medium: text(0, 40),
  utm_campaign: text(0, 40),
  utm_term: text(0, 40),
  utm_content: text(0, 40),
};
const baseRequired = ['event_id', 'ts', 'visitor_id', 'session_id', 'url'] as const;

const byType: Record<EventType, { arb: fc.Arbitrary<Record<string, unknown>>; required: string[] }> = {
  page_view: {
    arb: fc.record({ ...base, engagement_ms: fc.integer({ min: 0, max: 86_400_000 }) }, { requiredKeys: [...baseRequired] }),
    required: [...baseRequired],
  },
  click: {
    arb: fc.record({ ...base, element: text(0, 40), target_url: webUrl }, { requiredKeys: [...baseRequired] }),
    required: [...baseRequired],
  },
  add_to_cart: {
    arb: fc.record(
      { ...base, product_id: text(1, 40), product_name: text(0, 40), price: money, quantity: fc.integer({ min: 1, max: 100_000 }), currency },
      { requiredKeys: [...baseRequired, 'product_id', 'price', 'quantity', 'currency'] },
    ),
    required: [...baseRequired, 'product_id', 'price', 'quantity', 'currency'],
  },
  purchase: {
    arb: fc.record(
      {
        ...base,
        order_id: text(1, 40),
        revenue: money,
        currency,
        items: fc.array(fc.record({ product_id: text(1, 20), price: money, quantity: fc.integer({ min: 1, max: 100 }) }), { maxLength: 5 }),
      },
      { requiredKeys: [...baseRequired, 'order_id', 'revenue', 'currency'] },
    ),
    required: [...baseRequired, 'order_id', 'revenue', 'currency'],
  },
};

export const validEvent = fc.constantFrom(...EVENT_TYPES).chain((type) => byType[type].arb.map((ev) => ({ ...ev, type }) as Record<string, unknown>));

// ---------------------------------------------------------------------------------------------
// Mutations that make an event invalid for certain

/** Sets a key as an own, enumerable property, even "__proto__". */
function setOwn(o: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const ALLOWED = new Set([...Object.keys(base), 'type', 'engagement_ms', 'element', 'target_url', 'product_id', 'product_name', 'price', 'quantity', 'currency', 'order_id', 'revenue', 'items']);
const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const unknownKey = fc.oneof(fc.constantFrom(...POLLUTION_KEYS, 'EVENT_ID', ' url', 'colour', ''), fc.string({ maxLength: 20 })).filter((k) => !ALLOWED.has(k));
const deep = fc.integer({ min: 10, max: 1500 }).map((depth) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { d: v };
  return v;
});
/** A JSON value that is not a string (for string fields). */
const notString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }), deep);
/** A JSON value that is not a number (for numeric fields). */
const notNumber = fc.oneof(fc.string({ maxLength: 10 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({}), deep);
const NUMERIC = new Set(['ts', 'engagement_ms', 'price', 'quantity', 'revenue']);

type Mutation = (ev: Record<string, unknown>) => void;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // a required field removed
  fc.nat().map((n) => (ev: Record<string, unknown>) => {
    const req = ['type', ...byType[ev.type as EventType].required];
    delete ev[req[n % req.length]];
  }),
  // a present field of the wrong type
  fc.tuple(fc.nat(), notString, notNumber).map(([n, s, num]) => (ev: Record<string, unknown>) => {
    const keys = Object.keys(ev);
    const k = keys[n % keys.length];
    if (k === 'items') ev[k] = 'not an array';
    else ev[k] = NUMERIC.has(k) ? num : s;
  }),
  // an unknown field, prototype-pollution names included
  fc.tuple(unknownKey, fc.oneof(fc.jsonValue({ maxDepth: 3 }), deep)).map(([k, v]) => (ev: Record<string, unknown>) => setOwn(ev, k, v)),
  // an unknown type
  fc.string({ maxLength: 20 }).filter((t) => !(EVENT_TYPES as readonly string[]).includes(t)).map((t) => (ev: Record<string, unknown>) => void (ev.type = t)),
  // out of range / pattern violations
  fc.constantFrom<Mutation>(
    (ev) => void (ev.event_id = 'short'),
    (ev) => void (ev.event_id = 'has space in it'),
    (ev) => void (ev.ts = -1),
    (ev) => void (ev.ts = 1.5),
    (ev) => void (ev.ts = 1e17),
    (ev) => void (ev.ts = MAX_EPOCH_MS + 1),
    (ev) => void (ev.visitor_id = ''),
    (ev) => void (ev.url = `https://a.example/${'x'.repeat(5000)}`),
    (ev) => void (ev.title = 't'.repeat(2000)),
    (ev) => void (ev.screen = '1920 x 1080'),
    (ev) => void (ev.currency = ev.type === 'add_to_cart' || ev.type === 'purchase' ? 'eur' : 1),
    (ev) => void (ev.quantity = ev.type === 'add_to_cart' ? 0 : 1),
    (ev) => void (ev.price = ev.type === 'add_to_cart' ? -5 : 1),
    (ev) => void (ev.items = ev.type === 'purchase' ? [{ product_id: 'x', price: 1 }] : []),
    (ev) => void (ev.items = ev.type === 'purchase' ? Array.from({ length: 201 }, () => ({ product_id: 'x', price: 1, quantity: 1 })) : []),
  ),
);

// On a copy: fast-check runs a mapper again on the same generated value while it shrinks a
// failure, and a second mutation of one object (a removed field after an unknown type) threw
// inside the generator instead of reporting the failure.
export const invalidEvent = fc.tuple(validEvent, mutation).map(([ev, m]) => {
  const copy = { ...ev };
  m(copy);
  return copy;
});

export type Kind = 'valid' | 'invalid' | 'unknown';
export const anyEvent: fc.Arbitrary<[unknown, Kind]> = fc.oneof(
  { weight: 5, arbitrary: validEvent.map((e): [unknown, Kind] => [e, 'valid']) },
  { weight: 4, arbitrary: invalidEvent.map((e): [unknown, Kind] => [e, 'invalid']) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((e): [unknown, Kind] => [e, 'unknown']) },
);

