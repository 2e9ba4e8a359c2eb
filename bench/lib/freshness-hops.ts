/**
 * A probe's way, hop by hop: its send and search times (lib/freshness-watch.ts) joined with the
 * analytics role's trace of it (KPI_TRACE_SITE_PREFIX, processor/sinks/kpi-trace.ts).
 */
import { readFileSync } from 'node:fs';
import type { KpiTrace } from '../../processor/sinks/kpi-trace.js';
import type { Sighting } from './freshness-watch.js';

/**
 * Request sent -> gateway answered 200 (Kafka acknowledged it) -> its batch handed over by the
 * analytics role's Kafka client -> counted by the engine -> put in a KPI bulk -> that bulk sent ->
 * acknowledged by Elasticsearch -> its document visible to a search (after a refresh) or read by
 * id in real time (the live dashboard's read of a window that may still change).
 */
export const HOPS = [
  { key: 'gateway', label: 'gateway (sent -> acked)' },
  { key: 'fetch', label: 'Kafka fetch (acked -> handed over)' },
  { key: 'lock', label: 'role queue (handed over -> counted)' },
  { key: 'emit', label: 'emit wait (counted -> in a KPI bulk)' },
  { key: 'queue', label: 'KPI bulk queue (-> sent)' },
  { key: 'bulk', label: 'ES bulk (sent -> acked)' },
  { key: 'refresh', label: 'search: refresh + poll (ES acked -> visible)' },
  // Not a hop of its own: the part of the last one that may be the search loop's (its cycle and round trip).
  { key: 'poll', label: '  of which the poll, at most' },
  // Instead of the refresh: the live dashboard's real-time read by id.
  { key: 'read', label: 'dashboard: read by id + poll (ES acked -> read)' },
] as const;
export type HopKey = (typeof HOPS)[number]['key'];
/** Per hop: the probes' times in it (ms). */
export type Hops = Record<HopKey, number[]>;

type Traced = { fetched: number; consumed: number; emitted: number; sent: number; acked: number };

/** Per probe site: the analytics role's trace of it, in this process's performance.now() time. */
export function readTraces(logFile: string, tag: string): Map<string, Traced> {
  const out = new Map<string, Traced>();
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  const origin = performance.timeOrigin;
  for (const line of text.split('\n')) {
    if (!line.includes('"kpiTrace"') || !line.includes(tag)) continue;
    const t = (JSON.parse(line) as { kpiTrace: KpiTrace }).kpiTrace;
    if (!t.site.startsWith(tag) || out.has(t.site)) continue;
    out.set(t.site, { fetched: (t.fetchedAt ?? NaN) - origin, consumed: t.consumedAt - origin, emitted: (t.emittedAt ?? NaN) - origin, sent: (t.sentAt ?? NaN) - origin, acked: (t.ackedAt ?? NaN) - origin });
  }
  return out;
}

/** Each hop's time for every probe that has both ends of it. */
export function probeHops(probes: Iterable<string>, startedAt: Map<string, number>, ackedAt: Map<string, number>, traces: Map<string, Traced>, seen: Map<string, Sighting>, got: Map<string, Sighting> = new Map()): Hops {
  const sites = [...probes];
  const at = (key: keyof Traced) => (site: string) => traces.get(site)?.[key];
  const hop = (from: (site: string) => number | undefined, to: (site: string) => number | undefined) => {
    const d: number[] = [];
    for (const site of sites) {
      const a = from(site);
      const b = to(site);
      if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b)) d.push(Math.max(0, b - a));
    }
    return d;
  };
  const visible = (x: string) => seen.get(x)?.at;
  return {
    gateway: hop((x) => startedAt.get(x), (x) => ackedAt.get(x)),
    fetch: hop((x) => ackedAt.get(x), at('fetched')),
    lock: hop(at('fetched'), at('consumed')),
    emit: hop(at('consumed'), at('emitted')),
    queue: hop(at('emitted'), at('sent')),
    bulk: hop(at('sent'), at('acked')),
    refresh: hop(at('acked'), visible),
    // The document became visible after the last search that missed it was sent (and after its bulk's ack).
    poll: hop((x) => {
      const s = seen.get(x);
      const acked = at('acked')(x);
      return s && Math.max(s.since, Number.isFinite(acked) ? acked! : -Infinity);
    }, visible),
    read: hop(at('acked'), (x) => got.get(x)?.at),
  };
}
