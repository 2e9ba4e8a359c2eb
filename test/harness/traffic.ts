/**
 * A seeded, deterministic generator of enriched events for the processor's tests: shoppers with
 * sessions of page views, clicks, engagement reports, carts and purchases, spread over sites,
 * countries and devices; events arrive a little out of order, and a few arrive far too late.
 * Used by the unit tests (fed straight into the engine) and by the integration tests (produced
 * to Kafka the way the gateway does: topic per type, keyed by visitor).
 */
import { ENRICHED_FIELDS, type EnrichedEvent, type EventType } from '../../contracts/event-schema.js';

// One seeded PRNG for every generator of test traffic (mulberry32, in the synthetic shoppers).
import { rng } from '../../scripts/traffic-generator.js';
export { rng };

export interface TrafficOptions {
  seed: number;
  visitors: number;
  /** Event time of the first session start, epoch ms. */
  startMs: number;
  /** Sessions start within this span. */
  spanMs: number;
  /** Largest arrival delay of an ordinary event (its disorder), ms. */
  maxDelayMs?: number;
  /** Share of events that arrive much too late (beyond any allowed lateness). */
  lateShare?: number;
  /** How late those are, ms. */
  lateByMs?: number;
  /** Share of visitors that are bots (is_bot true, device_type unknown). */
  botShare?: number;
  /** Sessions per visitor (1 to this). */
  maxSessions?: number;
}

export interface GeneratedEvent {
  event: EnrichedEvent;
  /** When the event reaches Kafka (its order in the log), epoch ms. */
  arrival: number;
}

const SITES = ['shop', 'blog', 'docs'];
const COUNTRIES = ['FR', 'DE', 'US', 'JP', null];
const DEVICES = ['desktop', 'mobile', 'tablet'];
const PAGES = ['/', '/products', '/products/mug', '/products/tea', '/cart', '/checkout', '/about'];

const EMPTY = Object.fromEntries(Object.keys(ENRICHED_FIELDS).map((k) => [k, null])) as unknown as EnrichedEvent;

/** An enriched event with every field present (null where the test does not care). */
export function enriched(over: Partial<EnrichedEvent> & Pick<EnrichedEvent, 'event_id' | 'event_type' | 'timestamp' | 'visitor_id' | 'session_id' | 'url'>): EnrichedEvent {
  return {
    ...EMPTY,
    schema_version: 1,
    client_ts: over.timestamp,
    received_at: over.timestamp,
    referrer_type: 'direct',
    device_type: 'desktop',
    is_bot: false,
    ...over,
  } as EnrichedEvent;
}

/** Generated events in arrival order. */
export function generateTraffic(o: TrafficOptions): GeneratedEvent[] {
  const r = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const maxDelay = o.maxDelayMs ?? 5_000;
  const lateShare = o.lateShare ?? 0;
  const lateBy = o.lateByMs ?? 10 * 60_000;
  const out: GeneratedEvent[] = [];
  let seq = 0;
  for (let v = 0; v < o.visitors; v++) {
    const visitor = `vis-${o.seed}-${v}`;
    const site = pick(SITES);
    const country = pick(COUNTRIES);
    const bot = r() < (o.botShare ?? 0);
    // Bots here claim no device: the gateway's rule gives them `unknown`.
    const device = bot ? 'unknown' : pick(DEVICES);
    const sessions = 1 + Math.floor(r() * (o.maxSessions ?? 2));
    let t = o.startMs + Math.floor(r() * o.spanMs);
    for (let s = 0; s < sessions; s++) {
      const session = `ses-${o.seed}-${v}-${s}`;
      const push = (type: EventType, url: string, extra: Partial<EnrichedEvent> = {}) => {
        const ts = t;
        const late = r() < lateShare;
        const arrival = ts + (late ? lateBy + Math.floor(r() * 1000) : Math.floor(r() * maxDelay));
        const event = enriched({
          event_id: `e${o.seed}-${(seq++).toString(36).padStart(6, '0')}`,
          event_type: type,
          timestamp: new Date(ts).toISOString(),
          visitor_id: visitor,
          session_id: session,
          site_id: site,
          url: `https://${site}.example${url}`,
          url_host: `${site}.example`,
          url_path: url,
          country,
          device_type: device,
          is_bot: bot,
          ...extra,
        });
        out.push({ event, arrival });
      };
      const views = 1 + Math.floor(r() * 6);
      let page = pick(PAGES);
      for (let i = 0; i < views; i++) {
        page = pick(PAGES);
        push('page_view', page);
        t += 500 + Math.floor(r() * 40_000);
        const clicks = Math.floor(r() * 3);
        for (let c = 0; c < clicks; c++) {
          push('click', page, { element: `button#b${c}` });
          t += 200 + Math.floor(r() * 15_000);
        }
        if (r() < 0.25) {
          push('add_to_cart', page, { product_id: `sku-${Math.floor(r() * 5)}`, price: 9.99, quantity: 1 + Math.floor(r() * 3), currency: 'EUR' });
          t += 1000 + Math.floor(r() * 10_000);
        }
      }
      if (r() < 0.3) {
        // Two currencies, so every exactness test also checks that revenue is kept per currency.
        push('purchase', '/checkout', { order_id: `o-${seq}`, revenue: Math.round(r() * 20000) / 100, currency: seq % 4 === 0 ? 'JPY' : 'EUR' });
        t += 1000;
      }
      if (r() < 0.5) push('page_view', page, { engagement_ms: 1000 + Math.floor(r() * 30_000) });
      // The SDK starts a new session after 30 minutes without an event.
      t += 31 * 60_000 + Math.floor(r() * 10 * 60_000);
    }
  }
  out.sort((a, b) => a.arrival - b.arrival || (a.event.event_id < b.event.event_id ? -1 : 1));
  return out;
}
