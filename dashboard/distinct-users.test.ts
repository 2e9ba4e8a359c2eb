import { describe, expect, test } from 'vitest';
import type { estypes } from '@elastic/elasticsearch';
import { ExactCounter, PAGE_SIZE, countDistinct, distinctUsers, exactPlan, pairKey, type DistinctUsers, type UsersScope } from './distinct-users.js';

type Doc = { url: string; visitor_id: string; country?: string | null; timestamp: number; is_bot: boolean };
type Q = estypes.QueryDslQueryContainer;

/** Evaluates the query shapes the module sends (bool, term, terms, range, exists) on one document. */
function matches(q: Q, d: Doc): boolean {
  const v = (f: string) => (d as unknown as Record<string, unknown>)[f];
  if (q.bool) {
    const b = q.bool;
    const list = (x: Q | Q[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
    if (!list(b.filter).every((x) => matches(x, d))) return false;
    if (list(b.must_not).some((x) => matches(x, d))) return false;
    const should = list(b.should);
    return should.length === 0 || should.some((x) => matches(x, d));
  }
  if (q.term) {
    const [f, x] = Object.entries(q.term)[0];
    return v(f) === x;
  }
  if (q.terms) {
    const [f, xs] = Object.entries(q.terms)[0];
    return (xs as unknown[]).includes(v(f));
  }
  if (q.range) {
    const [f, r] = Object.entries(q.range)[0] as [string, { gte: number; lt: number }];
    return (v(f) as number) >= r.gte && (v(f) as number) < r.lt;
  }
  if (q.exists) return v(q.exists.field) !== undefined && v(q.exists.field) !== null;
  throw new Error(`query not understood: ${JSON.stringify(q)}`);
}

/**
 * Elasticsearch for the two searches: cardinality estimates (the exact count off by `noise`, as
 * HyperLogLog++ may be), and composite pages in key order (null country first).
 */
function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = m.get(k);
    if (g) g.push(x);
    else m.set(k, [x]);
  }
  return m;
}

function fakeEs(docs: Doc[], noise: (n: number) => number) {
  const calls: estypes.SearchRequest[] = [];
  const search = async (req: estypes.SearchRequest): Promise<estypes.SearchResponse> => {
    calls.push(req);
    const hits = docs.filter((d) => matches(req.query!, d));
    const aggs = req.aggregations ?? req.aggs!;
    const base = { took: 1, timed_out: false, _shards: { total: 1, successful: 1, failed: 0 }, hits: { hits: [] } };
    if (aggs.urls) {
      const include = (aggs.urls.aggs!.countries.terms!.include as string[]) ?? [];
      const byUrl = groupBy(hits, (d) => d.url);
      const buckets = [...byUrl].map(([url, ds]) => ({
        key: url,
        users: { value: noise(new Set(ds.map((d) => d.visitor_id)).size) },
        countries: {
          buckets: [...groupBy(ds, (d) => d.country ?? 'unknown')]
            .filter(([c]) => include.includes(c))
            .map(([c, cs]) => ({ key: c, users: { value: noise(new Set(cs.map((d) => d.visitor_id)).size) } })),
        },
      }));
      return { ...base, aggregations: { urls: { buckets } } } as unknown as estypes.SearchResponse;
    }
    const comp = aggs.keys.composite!;
    const keys = [...new Map(hits.map((d) => [JSON.stringify([d.url, d.visitor_id, d.country ?? null]), { url: d.url, user: d.visitor_id, country: d.country ?? null }])).values()];
    const cmp = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
    const order = (a: (typeof keys)[0], b: (typeof keys)[0]) => cmp(a.url, b.url) || cmp(a.user, b.user) || cmp(a.country, b.country);
    keys.sort(order);
    const after = comp.after as (typeof keys)[0] | undefined;
    const page = keys.filter((k) => !after || order(k, after) > 0).slice(0, comp.size);
    return { ...base, aggregations: { keys: { buckets: page.map((key) => ({ key, doc_count: 1 })), ...(page.length ? { after_key: page[page.length - 1] } : {}) } } } as unknown as estypes.SearchResponse;
  };
  return { search, calls };
}

/** The independent count: sets of visitor ids. */
function reference(docs: Doc[], s: UsersScope): DistinctUsers {
  const inScope = docs.filter((d) => !d.is_bot && d.timestamp >= s.from && d.timestamp < s.to && (!s.country || (d.country ?? 'unknown') === s.country));
  const out: DistinctUsers = { byUrl: new Map(), byPair: new Map() };
  for (const u of s.urls) {
    const ds = inScope.filter((d) => d.url === u.url);
    if (!ds.length) continue;
    out.byUrl.set(u.url, { users: new Set(ds.map((d) => d.visitor_id)).size, exact: true });
    for (const c of u.countries) {
      const cs = ds.filter((d) => (d.country ?? 'unknown') === c);
      if (cs.length) out.byPair.set(pairKey(u.url, c), { users: new Set(cs.map((d) => d.visitor_id)).size, exact: true });
    }
  }
  return out;
}

const MIN = 60_000;
const T = Date.UTC(2026, 2, 1, 10);

describe('distinct users over a range', () => {
  test.each([
    {
      name: 'a user in several windows counts once',
      docs: [0, 1, 2].flatMap((w) => [{ url: '/a', visitor_id: 'u1', country: 'FR', timestamp: T + w * MIN, is_bot: false }]),
      want: { '/a': 1, '/a|FR': 1 },
    },
    {
      name: 'a user seen from two countries: once per URL, once in each country',
      docs: [
        { url: '/a', visitor_id: 'u1', country: 'FR', timestamp: T, is_bot: false },
        { url: '/a', visitor_id: 'u1', country: 'DE', timestamp: T + MIN, is_bot: false },
        { url: '/a', visitor_id: 'u2', country: 'DE', timestamp: T + MIN, is_bot: false },
      ],
      want: { '/a': 2, '/a|FR': 1, '/a|DE': 2 },
    },
    {
      name: 'bots and events out of range are left out',
      docs: [
        { url: '/a', visitor_id: 'u1', country: 'FR', timestamp: T, is_bot: false },
        { url: '/a', visitor_id: 'bot', country: 'FR', timestamp: T, is_bot: true },
        { url: '/a', visitor_id: 'u9', country: 'FR', timestamp: T + 3 * MIN, is_bot: false },
        { url: '/a', visitor_id: 'u8', country: 'FR', timestamp: T - 1, is_bot: false },
      ],
      want: { '/a': 1, '/a|FR': 1 },
    },
    {
      name: 'no country and a stored `unknown` are one country',
      docs: [
        { url: '/a', visitor_id: 'u1', country: null, timestamp: T, is_bot: false },
        { url: '/a', visitor_id: 'u1', country: 'unknown', timestamp: T, is_bot: false },
        { url: '/a', visitor_id: 'u2', country: null, timestamp: T, is_bot: false },
      ],
      countries: ['unknown'],
      want: { '/a': 2, '/a|unknown': 2 },
    },
  ])('$name', async ({ docs, want, countries }) => {
    const scope: UsersScope = { eventsPattern: 'e-*', from: T, to: T + 3 * MIN, urls: [{ url: '/a', countries: countries ?? ['FR', 'DE'] }] };
    const { search } = fakeEs(docs, (n) => n + 3); // estimates off: only exact counts may show
    const got = await distinctUsers(search, scope);
    const flat = Object.fromEntries([...[...got.byUrl].map(([k, v]) => [k, v.users]), ...[...got.byPair].map(([k, v]) => [k.replace('\u0000', '|'), v.users])]);
    expect(flat).toEqual(want);
    expect([...got.byUrl.values(), ...got.byPair.values()].every((c) => c.exact)).toBe(true);
    const ref = reference(docs, scope);
    expect(got).toEqual(ref);
  });

  test('more keys than a page, a small and a large URL: exact up to the limit, the estimate beyond, as the independent count', async () => {
    let seed = 3;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const countries = ['FR', 'DE', 'US', null];
    const docs: Doc[] = [];
    // '/small': 8,000 users; '/large': 20,000 users (above the limit of 9,000 used here), each in 1-3 windows.
    for (const [url, users] of [['/small', 8000], ['/large', 20000]] as const) {
      for (let u = 0; u < users; u++) {
        const country = countries[u % 2 === 1 && url === '/large' ? 1 : Math.floor(r() * 4)];
        for (let k = 0; k < 1 + Math.floor(r() * 3); k++) docs.push({ url, visitor_id: `${url}-${u}`, country, timestamp: T + Math.floor(r() * 5) * MIN + 7, is_bot: r() < 0.02 });
      }
    }
    const scope: UsersScope = { eventsPattern: 'e-*', from: T, to: T + 5 * MIN, urls: [{ url: '/small', countries: ['FR', 'DE', 'US', 'unknown'] }, { url: '/large', countries: ['DE', 'FR', 'unknown'] }] };
    const { search, calls } = fakeEs(docs, (n) => Math.round(n * 1.004));
    const got = await distinctUsers(search, scope, 9000);
    const ref = reference(docs, scope);
    // Pages: more keys than one page holds.
    expect(calls.length).toBeGreaterThan(2);
    expect(PAGE_SIZE).toBeLessThan(ref.byUrl.get('/small')!.users + [...ref.byPair].filter(([k]) => k.startsWith('/large')).reduce((n, [, c]) => n + (c.users <= 9000 ? c.users : 0), 0));
    expect(got.byUrl.get('/small')).toEqual(ref.byUrl.get('/small'));
    for (const c of scope.urls[0].countries) expect(got.byPair.get(pairKey('/small', c))).toEqual(ref.byPair.get(pairKey('/small', c)));
    // The large URL: the estimate, flagged; its countries below the limit: exact.
    const large = got.byUrl.get('/large')!;
    expect(large.exact).toBe(false);
    expect(Math.abs(large.users - ref.byUrl.get('/large')!.users) / ref.byUrl.get('/large')!.users).toBeLessThan(0.01);
    for (const c of ['FR', 'unknown']) expect(got.byPair.get(pairKey('/large', c))).toEqual(ref.byPair.get(pairKey('/large', c)));
    expect(ref.byPair.get(pairKey('/large', 'DE'))!.users).toBeGreaterThan(9000);
    expect(got.byPair.get(pairKey('/large', 'DE'))!.exact).toBe(false);
  });

  test('plan: whole URLs up to the limit, else their countries up to the limit', () => {
    const scope: UsersScope = { eventsPattern: 'e', from: 0, to: 1, urls: [{ url: '/a', countries: ['FR'] }, { url: '/b', countries: ['FR', 'DE'] }, { url: '/c', countries: ['FR'] }] };
    const est: DistinctUsers = {
      byUrl: new Map([['/a', { users: 10, exact: false }], ['/b', { users: 11, exact: false }]]),
      byPair: new Map([[pairKey('/b', 'FR'), { users: 10, exact: false }], [pairKey('/b', 'DE'), { users: 11, exact: false }]]),
    };
    expect(exactPlan(scope, est, 10)).toEqual({ urls: ['/a'], pairs: [{ url: '/b', country: 'FR' }] });
  });

  test('counter: keys across pages, a user in two countries counted once for the URL', () => {
    const c = new ExactCounter({ urls: ['/a'], pairs: [{ url: '/b', country: 'FR' }] });
    c.add([
      { url: '/a', user: 'u1', country: 'DE' },
      { url: '/a', user: 'u1', country: 'FR' },
    ]);
    c.add([
      { url: '/a', user: 'u2', country: 'FR' },
      { url: '/b', user: 'u1', country: 'FR' },
    ]);
    expect([...c.byUrl]).toEqual([['/a', 2]]);
    expect(Object.fromEntries(c.byPair)).toEqual({ [pairKey('/a', 'DE')]: 1, [pairKey('/a', 'FR')]: 2, [pairKey('/b', 'FR')]: 1 });
  });

  test.each([
    ['fewer than a page', 30, 100, 30],
    ['several pages', 2 * PAGE_SIZE + 5, 3 * PAGE_SIZE, 2 * PAGE_SIZE + 5],
    ['more than the limit: none', PAGE_SIZE + 1, PAGE_SIZE, null],
  ])('countDistinct: %s', async (_name, distinct, limit, want) => {
    const docs: Doc[] = Array.from({ length: distinct * 2 }, (_, i) => ({ url: '/a', visitor_id: `v${String(i % distinct).padStart(6, '0')}`, timestamp: T, is_bot: false }));
    const { search } = fakeEs(docs, (n) => n);
    // The fake's composite keys are (url, user, country): one source here, so fold the same way.
    const one = async (req: estypes.SearchRequest) => {
      const res = await search(req);
      const keys = (res.aggregations as { keys: { buckets: { key: { user: string } }[]; after_key?: { user: string } } }).keys;
      return { ...res, aggregations: { keys: { buckets: keys.buckets.map((b) => ({ key: { v: b.key.user } })), ...(keys.after_key ? { after_key: keys.after_key } : {}) } } } as unknown as estypes.SearchResponse;
    };
    expect(await countDistinct(one, 'e-*', [{ range: { timestamp: { gte: T, lt: T + 1 } } }], 'visitor_id', limit)).toBe(want);
  });
});
