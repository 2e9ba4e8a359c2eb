/**
 * Distinct users over a range against the real Elasticsearch: raw events of more than 10,000
 * distinct users on one URL, spread over five windows (users coming back in several windows, from
 * several countries, bots, events out of range), and the URL-stats documents of those windows
 * written as the processor would. GET /api/url-stats must answer the independent count (sets of
 * visitor ids) exactly up to DISTINCT_USERS.exactUpTo, and within 1 % beyond.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from './app.js';
import { esFromConfig } from '../common/es-client.js';
import { installTemplates } from '../infra/setup-indices.js';
import { DISTINCT_USERS } from '../contracts/documents.js';
import { eventDoc, urlDoc, writeFixtures, type EventFixture, type UrlFixture } from '../test/integration/dashboard-fixtures.js';
import { unique } from '../test/integration/helpers.js';

const esUrl = inject('esUrl');
const MIN = 60_000;
const T = Date.UTC(2026, 2, 2, 10, 0, 0);
const WINDOWS = 5;
const X = 'https://shop.example/products/mug';
const Y = 'https://shop.example/';

let seed = 11;
const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

interface Gen {
  events: EventFixture[];
  urls: UrlFixture[];
  /** The independent count: visitor ids per URL and per URL|country, bots and events out of range left out. */
  users: Map<string, Set<string>>;
  /** What summing each window's distinct users gives (the old answer). */
  summed: Map<string, number>;
}

function generate(): Gen {
  const events: EventFixture[] = [];
  const users = new Map<string, Set<string>>();
  const perWindow = new Map<string, Set<string>>();
  const add = (k: string, v: string, m: Map<string, Set<string>>) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(v);
  const views = new Map<string, number>();
  let n = 0;
  const event = (url: string, visitor: string, country: string | null, w: number, bot = false) => {
    const at = T + w * MIN + Math.floor(r() * MIN);
    const site = url === Y ? 'blog' : 'shop';
    events.push(eventDoc(`e${n++}`, at, { url, visitor_id: visitor, country, is_bot: bot, site_id: site }));
    if (bot || w < 0 || w >= WINDOWS) return;
    const c = country ?? 'unknown';
    for (const k of [url, `${url}|${c}`, `site:${site}`]) add(k, visitor, users);
    add(`${w}|${url}|${c}`, visitor, perWindow);
    views.set(`${w}|${url}|${c}`, (views.get(`${w}|${url}|${c}`) ?? 0) + 1);
  };
  // X: 12,000 users, each in 1-3 of the windows; a tenth of them seen from a second country.
  for (let u = 0; u < 12_000; u++) {
    const country = [`FR`, 'FR', 'DE', 'US', null][Math.floor(r() * 5)];
    for (let k = 0; k < 1 + Math.floor(r() * 3); k++) event(X, `x-${u}`, u % 10 === 0 && k === 1 ? 'BE' : country, Math.floor(r() * WINDOWS));
  }
  // Y: 25,000 users (more than DISTINCT_USERS.exactUpTo), FR and DE each fewer.
  for (let u = 0; u < 25_000; u++) event(Y, `y-${u}`, u % 5 < 3 ? 'FR' : 'DE', Math.floor(r() * WINDOWS));
  // Bots, and users before and after the range: counted nowhere.
  for (let u = 0; u < 300; u++) event(X, `bot-${u}`, 'FR', Math.floor(r() * WINDOWS), true);
  for (let u = 0; u < 300; u++) event(X, `out-${u}`, 'FR', u % 2 ? -1 : WINDOWS);
  const urls: UrlFixture[] = [];
  const summed = new Map<string, number>();
  for (const [k, set] of perWindow) {
    const [w, url, country] = k.split('|');
    urls.push(urlDoc(T + Number(w) * MIN, MIN, url, country, 0, { unique_users: set.size, page_views: views.get(k)! }));
    for (const s of [url, `${url}|${country}`]) summed.set(s, (summed.get(s) ?? 0) + set.size);
  }
  return { events, urls, users, summed };
}

describe('distinct users over a range (real Elasticsearch)', () => {
  let app: FastifyInstance;
  let es: Client;
  let gen: Gen;

  beforeAll(async () => {
    const prefix = unique('distinct').toLowerCase();
    await installTemplates(esUrl, prefix);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
    gen = generate();
    for (let i = 0; i < gen.events.length; i += 5000) await writeFixtures(es, prefix, { events: gen.events.slice(i, i + 5000) });
    await writeFixtures(es, prefix, { urls: gen.urls });
    app = await buildDashboard({ config: { esUrl, esIndexPrefix: prefix, logLevel: 'warn' }, logger: pino({ level: 'warn' }), es });
  }, 300_000);
  afterAll(async () => {
    await app?.close();
  });

  const get = async (q: Record<string, string | number>) => {
    const r = await app.inject(`/api/url-stats?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)]))}`);
    expect(r.statusCode).toBe(200);
    return r.json() as { unique_users_exact: boolean; urls: { url: string; unique_users: number; countries: { country: string; unique_users: number }[] }[] };
  };
  const range = { from: new Date(T).toISOString(), to: new Date(T + WINDOWS * MIN).toISOString() };

  test('over five windows: every URL x country and the URL with 12,000 users exact, the URL with 25,000 within 1 %', async () => {
    const body = await get({ ...range, limit: 5, countries: 10 });
    const x = body.urls.find((u) => u.url === X)!;
    const y = body.urls.find((u) => u.url === Y)!;
    const want = (k: string) => gen.users.get(k)!.size;
    expect(want(X)).toBeGreaterThan(10_000);
    expect(want(X)).toBeLessThanOrEqual(DISTINCT_USERS.exactUpTo);
    // Summing each window's distinct users is far off: users come back.
    expect(gen.summed.get(X)!).toBeGreaterThan(want(X) * 1.3);
    expect(x.unique_users).toBe(want(X));
    expect(x.countries.map((c) => c.country).sort()).toEqual(['BE', 'DE', 'FR', 'US', 'unknown']);
    for (const c of x.countries) expect(c.unique_users, c.country).toBe(want(`${X}|${c.country}`));
    for (const c of y.countries) expect(c.unique_users, c.country).toBe(want(`${Y}|${c.country}`));
    expect(want(Y)).toBeGreaterThan(DISTINCT_USERS.exactUpTo);
    expect(Math.abs(y.unique_users - want(Y)) / want(Y)).toBeLessThan(0.01);
    expect(body.unique_users_exact).toBe(false);
    console.log(`[distinct-users] ${X}: ${x.unique_users} (independent ${want(X)}, summed per window ${gen.summed.get(X)}); ${Y}: ${y.unique_users} (independent ${want(Y)}, error ${(((y.unique_users - want(Y)) / want(Y)) * 100).toFixed(3)} %)`);
  });

  test('per site over the range: the visitors of a site with 12,000 exact, of one with 25,000 within 1 %', async () => {
    const overview = async (site: string) => {
      const res = await app.inject(`/api/overview?${new URLSearchParams({ ...range, site })}`);
      expect(res.statusCode).toBe(200);
      return res.json() as { visitors: number; visitors_exact: boolean };
    };
    const shop = await overview('shop');
    expect(shop).toMatchObject({ visitors: gen.users.get('site:shop')!.size, visitors_exact: true });
    const blog = await overview('blog');
    expect(blog.visitors_exact).toBe(false);
    expect(Math.abs(blog.visitors - gen.users.get('site:blog')!.size) / gen.users.get('site:blog')!.size).toBeLessThan(0.01);
    const both = await overview('shop,blog');
    expect(both.visitors_exact).toBe(false);
  });

  test('one country, a range of two windows: exact, and flagged so', async () => {
    const body = await get({ from: new Date(T + MIN).toISOString(), to: new Date(T + 3 * MIN).toISOString(), limit: 5, countries: 5, country: 'FR' });
    const expected = (url: string) => {
      const ids = new Set(gen.events.filter((e) => e.url === url && e.country === 'FR' && !e.is_bot && Date.parse(e.timestamp) >= T + MIN && Date.parse(e.timestamp) < T + 3 * MIN).map((e) => e.visitor_id));
      return ids.size;
    };
    expect(body.unique_users_exact).toBe(true);
    expect(body.urls.map((u) => [u.url, u.unique_users, u.countries.map((c) => [c.country, c.unique_users])])).toEqual(
      [Y, X].map((url) => [url, expected(url), [['FR', expected(url)]]]),
    );
  });
});
