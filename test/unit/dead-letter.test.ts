import { afterEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildDeadLetter } from '../../common/dead-letter.js';
import { contentDigest, digestText } from '../../gateway/content-digest.js';
import { eventSpans } from '../../gateway/json-spans.js';
import { harness, type MemoryProducer } from '../harness/gateway-app.js';
import { pageView, UA } from './fixtures.js';

describe('buildDeadLetter (shared by gateway and processor)', () => {
  test('keeps the parsed form and the bytes as received side by side', () => {
    const d = buildDeadLetter('gateway', { code: 'X', reason: 'r', parsed: { a: Infinity }, received: '{"a":1e400}', siteId: 's', index: 3 }, 100, 0);
    expect(d).toEqual({
      source: 'gateway',
      code: 'X',
      reason: 'r',
      raw: '{"a":null}',
      received: '{"a":1e400}',
      received_encoding: 'utf8',
      received_bytes: 11,
      truncated: false,
      site_id: 's',
      received_at: '1970-01-01T00:00:00.000Z',
      index: 3,
      origin: null,
      digests: null,
    });
  });

  test('bounds both forms in UTF-8 bytes, on a character boundary, and marks the cut', () => {
    const d = buildDeadLetter('processor', { code: 'X', reason: 'r', parsed: { s: 'é'.repeat(100) }, received: 'é'.repeat(100) }, 11, 0);
    expect(d.received).toBe(`${'é'.repeat(5)}…[truncated 190 bytes]`);
    expect(d.received_bytes).toBe(200);
    expect(d.raw).toMatch(/^\{"s":"éé…\[truncated \d+ bytes\]$/);
    expect(d.truncated).toBe(true);
  });

  test('bytes that are not UTF-8 are kept exactly, as base64', () => {
    const d = buildDeadLetter('processor', { code: 'X', reason: 'r', received: new Uint8Array([0x7b, 0xff, 0x7d]) }, 100, 0);
    expect(d).toMatchObject({ received: 'e/99', received_encoding: 'base64', received_bytes: 3, truncated: false, raw: '' });
  });

  test('with nothing parsed, the parsed form is the text received', () => {
    expect(buildDeadLetter('gateway', { code: 'X', reason: 'r', received: '{"events": [' }, 100, 0).raw).toBe('{"events": [');
  });
});

describe('eventSpans', () => {
  test.each([
    ['[{"a":1}, 2 ,"x,]"]', ['{"a":1}', '2', '"x,]"']],
    ['{"sent_at":1,"events":[ {"b":"}"} ,[1,[2]]]}', ['{"b":"}"}', '[1,[2]]']],
    ['{"events":[1],"events":[{"c":"\\\\"},3]}', ['{"c":"\\\\"}', '3']],
    ['\uFEFF {"type":"page_view","x":[1]} ', ['{"type":"page_view","x":[1]}']],
    ['{"a":1}', null],
  ])('%s', (text, want) => {
    const spans = eventSpans(text);
    expect(spans === null ? null : spans.map(([a, b]) => text.slice(a, b))).toEqual(want);
    // With digests: the same spans, and each object or array element's digest as contentDigest
    // gives it (a lone event too); nothing written for other elements.
    const digests = new Int32Array(8);
    const withDigests = eventSpans(text, digests);
    expect(withDigests).toEqual(spans);
    withDigests?.forEach(([a, b], i) => expect(digestText(digests[2 * i], digests[2 * i + 1])).toBe('{['.includes(text[a]) ? contentDigest(text, a, b) : '0000000000000000'));
  });

  test('digests found on the way equal contentDigest of each span: random events with quotes, backslashes, brackets and surrogates inside strings', () => {
    let seed = 11;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const chars = ['a', '"', '\\', '{', '}', '[', ']', ',', ':', '\u00e9', '\ud83d', '\ude00', '\u0000', '\n'];
    const str = () => Array.from({ length: rnd(12) }, () => chars[rnd(chars.length)]).join('');
    const value = (depth: number): unknown => {
      const k = rnd(depth > 3 ? 3 : 5);
      if (k === 0) return str();
      if (k === 1) return rnd(1000) - 500;
      if (k === 2) return rnd(2) === 0 ? null : true;
      if (k === 3) return Array.from({ length: rnd(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: rnd(4) }, () => [str(), value(depth + 1)]));
    };
    let ascii = 0;
    for (let n = 0; n < 300; n++) {
      const events = Array.from({ length: 1 + rnd(5) }, () => (rnd(5) === 0 ? value(3) : { type: 'page_view', event_id: str(), x: value(1) }));
      const text = rnd(2) === 0 ? JSON.stringify(events) : JSON.stringify({ sent_at: 1, events }, null, rnd(2) === 0 ? 2 : undefined);
      const digests = new Int32Array(2 * events.length);
      const spans = eventSpans(text, digests);
      expect(spans?.map(([a, b]) => JSON.parse(text.slice(a, b)))).toEqual(events);
      spans?.forEach(([a, b], i) => expect(digestText(digests[2 * i], digests[2 * i + 1])).toBe('{['.includes(text[a]) ? contentDigest(text, a, b) : '0000000000000000'));
      // From the body's bytes (given only when every char is ASCII): the same spans and digests.
      const bytes = Buffer.from(text);
      if (bytes.length === text.length) {
        ascii++;
        const fromBytes = new Int32Array(2 * events.length);
        expect(eventSpans(text, fromBytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.length))).toEqual(spans);
        expect(fromBytes).toEqual(digests);
      }
    }
    expect(ascii).toBeGreaterThan(20);
  });
});

describe('gateway dead letters keep the refused event as sent', () => {
  let app: FastifyInstance;
  let kafka: MemoryProducer;
  afterEach(async () => app?.close());

  test('1e400 and a 32-digit integer: the reason matches the stored bytes, not the parsed numbers', async () => {
    ({ app, kafka } = await harness());
    const good = JSON.stringify(pageView());
    const bad1 = `{"event_id":"evt-00000001","type":"page_view","ts":1e400,"visitor_id":"v","session_id":"s","url":"https://a.example/"}`;
    const bad2 = `{"event_id":"evt-00000002","type":"page_view","ts":17961128754671234567890123456789,"visitor_id":"v","session_id":"s","url":"https://a.example/"}`;
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events?site=shop',
      headers: { 'content-type': 'application/json', 'user-agent': UA.iphone },
      payload: `{"events":[${good}, ${bad1},\n${bad2}]}`,
    });
    expect(res.statusCode).toBe(207);
    const dlq = kafka.on('events_dead_letter');
    expect(dlq.map((d) => [d.index, d.received])).toEqual([
      [1, bad1],
      [2, bad2],
    ]);
    expect(dlq[0].raw).toContain('"ts":null');
    expect(dlq[1].raw).toContain('"ts":1.7961128754671235e+31');
    expect(dlq[0]).toMatchObject({ source: 'gateway', received_encoding: 'utf8', code: 'GW_ERR_EVENT_INVALID' });
  });
});
