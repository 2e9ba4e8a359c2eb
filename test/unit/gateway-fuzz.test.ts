/**
 * Property-based fuzz of POST /v1/events against buildApp with the in-memory producer:
 * 10,000+ generated bodies (valid batches, valid events mutated into invalid ones, garbage,
 * deep and huge values, wrong types, prototype-pollution keys). For every one:
 * - never a 5xx, never a crash;
 * - every event reported accepted is on its type topic, enriched, exactly once;
 * - every event reported rejected is on the dead-letter topic with its reason and index;
 * - every duplicate was accepted before; nothing is produced that the answer does not account for;
 * - an event built valid is accepted (or a duplicate), one mutated invalid is rejected;
 * - a body refused whole (bad JSON, bad envelope, too many events) is dead-lettered too.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import fc from 'fast-check';
import { EVENT_TYPES, type EventType } from '../../contracts/event-schema.js';
import { topicFor } from '../../contracts/topics.js';
import { harness, type Harness } from './gateway-harness.js';
import { UA } from './fixtures.js';

const RUNS = Number(process.env.GATEWAY_FUZZ_RUNS ?? 10_000);
const BODY_LIMIT = 64 * 1024;
const MAX_BATCH = 25;
const DLQ = 'events_dead_letter';

// ---------------------------------------------------------------------------------------------
// Valid events

const ID_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'];
/** Mostly fresh ids, some from a small pool so retries and duplicates happen. */
const eventId = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 8, maxLength: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }).map((n) => `pooled-id-${n}`) },
);
const text = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max });
const epochMs = fc.bigInt({ min: 0n, max: 8_640_000_000_000_000n }).map(Number);
const recentMs = fc.integer({ min: -86_400_000, max: 60_000 }).map((d) => Date.now() - d);
const size = fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 99999 })).map(([w, h]) => `${w}x${h}`);
const money = fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true });
const currency = fc.constantFrom('EUR', 'USD', 'GBP', 'JPY', 'CHF');
/** Cheaper than fc.webUrl, and closer to what pages send. */
const webUrl = fc
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
  ts: fc.oneof(recentMs, epochMs),
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

const validEvent = fc.constantFrom(...EVENT_TYPES).chain((type) => byType[type].arb.map((ev) => ({ ...ev, type }) as Record<string, unknown>));

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

const invalidEvent = fc.tuple(validEvent, mutation).map(([ev, m]) => {
  m(ev);
  return ev;
});

type Kind = 'valid' | 'invalid' | 'unknown';
const anyEvent: fc.Arbitrary<[unknown, Kind]> = fc.oneof(
  { weight: 5, arbitrary: validEvent.map((e): [unknown, Kind] => [e, 'valid']) },
  { weight: 4, arbitrary: invalidEvent.map((e): [unknown, Kind] => [e, 'invalid']) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((e): [unknown, Kind] => [e, 'unknown']) },
);

// ---------------------------------------------------------------------------------------------
// Bodies

interface Case {
  body: string;
  contentType: string;
  userAgent: string;
  /** Per event, when the envelope is one we built valid. */
  kinds: Kind[] | null;
}

const SUPPORTED_TYPES = ['application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/json; charset=utf-8'];
const contentType = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...SUPPORTED_TYPES) }, { weight: 1, arbitrary: fc.constantFrom('application/xml', 'multipart/form-data') });
const userAgent = fc.constantFrom(UA.iphone, UA.windowsChrome, UA.androidSamsung, UA.googlebot, '', 'x'.repeat(600));
const sentAt = fc.option(fc.oneof(recentMs, epochMs), { nil: undefined });

const batchCase: fc.Arbitrary<Omit<Case, 'contentType' | 'userAgent'>> = fc
  .tuple(fc.array(anyEvent, { minLength: 1, maxLength: 20 }), sentAt, fc.constantFrom('envelope', 'array', 'single'))
  .map(([evs, sent, shape]) => {
    const events = evs.map(([e]) => e);
    const kinds = evs.map(([, k]) => k);
    if (shape === 'single' && events.length === 1 && kinds[0] === 'valid') return { body: JSON.stringify(events[0]), kinds };
    if (shape === 'array') return { body: JSON.stringify(events), kinds };
    return { body: JSON.stringify(sent === undefined ? { events } : { sent_at: sent, events }), kinds };
  });

const garbageCase: fc.Arbitrary<Omit<Case, 'contentType' | 'userAgent'>> = fc.oneof(
  fc.jsonValue().map((v) => ({ body: JSON.stringify(v) ?? 'null', kinds: null })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ body: s, kinds: null })),
  fc.integer({ min: 1, max: 30_000 }).map((n) => ({ body: '['.repeat(n) + ']'.repeat(n), kinds: null })),
  fc.integer({ min: 1, max: 10_000 }).map((n) => ({ body: `{"events":[${'{"a":'.repeat(n)}1${'}'.repeat(n)}]}`, kinds: null })),
  fc.constantFrom(
    { body: '', kinds: null },
    { body: '{"events": [', kinds: null },
    { body: '{"events": "x"}', kinds: null },
    { body: '{"events": null}', kinds: null },
    { body: '{"events": []}', kinds: null },
    { body: '{"events": [{}], "sent_at": "yesterday"}', kinds: null },
    { body: '{"events": [{}], "sent_at": 1e300}', kinds: null },
    { body: '{"events": [{}], "sent_at": -1}', kinds: null },
    { body: '{"__proto__": {"polluted": true}, "events": [{"__proto__": {"polluted": true}, "type": "page_view"}]}', kinds: null },
    { body: '{"constructor": {"prototype": {"polluted": true}}}', kinds: null },
    { body: '[{"type":"page_view","constructor":{"prototype":{"polluted":true}}}]', kinds: null },
    { body: JSON.stringify({ events: Array.from({ length: MAX_BATCH + 1 }, () => ({})) }), kinds: null },
    { body: JSON.stringify({ events: [{ type: 'page_view', title: 'h'.repeat(BODY_LIMIT) }] }), kinds: null },
    { body: `{"events":[${'1,'.repeat(30_000)}1]}`, kinds: null },
  ),
);

const anyCase: fc.Arbitrary<Case> = fc
  .tuple(fc.oneof({ weight: 7, arbitrary: batchCase }, { weight: 3, arbitrary: garbageCase }), contentType, userAgent)
  .map(([c, ct, ua]) => ({ ...c, contentType: ct, userAgent: ua }));

// ---------------------------------------------------------------------------------------------

let h: Harness;
beforeAll(async () => {
  h = await harness({ gatewayBodyLimit: BODY_LIMIT, gatewayMaxBatch: MAX_BATCH, logLevel: 'warn' });
});
afterAll(async () => h?.app.close());

const WHOLE_BODY_DEAD_LETTERED = new Set(['GW_ERR_MALFORMED_JSON', 'GW_ERR_BATCH_INVALID', 'GW_ERR_BATCH_TOO_LARGE']);

test(`fuzz: ${RUNS} generated bodies, never a 5xx, every event accounted for`, { timeout: 300_000 }, async () => {
  const accepted = new Set<string>();
  const stats: Record<string, number> = {};
  const count = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);

  await fc.assert(
    fc.asyncProperty(anyCase, async (c) => {
      h.kafka.records = [];
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/events?site=fuzz',
        headers: { 'content-type': c.contentType, 'user-agent': c.userAgent },
        payload: c.body,
      });
      count(String(res.statusCode));
      expect(res.statusCode).toBeLessThan(500);
      const body = res.json() as {
        results?: unknown;
        error?: { code: string };
        accepted: number;
        rejected: number;
        duplicate: number;
        dropped: number;
      };
      const produced = h.kafka.records.map((r) => ({ topic: r.topic, key: r.key, value: JSON.parse(r.value) }));
      const dead = produced.filter((r) => r.topic === DLQ).map((r) => r.value);

      if (!Array.isArray(body.results)) {
        // Refused whole.
        const code = body.error?.code as string;
        expect(code).toMatch(/^GW_ERR_/);
        expect([400, 413, 415]).toContain(res.statusCode);
        if (WHOLE_BODY_DEAD_LETTERED.has(code)) {
          expect(dead).toHaveLength(1);
          expect(dead[0]).toMatchObject({ code, site_id: 'fuzz', index: null });
          expect(dead[0].reason).toBeTruthy();
          expect(dead[0].raw.length).toBeLessThanOrEqual(8192 + 40);
        } else expect(dead).toHaveLength(0);
        expect(produced.length).toBe(dead.length);
        if (!SUPPORTED_TYPES.includes(c.contentType)) expect(code).toBe('GW_ERR_UNSUPPORTED_MEDIA_TYPE');
        else expect(c.kinds === null || code === 'GW_ERR_BODY_TOO_LARGE').toBe(true);
        return;
      }

      const results = body.results as { index: number; event_id: string | null; status: string; code?: string; reason?: string }[];
      if (c.kinds) expect(results).toHaveLength(c.kinds.length);
      expect(body.accepted + body.rejected + body.duplicate + body.dropped).toBe(results.length);
      expect(res.statusCode).toBe(body.rejected === 0 ? 200 : body.rejected === results.length ? 400 : 207);

      const events = produced.filter((r) => r.topic !== DLQ);
      expect(events).toHaveLength(body.accepted);
      expect(dead).toHaveLength(body.rejected);
      const seenInBatch = new Set<string>();
      for (const r of results) {
        count(r.status);
        const kind = c.kinds?.[r.index];
        if (kind === 'valid') expect(['accepted', 'duplicate']).toContain(r.status);
        if (kind === 'invalid') expect(r.status).toBe('rejected');
        if (r.status === 'accepted') {
          const out = events.filter((e) => e.value.event_id === r.event_id);
          expect(out).toHaveLength(1);
          expect(out[0].topic).toBe(topicFor(out[0].value.event_type));
          expect(out[0].key).toBe(out[0].value.visitor_id);
          expect(out[0].value.site_id).toBe('fuzz');
          expect(Number.isNaN(Date.parse(out[0].value.timestamp))).toBe(false);
          accepted.add(r.event_id!);
          seenInBatch.add(r.event_id!);
        } else if (r.status === 'rejected') {
          expect(r.code).toMatch(/^GW_ERR_/);
          expect(r.reason).toBeTruthy();
          const dl = dead.filter((d) => d.index === r.index);
          expect(dl).toHaveLength(1);
          expect(dl[0]).toMatchObject({ code: r.code, reason: r.reason, site_id: 'fuzz' });
          expect(typeof dl[0].raw).toBe('string');
          expect(Number.isNaN(Date.parse(dl[0].received_at))).toBe(false);
        } else if (r.status === 'duplicate') {
          expect(accepted.has(r.event_id!) || seenInBatch.has(r.event_id!)).toBe(true);
        } else {
          throw new Error(`unexpected status ${r.status}`);
        }
      }
    }),
    { numRuns: RUNS },
  );

  // Nothing leaked into prototypes, and the gateway still answers.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect((await h.app.inject('/healthz')).statusCode).toBe(200);
  // The generators reached every outcome.
  for (const k of ['200', '207', '400', '413', '415', 'accepted', 'rejected', 'duplicate']) expect(stats[k] ?? 0, `${k} never happened: ${JSON.stringify(stats)}`).toBeGreaterThan(0);
});
