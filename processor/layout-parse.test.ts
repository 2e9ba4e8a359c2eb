import { describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { enrichedJson } from '../gateway/enrich.js';
import { parseUserAgent } from '../gateway/user-agent.js';
import { bodyPool } from '../bench/lib/bodies.js';
import { addToCart, berlinRequest, pageView, purchase, UA } from '../test/unit/fixtures.js';
import { ANALYTICS_FIELDS } from './analytics/analytics-event.js';
import { layoutBytesParser, layoutParser, parseAnalyticsBytes, parseAnalyticsEvent } from './layout-parse.js';

const ctx = berlinRequest;

const parse = layoutParser(ANALYTICS_FIELDS);
const parseBytes = layoutBytesParser(ANALYTICS_FIELDS);
const picked = (text: string) => {
  const full = JSON.parse(text) as EnrichedEvent;
  return Object.fromEntries(ANALYTICS_FIELDS.map((f) => [f, full[f]]));
};

/** The gateway's JSON of the traffic generator's events (every event type). */
function gatewayTexts(): string[] {
  const pool = bodyPool({ size: 40, eventsPerBody: 20, seed: 5 });
  const out: string[] = [];
  for (let k = 0; k < 40; k++) {
    const { events, sentAt, ua } = pool.events(k);
    const c = ctx({ ua: parseUserAgent(ua), sentAt });
    for (const ev of events) out.push(enrichedJson(ev, c));
  }
  return out;
}

describe('layoutParser: the analytics fields out of the gateway layout', () => {
  test('the gateway\'s records: read without JSON.parse, every field as JSON.parse gives it, nothing else', () => {
    const texts = gatewayTexts();
    for (const text of texts) {
      const ev = parse(text);
      expect(ev).toEqual(picked(text));
      expect(Object.keys(ev ?? {}).sort()).toEqual([...ANALYTICS_FIELDS].sort());
      expect(parseAnalyticsEvent(text)).toEqual(ev);
    }
    expect(texts.map((t) => (JSON.parse(t) as EnrichedEvent).event_type)).toContain('purchase');
  });

  test('null, booleans and numbers of every kind come out as JSON.parse makes them', () => {
    const cases = [
      enrichedJson(pageView({ engagement_ms: 1234 }), ctx({ siteId: null, geo: null, ip: null })),
      enrichedJson(addToCart({ price: 0.1 + 0.2, quantity: 3 }), ctx({ ua: { ...parseUserAgent(UA.iphone), is_bot: true } })),
      enrichedJson(purchase({ revenue: 1e21, currency: 'EUR', items: undefined }), ctx()),
      enrichedJson(purchase({ revenue: -0.5, currency: 'USD', items: undefined }), ctx()),
    ];
    for (const text of cases) {
      const ev = parse(text);
      expect(ev).toBeDefined();
      expect(ev).toEqual(picked(text));
    }
  });

  test('another layout is left to JSON.parse; a layout it reads gives the fields JSON.parse gives', () => {
    const text = enrichedJson(pageView(), ctx());
    const obj = JSON.parse(text) as Record<string, unknown>;
    const slow = [
      JSON.stringify(obj, null, 1), // whitespace
      JSON.stringify(Object.fromEntries(Object.entries(obj).reverse())), // another field order
      JSON.stringify({ ...obj, title: 'a "quoted" title' }), // an escape, even in a field it skips
      JSON.stringify({ ...obj, url: 'https://shop.example/caf\u00e9\n' }), // an escape in one it reads
    ];
    for (const v of slow) {
      expect(parse(v)).toBeUndefined();
      expect(parseAnalyticsEvent(v)).toEqual(JSON.parse(v));
    }
    const read = [
      JSON.stringify({ ...obj, items: [{ product_id: 'p', price: 1, quantity: 1 }] }), // an item list (skipped)
      JSON.stringify({ ...obj, extra: 1 }), // a field the layout does not have
      JSON.stringify((({ title: _t, ...rest }) => rest)(obj)), // one it skips missing
    ];
    for (const v of read) expect(parse(v)).toEqual(picked(v));
    // One it reads missing: the next field is found, not invented; JSON.parse gives the same.
    const noCountry = JSON.stringify((({ country: _c, ...rest }) => rest)(obj));
    expect(parse(noCountry)).toBeUndefined();
    expect(parseAnalyticsEvent(noCountry)).toEqual(JSON.parse(noCountry));
  });

  test('what JSON.parse refuses in a field it reads, or at the end, is refused too', () => {
    const text = enrichedJson(pageView({ engagement_ms: 5, title: 'T' }), ctx());
    const broken = [
      text + 'x',
      text.slice(0, -1),
      text.replace('"engagement_ms":5', '"engagement_ms":05'),
      text.replace('"engagement_ms":5', '"engagement_ms":5.'),
      text.replace('"engagement_ms":5', '"engagement_ms":-'),
      text.replace('"is_bot":false', '"is_bot":fals'),
      text.replace('"revenue":null', '"revenue":nul'),
      text.replace('"event_id":"', '"event_id":"\u0001'),
      text.replace('"title":"T', '"title":"\\x'),
      text.replace(/"url":"[^"]*"/, '"url":"/unterminated'),
      text.replace(/"country":"[^"]*"/, '"country":"DE"x'),
    ];
    for (const b of broken) {
      expect(b).not.toBe(text);
      expect(() => JSON.parse(b)).toThrow();
      expect(parse(b)).toBeUndefined();
      expect(parseAnalyticsEvent(b)).toBeUndefined();
    }
  });
});

describe('layoutBytesParser: the same fields out of the record\'s UTF-8 bytes', () => {
  /** `bytes` inside a larger buffer (a fetch holds many records), with other bytes around it. */
  const within = (bytes: Buffer) => ({ buf: Buffer.concat([Buffer.from([0xe2, 0x82, 0x22, 0x7d]), bytes, Buffer.from([0xff, 0x5c])]), start: 4, end: 4 + bytes.length });
  const fromBytes = (bytes: Buffer) => {
    const { buf, start, end } = within(bytes);
    return { layout: parseBytes(buf, start, end), parsed: parseAnalyticsBytes(buf, start, end) };
  };

  test('every value as the text parser and JSON.parse of the UTF-8 text give it, ASCII or not', () => {
    const obj = JSON.parse(enrichedJson(pageView({ engagement_ms: 1234 }), ctx())) as Record<string, unknown>;
    const texts = [
      ...gatewayTexts(),
      // Characters above 0x7f in fields it reads and skips, of 1 to 4 UTF-8 bytes, short and long.
      JSON.stringify({ ...obj, title: 'Café — 😀', url: 'https://shop.example/café-crème-brûlée', browser: 'Ünïcode', country: 'Å' }),
      JSON.stringify({ ...obj, visitor_id: 'v-€€€€€€€€€€€€€€', session_id: 'ß', currency: '€' }),
    ];
    for (const text of texts) {
      const { layout, parsed } = fromBytes(Buffer.from(text, 'utf8'));
      expect(layout).toBeDefined();
      expect(layout).toEqual(parse(text));
      expect(layout).toEqual(picked(text));
      expect(parsed).toEqual(parseAnalyticsEvent(text));
    }
  });

  test('bytes that are not UTF-8 in a field it reads come out as the UTF-8 decoding of the record gives them', () => {
    const text = enrichedJson(pageView(), ctx());
    const at = text.indexOf('"url":"') + 7;
    const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xc3, 0x41, 0xe2, 0x82]), Buffer.from(text.slice(at))]);
    const { layout, parsed } = fromBytes(bytes);
    const decoded = bytes.toString('utf8');
    expect((layout as { url: string }).url.startsWith('\ufffd\ufffdA\ufffd')).toBe(true);
    expect(layout).toEqual(picked(decoded));
    expect(parsed).toEqual(parseAnalyticsEvent(decoded));
  });

  test('a record it cannot read is parsed whole, or refused, as from its text', () => {
    const text = enrichedJson(pageView({ engagement_ms: 5 }), ctx());
    const obj = JSON.parse(text) as Record<string, unknown>;
    for (const v of [JSON.stringify({ ...obj, title: 'a "quoted" tïtle' }), JSON.stringify(obj, null, 1), text.slice(0, -1), text.replace('"is_bot":false', '"is_bot":fals'), 'not json']) {
      const { layout, parsed } = fromBytes(Buffer.from(v, 'utf8'));
      expect(layout).toBeUndefined();
      expect(parsed).toEqual(parseAnalyticsEvent(v));
    }
  });

  test('many records in one Buffer (one text for all): each read within its own bounds, before and after records it cannot read', () => {
    const text = enrichedJson(pageView({ engagement_ms: 5 }), ctx());
    const obj = JSON.parse(text) as Record<string, unknown>;
    const records = [
      ...gatewayTexts().slice(0, 30),
      // A backslash inside, a record cut short before its end, one whose last key is missing: the next
      // record holds what they lack, and must not lend it.
      JSON.stringify({ ...obj, title: 'a "quoted" tïtle' }),
      ...gatewayTexts().slice(30, 40),
      text.slice(0, text.indexOf(',"revenue"')),
      JSON.stringify({ ...obj, revenue: undefined }),
      ...gatewayTexts().slice(40, 60),
    ];
    // Record framing as in a fetch: bytes between values, some of them quotes, braces and backslashes.
    const parts: Buffer[] = [];
    const bounds: [number, number][] = [];
    let at = 0;
    for (const [k, r] of records.entries()) {
      const gap = Buffer.from(k % 2 ? [0x22, 0x5c, 0x7d, 0x2c] : [0x00, 0xff, 0x7b]);
      const bytes = Buffer.from(r, 'utf8');
      parts.push(gap, bytes);
      bounds.push([at + gap.length, at + gap.length + bytes.length]);
      at += gap.length + bytes.length;
    }
    const buf = Buffer.concat(parts);
    const fresh = layoutBytesParser(ANALYTICS_FIELDS);
    const got = bounds.map(([start, end]) => fresh(buf, start, end));
    expect(got).toEqual(records.map((r) => parse(r)));
    expect(got.filter((x) => x === undefined)).toHaveLength(3);
    expect(bounds.map(([start, end]) => parseAnalyticsBytes(buf, start, end))).toEqual(records.map((r) => parseAnalyticsEvent(r)));
    // Read again in another order (a batch delivered again), and with the per-record path's answers.
    expect(bounds.map(([start, end]) => fresh(buf, start, end))).toEqual(got);
    const again = layoutBytesParser(ANALYTICS_FIELDS);
    expect([...bounds].reverse().map(([start, end]) => again(buf, start, end))).toEqual([...got].reverse());
  });
});
