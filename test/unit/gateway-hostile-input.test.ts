import { afterEach, expect, test } from 'vitest';
import { harness, postEvents, type Harness } from './gateway-harness.js';
import { pageView, UA } from './fixtures.js';

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
