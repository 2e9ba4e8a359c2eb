import { describe, expect, test } from 'vitest';
import { ENRICHED_FIELDS } from '../contracts/event-schema.js';
import { enrichEvent, type RequestContext } from './enrich.js';
import { enrichedEventSerialiser } from './serialise.js';
import { parseUserAgent } from './user-agent.js';
import { bodyPool } from '../bench/lib/bodies.js';
import { addToCart, pageView, purchase, UA } from '../test/unit/fixtures.js';

const serialise = enrichedEventSerialiser();
const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({
  ua: parseUserAgent(UA.iphone),
  geo: { country: 'DE', region: 'BE', city: 'Berlin', timezone: 'Europe/Berlin', location: '52.5,13.4' },
  ip: '81.2.69.0',
  siteId: 'shop',
  receivedAt: 1_750_000_000_000,
  sentAt: 1_750_000_000_500,
  ...over,
});

describe('compiled serialiser of the enriched event', () => {
  test('the same JSON as JSON.stringify, field for field, for every event type and odd values', () => {
    const events = [
      pageView({ engagement_ms: 1234, title: 'Quote " backslash \\ line\nbreak \u2028 tab\t', utm_source: 'n\u00e9wsletter' }),
      pageView({ url: 'https://shop.example/?utm_medium=email&gclid=x', referrer: '' }),
      addToCart({ price: 0.1 + 0.2, quantity: 3, product_name: '🙂 emoji' }),
      purchase({ revenue: 1e21, items: [{ product_id: 'a"b', price: 1.5, quantity: 1 }] }),
      { ...pageView(), type: 'click', element: 'button#buy', target_url: 'https://shop.example/buy' } as never,
    ];
    for (const c of [ctx(), ctx({ geo: null, ip: null, siteId: null, sentAt: null, hashUserId: (id) => `h:${id}` })]) {
      for (const ev of events) {
        const enriched = enrichEvent(ev, c);
        const out = serialise(enriched);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(enriched)));
      }
    }
  });

  test('every field enrich.ts writes is in ENRICHED_FIELDS (none would be left out silently)', () => {
    const enriched = enrichEvent(purchase(), ctx());
    expect(Object.keys(JSON.parse(serialise(enriched))).sort()).toEqual(Object.keys(enriched).sort());
    expect(Object.keys(enriched).sort()).toEqual(Object.keys(ENRICHED_FIELDS).sort());
  });

  test('the traffic generator\'s events come out as JSON.stringify makes them', () => {
    const pool = bodyPool({ size: 50, eventsPerBody: 20, seed: 3 });
    for (let k = 0; k < 50; k++) {
      const { events, sentAt, ua } = pool.events(k);
      const c = ctx({ ua: parseUserAgent(ua), sentAt });
      for (const ev of events) {
        const enriched = enrichEvent(ev, c);
        expect(serialise(enriched)).toBe(JSON.stringify(enriched));
      }
    }
  });
});
