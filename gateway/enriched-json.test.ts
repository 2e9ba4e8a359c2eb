import { describe, expect, test } from 'vitest';
import { ENRICHED_FIELDS } from '../contracts/event-schema.js';
import { enrichEvent, enrichedJson } from './enrich.js';
import { parseUserAgent } from './user-agent.js';
import { bodyPool } from '../bench/lib/bodies.js';
import { addToCart, berlinRequest, pageView, purchase } from '../test/unit/fixtures.js';

const ctx = berlinRequest;

describe('enrichedJson: the enriched event as JSON without building it', () => {
  test('the same JSON as JSON.stringify, field for field, for every event type and odd values', () => {
    const events = [
      pageView({ engagement_ms: 1234, title: 'Quote " backslash \\ line\nbreak \u2028 tab\t', utm_source: 'n\u00e9wsletter' }),
      pageView({ title: 'lone \ud800 high, lone \udfff low, a pair \ud83d\ude00, NUL \u0000, unit sep \u001f, DEL \u007f', language: '\u0001', screen: '"', viewport: '\\' }),
      pageView({ url: 'https://shop.example/?utm_medium=email&gclid=x', referrer: '' }),
      addToCart({ price: 0.1 + 0.2, quantity: 3, product_name: '🙂 emoji' }),
      purchase({ revenue: 1e21, items: [{ product_id: 'a"b', price: 1.5, quantity: 1 }] }),
      { ...pageView(), type: 'click', element: 'button#buy', target_url: 'https://shop.example/buy' } as never,
    ];
    const odd = { browser: 'Quote "', browser_version: null, os: 'line\nbreak', os_version: '\u2028', device_type: 'mobile', device_vendor: '\\', device_model: '🙂', is_bot: true };
    for (const c of [ctx(), ctx({ geo: null, ip: null, siteId: null, sentAt: null, hashUserId: (id) => `h:${id}` }), ctx({ ua: odd, siteId: 'a"b', geo: { country: null, region: 'x\ty', city: 'Zürich', timezone: null, location: null } })]) {
      for (const ev of events) {
        // The request's shared fragments are written at the first event and reused by the next ones.
        expect(enrichedJson(ev, c)).toBe(JSON.stringify(enrichEvent(ev, c)));
      }
    }
  });

  test('every event type writes exactly the fields of ENRICHED_FIELDS, in its order', () => {
    const click = { ...pageView(), type: 'click', element: 'a', target_url: 'https://x.example/' } as never;
    for (const ev of [pageView(), click, addToCart(), purchase()]) {
      expect(Object.keys(JSON.parse(enrichedJson(ev, ctx())))).toEqual(Object.keys(ENRICHED_FIELDS));
      expect(Object.keys(enrichEvent(ev, ctx()))).toEqual(Object.keys(ENRICHED_FIELDS));
    }
  });

  test('an unparseable page URL is kept as sent, and does not lend its fields to the next event', () => {
    const c = ctx();
    const bad = pageView({ url: 'not a url' });
    const good = pageView({ url: 'https://shop.example/a?utm_source=x' });
    for (const ev of [bad, good, bad, pageView({ url: 'also bad' })]) expect(enrichedJson(ev, c)).toBe(JSON.stringify(enrichEvent(ev, c)));
    expect(JSON.parse(enrichedJson(bad, c))).toMatchObject({ url: 'not a url', url_raw: 'not a url', url_host: null, url_path: null });
  });

  test('the traffic generator\'s events come out as JSON.stringify of enrichEvent makes them', () => {
    const pool = bodyPool({ size: 50, eventsPerBody: 20, seed: 3 });
    for (let k = 0; k < 50; k++) {
      const { events, sentAt, ua } = pool.events(k);
      const c = ctx({ ua: parseUserAgent(ua), sentAt });
      for (const ev of events) expect(enrichedJson(ev, c)).toBe(JSON.stringify(enrichEvent(ev, c)));
    }
  });
});
