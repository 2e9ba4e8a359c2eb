/**
 * Distinct users over any range, per URL and per URL x country, from the raw events (bots left
 * out): the URL-stats documents hold each window's distinct users, and a user active in several
 * windows must count once (contracts/documents.ts DISTINCT_USERS).
 *
 * Two steps. First an estimate per URL and per URL x country (Elasticsearch `cardinality`, one
 * search). Then every URL, and every URL x country of a larger URL, whose estimate is at most
 * DISTINCT_USERS.exactUpTo is counted exactly by paging a `composite` aggregation over
 * (url, visitor_id, country): each key is one distinct (URL, user, country), sorted, so a URL's
 * distinct users are the changes of (url, visitor_id) and a pair's are its keys. Larger counts
 * keep the estimate. Pure: the searches go through the function the caller passes.
 */
import type { estypes } from '@elastic/elasticsearch';
import { DISTINCT_USERS, MISSING_VALUE } from '../contracts/documents.js';
import type { Range } from './params.js';
import { notBot } from './overview-query.js';
import { common, rangeFilter, term } from './search-parts.js';

export interface UsersScope extends Range {
  /** Index pattern of the raw events. */
  eventsPattern: string;
  /** The URLs to count, and for each the countries to count. */
  urls: { url: string; countries: string[] }[];
  /** Only this country's events (the URL table's `country` filter). */
  country?: string;
}

export interface DistinctCount {
  users: number;
  /** False: Elasticsearch's HyperLogLog++ estimate (above DISTINCT_USERS.exactUpTo). */
  exact: boolean;
}

export interface DistinctUsers {
  byUrl: Map<string, DistinctCount>;
  /** Keyed by pairKey(url, country). */
  byPair: Map<string, DistinctCount>;
}

export type Search = (req: estypes.SearchRequest) => Promise<estypes.SearchResponse>;

export const pairKey = (url: string, country: string): string => `${url}\u0000${country}`;
/** Keys of one composite page: at most Elasticsearch's default search.max_buckets (65,536). */
export const PAGE_SIZE = 10_000;

const countryFilter = (country: string): estypes.QueryDslQueryContainer =>
  country === MISSING_VALUE ? { bool: { should: [term('country', MISSING_VALUE), { bool: { must_not: [{ exists: { field: 'country' } }] } }], minimum_should_match: 1 } } : term('country', country);

function baseFilter(s: UsersScope): estypes.QueryDslQueryContainer[] {
  return [rangeFilter('timestamp', s), notBot, ...(s.country ? [countryFilter(s.country)] : [])];
}

/** Step one: the estimates of every URL and of its countries. */
export function estimateSearch(s: UsersScope): estypes.SearchRequest {
  const countries = [...new Set(s.urls.flatMap((u) => u.countries))];
  return {
    index: s.eventsPattern,
    ...common,
    size: 0,
    query: { bool: { filter: [...baseFilter(s), { terms: { url: s.urls.map((u) => u.url) } }] } },
    aggs: {
      urls: {
        terms: { field: 'url', size: Math.max(1, s.urls.length) },
        aggs: {
          users: { cardinality: { field: 'visitor_id', precision_threshold: DISTINCT_USERS.precisionThreshold } },
          countries: {
            terms: { field: 'country', missing: MISSING_VALUE, include: countries, size: Math.max(1, countries.length) },
            aggs: { users: { cardinality: { field: 'visitor_id', precision_threshold: DISTINCT_USERS.precisionThreshold } } },
          },
        },
      },
    },
  };
}

interface EstimateAggs {
  urls: { buckets: { key: string; users: { value: number }; countries: { buckets: { key: string; users: { value: number } }[] } }[] };
}

/** The estimates of step one, as inexact counts (URLs and pairs with no event: absent). */
export function estimates(res: estypes.SearchResponse): DistinctUsers {
  const a = res.aggregations as EstimateAggs | undefined;
  const out: DistinctUsers = { byUrl: new Map(), byPair: new Map() };
  for (const u of a?.urls.buckets ?? []) {
    out.byUrl.set(u.key, { users: u.users.value, exact: false });
    for (const c of u.countries.buckets) out.byPair.set(pairKey(u.key, c.key), { users: c.users.value, exact: false });
  }
  return out;
}

export interface ExactPlan {
  /** Counted exactly with every country (their pairs too). */
  urls: string[];
  /** Pairs of the other URLs counted exactly. */
  pairs: { url: string; country: string }[];
}

/** Which counts of step one are small enough to count exactly. */
export function exactPlan(s: UsersScope, est: DistinctUsers, exactUpTo: number = DISTINCT_USERS.exactUpTo): ExactPlan {
  const plan: ExactPlan = { urls: [], pairs: [] };
  for (const u of s.urls) {
    const e = est.byUrl.get(u.url);
    if (!e) continue;
    if (e.users <= exactUpTo) plan.urls.push(u.url);
    else for (const c of u.countries) if ((est.byPair.get(pairKey(u.url, c))?.users ?? exactUpTo + 1) <= exactUpTo) plan.pairs.push({ url: u.url, country: c });
  }
  return plan;
}

/** Step two: one page of the distinct (url, visitor_id, country) keys the plan counts. */
export function exactSearch(s: UsersScope, plan: ExactPlan, after?: Record<string, string | null>): estypes.SearchRequest {
  const should: estypes.QueryDslQueryContainer[] = [];
  if (plan.urls.length) should.push({ terms: { url: plan.urls } });
  for (const p of plan.pairs) should.push({ bool: { filter: [term('url', p.url), countryFilter(p.country)] } });
  return {
    index: s.eventsPattern,
    ...common,
    size: 0,
    query: { bool: { filter: [...baseFilter(s), { bool: { should, minimum_should_match: 1 } }] } },
    aggs: {
      keys: {
        composite: {
          size: PAGE_SIZE,
          sources: [{ url: { terms: { field: 'url' } } }, { user: { terms: { field: 'visitor_id' } } }, { country: { terms: { field: 'country', missing_bucket: true } } }],
          ...(after ? { after } : {}),
        },
      },
    },
  };
}

type Key = { url: string; user: string; country: string | null };

/** Exact counts folded over the pages of step two, in key order. */
export class ExactCounter {
  readonly byUrl = new Map<string, number>();
  readonly byPair = new Map<string, number>();
  private last: { url: string; user: string } | null = null;
  private readonly lastPairUser = new Map<string, string>();

  constructor(private readonly plan: ExactPlan) {}

  /** Called with each page's keys, pages in order. */
  add(keys: Key[]): void {
    const whole = new Set(this.plan.urls);
    for (const k of keys) {
      const country = k.country ?? MISSING_VALUE;
      if (whole.has(k.url) && !(this.last && this.last.url === k.url && this.last.user === k.user)) this.byUrl.set(k.url, (this.byUrl.get(k.url) ?? 0) + 1);
      this.last = { url: k.url, user: k.user };
      // A missing country and a stored `unknown` are one value for the URL stats: count the user once.
      const pk = pairKey(k.url, country);
      if (country === MISSING_VALUE && this.lastPairUser.get(pk) === k.user) continue;
      this.lastPairUser.set(pk, k.user);
      this.byPair.set(pk, (this.byPair.get(pk) ?? 0) + 1);
    }
  }
}

/** Both steps: distinct users of every URL and pair of the scope (absent: no event in range). */
export async function distinctUsers(search: Search, s: UsersScope, exactUpTo: number = DISTINCT_USERS.exactUpTo): Promise<DistinctUsers> {
  if (!s.urls.length) return { byUrl: new Map(), byPair: new Map() };
  const out = estimates(await search(estimateSearch(s)));
  const plan = exactPlan(s, out, exactUpTo);
  if (!plan.urls.length && !plan.pairs.length) return out;
  const counter = new ExactCounter(plan);
  let after: Record<string, string | null> | undefined;
  for (;;) {
    const res = await search(exactSearch(s, plan, after));
    const agg = (res.aggregations as { keys?: { buckets: { key: Key }[]; after_key?: Record<string, string | null> } } | undefined)?.keys;
    const buckets = agg?.buckets ?? [];
    counter.add(buckets.map((b) => b.key));
    if (buckets.length < PAGE_SIZE || !agg?.after_key) break;
    after = agg.after_key;
  }
  for (const url of plan.urls) {
    out.byUrl.set(url, { users: counter.byUrl.get(url) ?? 0, exact: true });
    for (const c of s.urls.find((u) => u.url === url)?.countries ?? []) {
      const n = counter.byPair.get(pairKey(url, c));
      if (n) out.byPair.set(pairKey(url, c), { users: n, exact: true });
    }
  }
  for (const p of plan.pairs) {
    const n = counter.byPair.get(pairKey(p.url, p.country));
    if (n) out.byPair.set(pairKey(p.url, p.country), { users: n, exact: true });
  }
  return out;
}

/**
 * Exact distinct values of `field` among the documents `filter` selects, by paging a composite
 * aggregation; null when there are more than `exactUpTo` (the caller keeps its estimate). Called
 * when an estimate is at most `exactUpTo`.
 */
export async function countDistinct(search: Search, index: string, filter: estypes.QueryDslQueryContainer[], field: string, exactUpTo: number = DISTINCT_USERS.exactUpTo): Promise<number | null> {
  let n = 0;
  let after: Record<string, string> | undefined;
  for (;;) {
    const res = await search({
      index,
      ...common,
      size: 0,
      query: { bool: { filter } },
      aggs: { keys: { composite: { size: PAGE_SIZE, sources: [{ v: { terms: { field } } }], ...(after ? { after } : {}) } } },
    });
    const agg = (res.aggregations as { keys?: { buckets: unknown[]; after_key?: Record<string, string> } } | undefined)?.keys;
    n += agg?.buckets.length ?? 0;
    if (n > exactUpTo) return null;
    if (!agg || agg.buckets.length < PAGE_SIZE || !agg.after_key) return n;
    after = agg.after_key;
  }
}
