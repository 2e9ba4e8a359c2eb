import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ENRICHED_FIELDS } from '../contracts/event-schema.js';
import type { ClientEvent } from '../contracts/event-schema.js';
import { enrichEvent, enrichedJson, plainBody } from './enrich.js';
import { UrlMemo } from './parsed-url.js';
import { parseUserAgent } from './user-agent.js';
import { bodyPool } from '../bench/lib/bodies.js';
import { addToCart, berlinRequest, pageView, purchase } from '../test/unit/fixtures.js';
import { text, validEvent } from '../test/event-arbitraries.js';

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

  test('URLs kept across requests (one memo, as ingest passes it): each request still gets its own site\'s referrer types and quoting', () => {
    const urls = new UrlMemo();
    // The referrer is internal for a site that lists its host, external for one that does not.
    const ev = pageView({ url: 'https://a.example/p?utm_source=x', referrer: 'https://b.example/q' });
    const next = pageView({ url: 'https://a.example/p?utm_source=x', referrer: 'https://b.example/q' });
    const types: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = ctx({ urls, siteHosts: new Set(i % 2 ? ['a.example'] : ['a.example', 'b.example']), plainStrings: i > 1 });
      for (const e of [ev, next]) {
        const json = enrichedJson(e, c);
        expect(json).toBe(JSON.stringify(enrichEvent(e, ctx({ siteHosts: c.siteHosts }))));
        types.push(JSON.parse(json).referrer_type);
      }
    }
    expect(types).toEqual(['internal', 'internal', 'campaign', 'campaign', 'internal', 'internal', 'campaign', 'campaign']);
    expect(urls.size).toBe(2);
  });

  test('UrlMemo forgets everything once the URLs it keeps pass its bound, and parses the same again', () => {
    const urls = new UrlMemo(undefined, 120);
    const a = urls.get('https://shop.example/a?utm_source=x&session=1');
    expect(urls.get('https://shop.example/a?utm_source=x&session=1')).toBe(a);
    urls.get('https://shop.example/b/' + 'x'.repeat(40));
    expect(urls.size).toBe(2);
    urls.get('https://shop.example/c/' + 'y'.repeat(40));
    expect(urls.size).toBe(1);
    const again = urls.get('https://shop.example/a?utm_source=x&session=1');
    expect(again).not.toBe(a);
    expect(again).toEqual(a);
    expect(a).toMatchObject({ host: 'shop.example', path: '/a', normal: 'https://shop.example/a?utm_source=x' });
    // And once it holds as many URLs as it may.
    const few = new UrlMemo(undefined, 1 << 20, 3);
    for (const p of ['a', 'b', 'c']) few.get(`https://shop.example/${p}`);
    expect(few.size).toBe(3);
    few.get('https://shop.example/d');
    expect(few.size).toBe(1);
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
      // As ingest writes them: the body has no backslash, so no field is tested for escapes.
      const body = pool.body(k).body;
      expect(plainBody(body)).toBe(true);
      const plain = ctx({ ua: parseUserAgent(ua), sentAt, plainStrings: true });
      for (const ev of (JSON.parse(body) as { events: ClientEvent[] }).events) expect(enrichedJson(ev, plain)).toBe(JSON.stringify(enrichEvent(ev, plain)));
    }
  });

  test('plainBody: a body is plain only without a backslash, and then its strings need no escape', () => {
    const texts = ['plain', 'émoji 🙂 and ü', 'quote \\" inside', 'line\\nbreak', 'lone \\ud800', 'tab\\t', 'slash \\/'];
    for (const t of texts) {
      const body = `{"events":[{"title":"${t}"}]}`;
      const parsed = (JSON.parse(body) as { events: { title: string }[] }).events[0].title;
      // Plain: quoting by hand gives JSON.stringify's text; otherwise the escape test must run.
      expect(plainBody(body)).toBe(!t.includes('\\'));
      if (plainBody(body)) expect(`"${parsed}"`).toBe(JSON.stringify(parsed));
    }
  });

  test('events with UTM fields of their own, and runs of one page and referrer, as JSON.stringify writes them', () => {
    const c = ctx({ plainStrings: true });
    const page = 'https://shop.example/p?utm_source=ads&utm_medium=cpc';
    const events = [
      pageView({ url: 'https://shop.example/plain', referrer: 'https://www.google.com/' }),
      pageView({ url: 'https://shop.example/plain', referrer: 'https://www.google.com/', utm_source: 'mail' }),
      pageView({ url: page, referrer: 'https://www.google.com/' }),
      pageView({ url: page, referrer: 'https://www.google.com/', utm_source: 'mail', utm_term: 'x' }),
      pageView({ url: page, referrer: 'https://www.google.com/' }),
      pageView({ url: page, referrer: 'https://shop.example/' }),
      pageView({ url: page }),
      pageView({ url: 'https://shop.example/q?fbclid=1', referrer: 'https://t.co/', utm_content: 'c' }),
      pageView({ url: 'https://shop.example/q?fbclid=1', referrer: 'https://t.co/' }),
      pageView({ url: 'not a url', referrer: 'https://t.co/', utm_medium: 'm' }),
      pageView({ url: 'not a url', referrer: 'https://t.co/' }),
    ];
    for (const ev of events) expect(enrichedJson(ev, c)).toBe(JSON.stringify(enrichEvent(ev, c)));
    expect(JSON.parse(enrichedJson(events[0], c))).toMatchObject({ utm_source: null, referrer_type: 'search' });
    expect(JSON.parse(enrichedJson(events[1], c))).toMatchObject({ utm_source: 'mail', referrer_type: 'campaign' });
    expect(JSON.parse(enrichedJson(events[3], c))).toMatchObject({ utm_source: 'mail', utm_medium: null, utm_term: 'x', referrer_type: 'campaign' });
    expect(JSON.parse(enrichedJson(events[5], c))).toMatchObject({ utm_source: 'ads', referrer_type: 'internal' });
  });

  test('property: generated batches with any strings come out as JSON.stringify of enrichEvent, event after event of one request', () => {
    const maybe = fc.option(text(0, 30), { nil: null });
    const client = fc.record({ browser: maybe, browser_version: maybe, os: maybe, os_version: maybe, device_type: text(0, 30), device_vendor: maybe, device_model: maybe, is_bot: fc.boolean() });
    const geo = fc.option(fc.record({ country: maybe, region: maybe, city: maybe, timezone: maybe, location: maybe }), { nil: null });
    fc.assert(
      fc.property(fc.array(validEvent, { minLength: 1, maxLength: 20 }), client, geo, maybe, fc.boolean(), (events, ua, g, siteId, repeatPage) => {
        // Runs of one page and referrer, as SDK batches have them: the request's cached fragments get reused.
        if (repeatPage) for (const ev of events) Object.assign(ev, { url: events[0].url, referrer: events[0].referrer });
        const body = JSON.stringify({ events });
        const parsed = (JSON.parse(body) as { events: ClientEvent[] }).events;
        const c = ctx({ ua, geo: g, siteId, plainStrings: plainBody(body) });
        for (const ev of parsed) expect(enrichedJson(ev, c)).toBe(JSON.stringify(enrichEvent(ev, c)));
      }),
      { numRuns: 500 },
    );
  });
});
