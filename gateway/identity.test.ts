import { afterEach, expect, test } from 'vitest';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView, purchase } from '../test/unit/fixtures.js';
import { eventDocId } from '../contracts/indices.js';

let h: Harness;
afterEach(async () => h?.app.close());

test('identity is (site, event id): site B is not answered duplicate for site A\'s id, and both are produced', async () => {
  h = await harness();
  const ev = pageView();
  expect((await postEvents(h.app, { events: [ev] }, { query: '?site=siteA' })).json()).toMatchObject({ accepted: 1 });
  expect((await postEvents(h.app, { events: [ev] }, { query: '?site=siteB' })).json()).toMatchObject({ accepted: 1, duplicate: 0 });
  expect((await postEvents(h.app, { events: [ev] }, { query: '?site=siteB' })).json()).toMatchObject({ accepted: 0, duplicate: 1 });
  const out = h.kafka.on('page_views');
  expect(out.map((e) => [e.site_id, e.event_id])).toEqual([
    ['siteA', ev.event_id],
    ['siteB', ev.event_id],
  ]);
  // Two documents in Elasticsearch, not one overwriting the other.
  expect(new Set(out.map(eventDocId)).size).toBe(2);
});

test('the same id with other content (a page view, then a purchase): a conflict, dead-lettered with both digests, never silently dropped', async () => {
  h = await harness();
  const view = pageView();
  await postEvents(h.app, { events: [view] }, { query: '?site=shop' });
  const buy = purchase({ event_id: view.event_id });
  const res = await postEvents(h.app, { events: [buy] }, { query: '?site=shop' });
  expect(res.statusCode).toBe(400);
  expect(res.json().results[0]).toMatchObject({ status: 'rejected', code: 'GW_ERR_EVENT_ID_CONFLICT', event_id: view.event_id });
  const dl = h.kafka.on('events_dead_letter');
  expect(dl).toHaveLength(1);
  expect(dl[0]).toMatchObject({ code: 'GW_ERR_EVENT_ID_CONFLICT', site_id: 'shop', index: 0 });
  expect(dl[0].digests.kept).toMatch(/^[0-9a-f]{16}$/);
  expect(dl[0].digests.refused).toMatch(/^[0-9a-f]{16}$/);
  expect(dl[0].digests.kept).not.toBe(dl[0].digests.refused);
  expect(JSON.parse(dl[0].received)).toEqual(buy);
  expect(h.kafka.on('purchases')).toHaveLength(0);
  // The same content again is still a duplicate.
  expect((await postEvents(h.app, { events: [view] }, { query: '?site=shop' })).json()).toMatchObject({ duplicate: 1 });
});

test('a conflict within one batch is told apart from a duplicate within it', async () => {
  h = await harness();
  const a = pageView();
  const res = await postEvents(h.app, { events: [a, a, { ...a, url: 'https://shop.example/other' }] }, { query: '?site=shop&results=1' });
  expect(res.json().results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['accepted', 'duplicate', 'GW_ERR_EVENT_ID_CONFLICT']);
});

test('the same in a batch of over 32 events (found by key, not by scan): duplicates and conflicts among 40 events, the rest accepted', async () => {
  h = await harness();
  const events = Array.from({ length: 38 }, () => pageView());
  const a = events[3];
  const b = events[30];
  events.push(a, { ...b, url: 'https://shop.example/other' });
  const res = await postEvents(h.app, { events }, { query: '?site=shop' });
  expect(res.statusCode).toBe(207);
  const outcome = res.json().results.map((r: { status: string; code?: string }) => r.code ?? r.status);
  expect(outcome).toEqual([...Array(38).fill('accepted'), 'duplicate', 'GW_ERR_EVENT_ID_CONFLICT']);
  expect(res.json()).toMatchObject({ accepted: 38, duplicate: 1, rejected: 1 });
});

test('a retry is a duplicate however its body is encoded around it: alone, beside a non-ASCII event, after a byte-order mark; one changed byte is a conflict', async () => {
  h = await harness();
  const ev = pageView({ title: 'Mugs' });
  const other = pageView({ title: 'Tassen für Kaffee ☕ 😀' });
  const json = JSON.stringify(ev);
  // Digested from the body's own bytes (all ASCII) the first time, from the text the next times.
  expect((await postEvents(h.app, `{"events":[${json}]}`, { query: '?site=shop' })).json()).toMatchObject({ accepted: 1 });
  expect((await postEvents(h.app, `{"events":[${JSON.stringify(other)},${json}]}`, { query: '?site=shop&results=1' })).json().results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'duplicate']);
  expect((await postEvents(h.app, `\uFEFF[${json}]`, { query: '?site=shop' })).json()).toMatchObject({ accepted: 0, duplicate: 1 });
  // The other way round: first seen beside non-ASCII text, then alone.
  const ev2 = pageView({ title: 'Cups' });
  const other2 = pageView({ title: 'Mañana' });
  expect((await postEvents(h.app, `[${JSON.stringify(other2)},${JSON.stringify(ev2)}]`, { query: '?site=shop' })).json()).toMatchObject({ accepted: 2 });
  expect((await postEvents(h.app, `[${JSON.stringify(ev2)}]`, { query: '?site=shop' })).json()).toMatchObject({ duplicate: 1 });
  // The same fields with one character of the title changed: other content.
  const res = await postEvents(h.app, `[${json.replace('"Mugs"', '"Mugz"')}]`, { query: '?site=shop' });
  expect(res.json().results[0]).toMatchObject({ status: 'rejected', code: 'GW_ERR_EVENT_ID_CONFLICT' });
});
