/**
 * KPI freshness traced event by event (KPI_TRACE_SITE_PREFIX): the events of sites whose id starts
 * with the prefix (synthetic probes, a canary site) are followed through the analytics role, and
 * once the bulk carrying their site's tumbling KPI document is acknowledged, each is reported with
 * the wall-clock time of every step. Where a KPI's freshness goes, measured on the live path rather
 * than guessed from averages; `bench:processor` joins these with its own send and search times.
 */
import type { OutDoc } from '../analytics/engine-options.js';

/** One traced event's way through the analytics role (wall-clock ms, Date.now()). */
export interface KpiTrace {
  site: string;
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
  /** When the Kafka adapter handed over the record's batch (undefined: not told). */
  fetchedAt?: number;
  /** Handed to the engine: counted in its open windows. */
  consumedAt: number;
  /** First put in a KPI bulk (by the KPI timer or a flush) after it was counted. */
  emittedAt?: number;
  /** That bulk sent to Elasticsearch (after the KPI bulks queued before it). */
  sentAt?: number;
  /** That bulk acknowledged by Elasticsearch. */
  ackedAt?: number;
}

export interface KpiTracer {
  /** Called for every event handed to the engine. */
  consumed(site: string, eventId: string, pos: { topic: string; partition: number; offset: string; fetchedAt?: number }): void;
  /** Called with the documents of a KPI bulk as it is queued; returns the traces it carries, if any. */
  emitted(docs: readonly OutDoc[]): KpiTrace[] | null;
  /** Called when that bulk is sent. */
  sent(traces: KpiTrace[] | null): void;
  /** Called when that bulk is acknowledged: the traces are reported and forgotten. */
  acked(traces: KpiTrace[] | null): void;
  /** Drops what a revoked partition traced (its new owner counts the events again). */
  revoke(partition: number): void;
}

/**
 * Most traced events waiting for their document at once: a traced event never emitted (a bot, late
 * or repeated) is dropped oldest first instead of being held for ever.
 */
const MAX_PENDING = 10_000;

export function kpiTracer(prefix: string, tumblingKind: string, report: (t: KpiTrace) => void, now: () => number = Date.now): KpiTracer | null {
  if (prefix === '') return null;
  /** `<partition>|<site>` -> the traced events counted and not yet emitted (insertion order: oldest first). */
  const waiting = new Map<string, KpiTrace[]>();
  let count = 0;
  return {
    consumed(site, eventId, pos) {
      if (!site.startsWith(prefix)) return;
      const k = `${pos.partition}|${site}`;
      const t: KpiTrace = { site, eventId, topic: pos.topic, partition: pos.partition, offset: pos.offset, fetchedAt: pos.fetchedAt, consumedAt: now() };
      const list = waiting.get(k);
      if (list) list.push(t);
      else waiting.set(k, [t]);
      if (++count > MAX_PENDING) {
        const [oldest, l] = waiting.entries().next().value as [string, KpiTrace[]];
        count -= l.length;
        waiting.delete(oldest);
      }
    },
    emitted(docs) {
      if (count === 0) return null;
      let out: KpiTrace[] | null = null;
      const at = now();
      for (const d of docs) {
        if (d.index !== 'kpis' || d.doc.dimension !== 'site' || d.doc.window_kind !== tumblingKind) continue;
        const k = `${d.doc.partition}|${d.doc.dimension_value}`;
        const list = waiting.get(k);
        if (!list) continue;
        waiting.delete(k);
        count -= list.length;
        for (const t of list) t.emittedAt = at;
        (out ??= []).push(...list);
      }
      return out;
    },
    sent(traces) {
      if (!traces) return;
      const at = now();
      for (const t of traces) t.sentAt = at;
    },
    acked(traces) {
      if (!traces) return;
      const at = now();
      for (const t of traces) {
        t.ackedAt = at;
        report(t);
      }
    },
    revoke(partition) {
      for (const [k, list] of waiting) {
        if (list[0].partition !== partition) continue;
        waiting.delete(k);
        count -= list.length;
      }
    },
  };
}
