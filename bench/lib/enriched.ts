import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { anonymiseIp, unmapIPv4 } from '../../gateway/anonymise-ip.js';
import { enrichEvent, type RequestContext } from '../../gateway/enrich.js';
import { geoipLiteProvider } from '../../gateway/geo.js';
import { cachedUserAgentParser } from '../../gateway/user-agent.js';
import { bodyPool } from './bodies.js';

/**
 * Enriched events as the gateway would write them, without end (the traffic generator's
 * shoppers, the gateway's own enrichment: UA parser, geoip-lite, anonymised IP): one request's
 * context per batch of 20, received at `simulatedRate` events/s from `start` (epoch ms); the
 * batches repeat after `poolSize` (only event ids differ), as in bench:processor's live traffic.
 */
export function* enrichedStream(simulatedRate: number, tag: string, start: number, poolSize = 2000, seed = 7): Generator<EnrichedEvent> {
  const pool = bodyPool({ size: poolSize, eventsPerBody: 20, seed, tag });
  const parseUa = cachedUserAgentParser();
  const geo = geoipLiteProvider();
  for (let k = 0; ; k++) {
    const b = pool.events(k);
    const ip = unmapIPv4(b.ip);
    const receivedAt = start + Math.floor((k * 20 * 1000) / simulatedRate);
    const ctx: RequestContext = { ua: parseUa(b.ua), geo: geo.lookup(ip), ip: anonymiseIp(ip), siteId: 'bench', receivedAt, sentAt: b.sentAt };
    for (const ev of b.events) yield enrichEvent(ev, ctx);
  }
}

/**
 * N enriched events of `enrichedStream`, received ending 10 s ago. `kpiCounted` is how many a
 * KPI window counts (no bots, no engagement reports).
 */
export function enrichedEvents(n: number, simulatedRate: number, tag: string, poolSize = 2000): { docs: EnrichedEvent[]; kpiCounted: number } {
  const docs: EnrichedEvent[] = [];
  const start = Date.now() - Math.ceil((n / simulatedRate) * 1000) - 10_000;
  let kpiCounted = 0;
  for (const doc of enrichedStream(simulatedRate, tag, start, poolSize)) {
    if (docs.length >= n) break;
    docs.push(doc);
    if (!doc.is_bot && !(doc.event_type === 'page_view' && doc.engagement_ms !== null)) kpiCounted++;
  }
  return { docs, kpiCounted };
}
