/**
 * Rebuilds Elasticsearch from the Parquet archive (the system of record): the raw-event indices,
 * and, through the live processor's own analytics engine (PartitionEngine, the same code and the
 * same settings), the KPI, URL x country and session documents of a time range.
 *
 * The engine's output is a function of each topic-partition's events in offset order, which the
 * archive keeps (kafka_partition, kafka_offset). What the archive does not keep is how the four
 * topics of a partition interleaved when they were read live; the replay merges them by the
 * gateway's receive time (`received_at`), the order they were produced in. Windows and sessions
 * do not depend on the interleaving; only the classification of an event as late *behind the
 * watermark* can (the one non-deterministic case ARCHITECTURE.md documents): the replay's
 * watermark trails the live one, so such events may land in their window on a replay.
 *
 * The archive is read from a margin before `from` (session gap + largest window + lateness), so
 * that windows and sessions starting in the range are rebuilt from all of their events, and up
 * to a margin after `to` (so those ending after it are as complete as the live run had them).
 * Written: raw events whose time is in [from, to), and KPI / URL windows and sessions that start
 * in [from, to); every document under the live pipeline's id, so it overwrites or recreates it.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../contracts/config.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { eventDocId, eventIndexFor, indexNames } from '../contracts/indices.js';
import { EVENT_TOPICS, TOPIC_BY_TYPE } from '../contracts/topics.js';
import { docVersion, PartitionEngine, type OutDoc, type OutIndex } from './analytics/engine.js';
import { decodeParquet } from './archive/parquet.js';
import type { ObjectStore } from './archive/object-store.js';
import { bulkIndex } from './es-bulk.js';
import { engineOptionsFromConfig } from './main.js';

const HOUR = 3_600_000;

export type ReplaySettings = Pick<
  Config,
  'topicPrefix' | 'esIndexPrefix' | 'kpiTumblingS' | 'kpiSlidingSizeS' | 'kpiSlidingStepS' | 'kpiAllowedLatenessS' | 'sessionGapS' | 'kpiExcludeBots' | 'processorBatchSize'
>;

export interface ReplayOptions {
  store: ObjectStore;
  es: Client;
  config: ReplaySettings;
  fromMs: number;
  toMs: number;
  /** Progress messages. */
  log?: (msg: string) => void;
}

export interface ReplayResult {
  objects: number;
  /** Archived records read (margins included). */
  records: number;
  rawEvents: number;
  kpis: number;
  urlStats: number;
  sessions: number;
  /** Documents Elasticsearch refused (mapping errors); the replay fails if any. */
  rejected: string[];
  seconds: number;
}

export class ReplayError extends Error {}

/** `<topic>-<partition>-<first>-<last>.parquet` at the end of an archive key. */
const OBJECT_NAME = /([^/]+)-(\d+)-(\d+)-(\d+)\.parquet$/;
const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/** The `type=/date=/hour=` folders to read for [fromMs, toMs) (pure). */
export function hourPrefixes(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let h = Math.floor(fromMs / HOUR) * HOUR; h < toMs; h += HOUR) {
    const iso = new Date(h).toISOString();
    for (const type of Object.keys(TOPIC_BY_TYPE)) out.push(`type=${safe(type)}/date=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`);
  }
  return out;
}

/** How far outside [from, to) the archive is read, so the range's windows and sessions are whole. */
export function replayMarginMs(c: Pick<ReplaySettings, 'sessionGapS' | 'kpiTumblingS' | 'kpiSlidingSizeS' | 'kpiAllowedLatenessS'>): number {
  return (c.sessionGapS + Math.max(c.kpiTumblingS, c.kpiSlidingSizeS) + c.kpiAllowedLatenessS) * 1000;
}

interface Rec {
  event: EnrichedEvent;
  offset: number;
  received: number;
}

/**
 * Merges the topics of one partition (each in offset order) by receive time, ties by topic order
 * then offset: a deterministic stand-in for the order the live consumer read them in (pure).
 */
export function mergeByReceived(perTopic: Rec[][]): { t: number; rec: Rec }[] {
  const heads = perTopic.map(() => 0);
  const out: { t: number; rec: Rec }[] = [];
  for (;;) {
    let best = -1;
    for (let t = 0; t < perTopic.length; t++) {
      const r = perTopic[t][heads[t]];
      if (!r) continue;
      if (best < 0 || r.received < perTopic[best][heads[best]].received) best = t;
    }
    if (best < 0) return out;
    out.push({ t: best, rec: perTopic[best][heads[best]++] });
  }
}

export async function replayArchive(o: ReplayOptions): Promise<ReplayResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const c = o.config;
  if (!(o.toMs > o.fromMs)) throw new ReplayError('--to must be after --from');
  const margin = replayMarginMs(c);
  const topics = EVENT_TOPICS.map((t) => c.topicPrefix + t);
  const topicBySafeName = new Map(topics.map((t, i) => [safe(t), i]));

  // Per partition, per topic: offset -> record (an offset archived twice counts once).
  const parts = new Map<number, Map<number, Rec>[]>();
  let objects = 0;
  let records = 0;
  for (const prefix of hourPrefixes(o.fromMs - margin, o.toMs + margin)) {
    for (const key of await o.store.list(prefix)) {
      const m = OBJECT_NAME.exec(key);
      if (!m) continue;
      const t = topicBySafeName.get(m[1]);
      if (t === undefined) continue; // another pipeline's topics (another TOPIC_PREFIX) in the same store
      const body = await o.store.get(key);
      if (!body) continue; // deleted since it was listed (lifecycle rule)
      let rows;
      try {
        rows = await decodeParquet(body);
      } catch (err) {
        throw new ReplayError(`archive object ${key} in ${o.store.description} is not readable Parquet: ${(err as Error).message}`);
      }
      objects++;
      for (const r of rows) {
        let topicsOf = parts.get(r.partition);
        if (!topicsOf) parts.set(r.partition, (topicsOf = topics.map(() => new Map<number, Rec>())));
        const received = Date.parse(r.event.received_at ?? r.event.timestamp);
        topicsOf[t].set(Number(r.offset), { event: r.event, offset: Number(r.offset), received: Number.isFinite(received) ? received : 0 });
        records++;
      }
    }
  }
  log(`read ${records} archived events from ${objects} objects in ${o.store.description}`);

  const inRange = (iso: unknown) => {
    const ms = Date.parse(String(iso));
    return ms >= o.fromMs && ms < o.toMs;
  };
  const names = indexNames(c.esIndexPrefix);
  const indexOf: Record<OutIndex, string> = { kpis: names.kpis, urlStats: names.urlStats, sessions: names.sessions };
  const rejected: string[] = [];
  const counts = { rawEvents: 0, kpis: 0, urlStats: 0, sessions: 0 };
  const batch = Math.max(500, c.processorBatchSize);

  const writeRaw = async (events: EnrichedEvent[]) => {
    const bad = await bulkIndex(o.es, events, (e) => ({ index: eventIndexFor(c.esIndexPrefix, e.received_at), id: eventDocId(e) }));
    for (const r of bad) rejected.push(`event ${r.doc.event_id}: ${r.reason}`);
    counts.rawEvents += events.length - bad.length;
  };
  const writeDocs = async (docs: OutDoc[]) => {
    const mine = docs.filter((d) => inRange(d.index === 'sessions' ? d.doc.start : d.doc.window_start));
    const bad = await bulkIndex(o.es, mine, (d) => ({ index: indexOf[d.index], id: d.id, version: docVersion(d) }), (d) => d.doc);
    for (const r of bad) rejected.push(`${r.doc.index} ${r.doc.id}: ${r.reason}`);
    for (const d of mine) counts[d.index]++;
  };

  for (const [partition, byTopic] of [...parts].sort((a, b) => a[0] - b[0])) {
    const perTopic = byTopic.map((m) => [...m.values()].sort((a, b) => a.offset - b.offset));
    const engine = new PartitionEngine({ ...engineOptionsFromConfig(c), partition, topics });
    // A topic with nothing archived for this partition is idle from the start (as live, once a
    // poll found it at its end); the others count as behind until their last record is in.
    const remaining = perTopic.map((l) => l.length);
    const markIdle = () => {
      for (let t = 0; t < topics.length; t++) {
        const l = perTopic[t];
        if (remaining[t] === 0) engine.setLogOffsets(t, l.length ? l[0].offset : 0, l.length ? l[l.length - 1].offset + 1 : 0);
      }
      engine.pollDone();
    };
    markIdle();
    const pending = new Map<string, OutDoc>();
    let raw: EnrichedEvent[] = [];
    let fed = 0;
    for (const { t, rec } of mergeByReceived(perTopic)) {
      engine.add(rec.event, t, rec.offset);
      remaining[t]--;
      if (inRange(rec.event.timestamp)) raw.push(rec.event);
      if (raw.length >= batch) {
        await writeRaw(raw);
        raw = [];
      }
      // Like the live consumer's poll of end offsets (every second): topics read to their end
      // count as idle at that instant; then what the watermark passed is sealed and written.
      if (++fed % 1000 === 0) {
        markIdle();
        for (const d of engine.drain(false)) pending.set(`${d.index}\u0000${d.id}`, d);
        if (pending.size >= batch) {
          await writeDocs([...pending.values()]);
          pending.clear();
        }
      }
    }
    markIdle();
    // Final documents of what the watermark passed, then the current value of what is still
    // open (final: false), as the live pipeline leaves them after reading the same log.
    for (const d of engine.drain(true)) pending.set(`${d.index}\u0000${d.id}`, d);
    await writeRaw(raw);
    await writeDocs([...pending.values()]);
    log(`partition ${partition}: replayed ${perTopic.reduce((n, l) => n + l.length, 0)} events`);
  }
  if (rejected.length) throw new ReplayError(`Elasticsearch refused ${rejected.length} documents: ${rejected.slice(0, 5).join('; ')}`);
  return { objects, records, ...counts, rejected, seconds: (Date.now() - t0) / 1000 };
}
