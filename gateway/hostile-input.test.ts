import { afterEach, expect, test } from 'vitest';
import { gzipSync } from 'node:zlib';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView, UA } from '../test/unit/fixtures.js';

let h: Harness;
afterEach(async () => h?.app.close());

test.each([
  ['pixel, repeated site', '/v1/p.gif?site=a&site=b&url=https%3A%2F%2Fshop.example%2F', 'GET'],
  ['events, repeated site', '/v1/events?site=a&site=b', 'POST'],
])('%s: 400 GW_ERR_QUERY_REPEATED_KEY, nothing produced', async (_n, url, method) => {
  h = await harness();
  for (const origin of [undefined, 'https://shop.example']) {
    const res = await h.app.inject({
      method: method as 'GET' | 'POST',
      url,
      headers: { 'user-agent': UA.iphone, 'content-type': 'application/json', ...(origin ? { origin } : {}) },
      payload: method === 'POST' ? JSON.stringify({ events: [pageView()] }) : undefined,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_QUERY_REPEATED_KEY' } });
  }
  expect(h.kafka.records).toHaveLength(0);
  // One key once is fine.
  expect((await postEvents(h.app, { events: [pageView()] }, { query: '?site=a' })).statusCode).toBe(200);
});

const jsonBatch = () => JSON.stringify({ events: [pageView()] });

test.each([
  ['gzip', { 'content-encoding': 'gzip' }, 'GW_ERR_UNSUPPORTED_ENCODING'],
  ['br', { 'content-encoding': 'br' }, 'GW_ERR_UNSUPPORTED_ENCODING'],
  ['deflate, gzip', { 'content-encoding': 'deflate, gzip' }, 'GW_ERR_UNSUPPORTED_ENCODING'],
  ['utf-16', { 'content-type': 'application/json; charset=utf-16' }, 'GW_ERR_UNSUPPORTED_CHARSET'],
  ['latin-1 text/plain', { 'content-type': 'text/plain; charset="ISO-8859-1"' }, 'GW_ERR_UNSUPPORTED_CHARSET'],
])('%s: 415 %s, nothing produced, nothing dead-lettered', async (_n, headers, code) => {
  h = await harness();
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...headers }, payload: gzipSync(jsonBatch()) });
  expect(res.statusCode).toBe(415);
  expect(res.json()).toMatchObject({ error: { code } });
  expect(h.kafka.records).toHaveLength(0);
});

test.each([
  ['identity encoding', { 'content-encoding': 'identity' }],
  ['charset=UTF-8', { 'content-type': 'application/json; charset=UTF-8' }],
  ['charset=utf8 on text/plain', { 'content-type': 'text/plain;charset=utf8' }],
])('%s is taken', async (_n, headers) => {
  h = await harness();
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...headers }, payload: jsonBatch() });
  expect(res.json()).toMatchObject({ accepted: 1 });
});

test('a UTF-8 byte-order mark is tolerated', async () => {
  h = await harness();
  const ev = pageView({ url: 'https://shop.example/café-☕' });
  const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ events: [ev] }))]);
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: body });
  expect(res.json()).toMatchObject({ accepted: 1 });
  expect(h.kafka.on('page_views')[0]).toMatchObject({ event_id: ev.event_id, url: 'https://shop.example/caf%C3%A9-%E2%98%95', url_raw: 'https://shop.example/café-☕' });
});

test('invalid UTF-8 is refused with GW_ERR_INVALID_UTF8 and dead-lettered as received (base64)', async () => {
  h = await harness();
  const json = Buffer.from(JSON.stringify({ events: [pageView({ url: 'https://shop.example/XX' })] }));
  const at = json.indexOf('XX');
  json[at] = 0xc3; // a lead byte followed by 'X' is not UTF-8
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: json });
  expect(res.statusCode).toBe(400);
  expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_INVALID_UTF8' } });
  expect(h.kafka.records.filter((r) => r.topic !== 'events_dead_letter')).toHaveLength(0);
  const [dl] = h.kafka.on('events_dead_letter');
  expect(dl).toMatchObject({ code: 'GW_ERR_INVALID_UTF8', received_encoding: 'base64' });
  expect(Buffer.from(dl.received, 'base64').equals(json)).toBe(true);
});
