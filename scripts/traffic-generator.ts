/**
 * Synthetic shoppers for the demo and the benchmarks: visitors land on a page, browse product
 * pages, click, add to cart and sometimes buy. Deterministic for a given seed, so a benchmark
 * can replay the same traffic. Events are posted in batches to the gateway like the SDK does.
 */
import type { ClientEvent } from '../contracts/event-schema.js';
import { seededRandom } from '../processor/anomaly/stats.js';
import { purchasesStopped, scenarioVisits, type DemoScenario } from './demo-scenarios.js';

export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];

/** Public addresses in several countries (documentation and well-known resolver ranges). */
export const CLIENT_IPS = ['81.2.69.142', '8.8.8.8', '193.51.208.14', '202.12.27.33', '2001:4860:4860::8888', '177.71.128.1', '91.198.174.192'];

const PRODUCTS = [
  { id: 'mug', name: 'Enamel mug', price: 12.5 },
  { id: 'tee', name: 'Logo T-shirt', price: 24 },
  { id: 'cap', name: 'Baseball cap', price: 18 },
  { id: 'socks', name: 'Striped socks', price: 9.5 },
  { id: 'bag', name: 'Tote bag', price: 15 },
];
const REFERRERS = ['', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://t.co/abc', 'https://shop.example/'];

/** Small fast PRNG (mulberry32): reproducible traffic for a seed (the anomaly models' seeded generator). */
export const rng = seededRandom;

export interface Visit {
  ua: string;
  ip: string;
  events: ClientEvent[];
}

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');

/** One visit: a session of page views, clicks, maybe a cart and maybe a purchase. */
export function makeVisit(r: () => number, startMs: number, base = 'https://shop.example'): Visit {
  const visitor = `v-${hex(r, 16)}`;
  const session = `s-${hex(r, 16)}`;
  const ua = USER_AGENTS[Math.floor(r() * USER_AGENTS.length)];
  const ip = CLIENT_IPS[Math.floor(r() * CLIENT_IPS.length)];
  const events: ClientEvent[] = [];
  let t = startMs;
  const common = () => ({ event_id: hex(r, 24), ts: t, visitor_id: visitor, session_id: session });
  let referrer = REFERRERS[Math.floor(r() * REFERRERS.length)];
  const pages = 1 + Math.floor(r() * 5);
  const cart: { product_id: string; price: number; quantity: number }[] = [];
  for (let i = 0; i < pages; i++) {
    const p = PRODUCTS[Math.floor(r() * PRODUCTS.length)];
    const url = i === 0 && r() < 0.3 ? `${base}/` : `${base}/products/${p.id}`;
    events.push({ ...common(), type: 'page_view', url, referrer, title: p.name });
    referrer = url;
    t += 2000 + Math.floor(r() * 30_000);
    if (r() < 0.6) {
      events.push({ ...common(), type: 'click', url, element: r() < 0.5 ? 'a.product-link' : 'button.details' });
      t += 500 + Math.floor(r() * 5000);
    }
    if (r() < 0.25) {
      const quantity = 1 + Math.floor(r() * 3);
      events.push({ ...common(), type: 'add_to_cart', url, product_id: p.id, product_name: p.name, price: p.price, quantity, currency: 'EUR' });
      cart.push({ product_id: p.id, price: p.price, quantity });
      t += 1000 + Math.floor(r() * 10_000);
    }
  }
  if (cart.length && r() < 0.4) {
    const revenue = Math.round(cart.reduce((s, i) => s + i.price * i.quantity, 0) * 100) / 100;
    events.push({ ...common(), type: 'purchase', url: `${base}/checkout/thank-you`, order_id: `o-${hex(r, 12)}`, revenue, currency: 'EUR', items: cart });
  }
  return { ua, ip, events };
}

export interface TrafficOptions {
  endpoint: string;
  /** Events per second, approximately. */
  rate: number;
  seed?: number;
  site?: string;
  signal?: AbortSignal;
  onBatch?: (status: number, events: number) => void;
  /** Labelled anomalies injected into the traffic (scripts/demo-scenarios.ts). */
  scenarios?: readonly DemoScenario[];
  /** How often each injected scenario repeats, ms (the first 60 s after the start). */
  scenarioEveryMs?: number;
  /** Called when a scenario is injected, with what it should raise. */
  onScenario?: (scenario: DemoScenario, expect: string) => void;
}

interface ActiveVisit {
  visit: Visit;
  next: number;
}

const TICK_MS = 250;

/**
 * Posts visits to the gateway until the signal aborts, in real time: many visits run at once,
 * and each event is sent when its moment comes (a visit lasts a minute or two, as in a browser),
 * so event times arrive in order, as from real browsers, and nothing looks late to the processor.
 */
export async function runTraffic(opts: TrafficOptions): Promise<{ sent: number; failed: number }> {
  const r = rng(opts.seed ?? Date.now());
  const url = opts.site ? `${opts.endpoint}?site=${encodeURIComponent(opts.site)}` : opts.endpoint;
  const active: ActiveVisit[] = [];
  let sent = 0;
  let failed = 0;
  let owed = 0; // events the rate asks for that no visit has been started for yet
  const startedAt = Date.now();
  const injected = (opts.scenarios ?? []).filter((s) => s !== 'purchases-stop') as Exclude<DemoScenario, 'purchases-stop'>[];
  const stopBuying = opts.scenarios?.includes('purchases-stop') ?? false;
  const every = opts.scenarioEveryMs ?? 120_000;
  let nextScenario = startedAt + 60_000;
  let injections = 0;
  let announcedStop = false;

  const post = async (visit: Visit, events: ClientEvent[]) => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': visit.ua, 'x-forwarded-for': visit.ip },
        body: JSON.stringify({ sent_at: Date.now(), events }),
        signal: opts.signal,
      });
      opts.onBatch?.(res.status, events.length);
      if (res.ok) sent += events.length;
      else failed += events.length;
    } catch {
      if (!opts.signal?.aborted) failed += events.length;
    }
  };

  while (!opts.signal?.aborted) {
    const now = Date.now();
    owed += (opts.rate * TICK_MS) / 1000;
    const stopped = stopBuying && purchasesStopped(startedAt, now);
    if (stopped !== announcedStop) {
      announcedStop = stopped;
      opts.onScenario?.('purchases-stop', stopped ? 'purchases stop for 15 minutes: purchases_stopped for site-level windows two to three ANOMALY_SITE_STEP_S in' : 'purchases resume');
    }
    while (owed > 0) {
      const visit = makeVisit(r, now);
      if (stopped) visit.events = visit.events.filter((e) => e.type !== 'purchase');
      owed -= visit.events.length;
      active.push({ visit, next: 0 });
    }
    if (injected.length && now >= nextScenario) {
      nextScenario = now + every;
      const n = injections++;
      for (const s of injected) {
        for (const v of scenarioVisits(s, now, n)) {
          if (v.expect) opts.onScenario?.(s, v.expect);
          active.push({ visit: v, next: 0 });
        }
      }
    }
    const posts: Promise<void>[] = [];
    for (let i = active.length - 1; i >= 0; i--) {
      const a = active[i];
      const due: ClientEvent[] = [];
      while (a.next < a.visit.events.length && a.visit.events[a.next].ts <= now) due.push(a.visit.events[a.next++]);
      if (due.length) posts.push(post(a.visit, due));
      if (a.next >= a.visit.events.length) active.splice(i, 1);
    }
    await Promise.all(posts);
    const wait = TICK_MS - (Date.now() - now);
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
  return { sent, failed };
}
