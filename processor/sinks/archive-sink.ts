/**
 * The Parquet archive: every enriched event, once, in objects named by where they came from.
 *
 *   type=<event_type>/date=YYYY-MM-DD/hour=HH/<topic>-<partition>-<firstOffset>-<lastOffset>.parquet
 *
 * A "chunk" is a run of consecutive offsets of one topic-partition. Its events are split by
 * event type and by the UTC hour of their event time, one object per (type, date, hour); all
 * objects of a chunk carry the chunk's offset range in their name.
 *
 * Boundaries come from the data: a chunk is cut when it spans ARCHIVE_MAX_EVENTS offsets. To
 * bound how stale the archive gets, a chunk older than ARCHIVE_MAX_AGE_S (wall clock) is also
 * cut at the next flush; that boundary depends on timing, so it is recorded before any object
 * of the chunk is written, in a small manifest `_chunks/<topic>/<partition>/<firstOffset>.json`
 * ({first, last, objects}). Whenever a chunk starts at offset a (always, not only after a
 * restart) the manifest for a is read before the chunk is cut (at the next flush: `add` does no
 * I/O): if one exists, a chunk starting at a was cut before (and possibly written, wholly or in
 * part, before a crash), so the new chunk takes its boundary and rewrites the same objects with
 * the same rows. A replay after a crash therefore
 * never produces an object that overlaps another one. The manifest is created only if absent
 * (`ObjectStore.create`, S3 If-None-Match: *): during a rebalance two owners of a partition can
 * both find no manifest and cut the chunk at different places; the first create wins and the
 * other owner re-plans its unwritten rows to that boundary. Manifests are deleted once a commit
 * records that their chunk is archived.
 *
 * Memory: the events of open chunks are held until they are written. To bound that at high rates,
 * once the open chunks of all topic-partitions together hold `maxBufferBytes` of event JSON (about
 * as much heap), the next flush also cuts the largest of them until they hold at most half of it.
 * Like the age cut, that boundary depends on timing and is recorded in the manifest.
 *
 * Records on Kafka twice (a send Kafka stored although the gateway answered 503, retried by the
 * client under the same id) are archived once: a record whose site and event id were seen at most
 * `repeatHorizon` offsets before it in its topic-partition is dropped (first offset wins;
 * `RecentCounts`). Chunk boundaries are offsets, so a dropped record moves none.
 *
 * Commits: the sink's committableOffset is `repeatHorizon` offsets before the first offset not
 * yet archived (the first of the oldest chunk not yet written, else the next offset to come), so
 * a restart reads the records a repeat decision needs again; its checkpoint (in the commit's
 * metadata) is that first offset not archived: a restart only feeds the records before it to the
 * repeat window and skips them, even when another sink makes it replay from further back. So a
 * replay drops the same records and writes the same objects.
 */
import type { Logger } from 'pino';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { topicPartitionKey } from '../../common/topic-partition.js';
import { encodeParquet, type ArchivedEvent } from '../archive/parquet.js';
import type { ObjectStore } from '../archive/object-store.js';
import type { PartitionedSink, SourcePosition } from '../sink.js';
import { RecentCounts } from '../analytics/recent-counts.js';
import { repeatKey } from '../analytics/repeat-key.js';

export interface ArchiveSinkOptions {
  store: ObjectStore;
  maxEvents: number;
  maxAgeMs: number;
  /** Bytes of event JSON the open chunks of every topic-partition may hold together before the largest are cut at the next flush (0: no limit). */
  maxBufferBytes?: number;
  /** Offsets of one topic-partition within which a repeated site and event id is dropped (0: never). */
  repeatHorizon: number;
  /** Called with each record dropped as a repeat (not for records before the checkpoint). */
  onRepeat?: (count: number) => void;
  onWrite?: (seconds: number, bytes: number) => void;
  log?: Logger;
  now?: () => number;
}

interface Chunk {
  first: bigint;
  last: bigint;
  /** The last offset in the chunk's name: the last event's, or the manifest's when adopted. */
  nameLast: bigint | null;
  /** From an existing manifest: the chunk must end exactly there. */
  forcedLast: bigint | null;
  /** Whether the manifest of `first` has been looked up (done in `flush`, never in `add`). */
  checked: boolean;
  rows: ArchivedEvent[];
  /** Bytes of the rows' JSON (as received; estimated when the consumer did not pass it). */
  bytes: number;
  openedAt: number;
}

interface PartitionArchive {
  topic: string;
  partition: number;
  /** Offsets below this are archived already. */
  resumeFrom: bigint | null;
  open: Chunk | null;
  /** Cut, not yet written, oldest first. */
  ready: Chunk[];
  /** Manifests of written chunks: deleted once a commit covers them. */
  manifests: { key: string; last: bigint }[];
  offered: bigint | null;
  /** One past the last offset added: earlier offsets given again are ignored. */
  next: bigint | null;
  /** Offsets within the repeat horizon, each its own owner (`seenWithin`). */
  repeats: RecentCounts<number>;
}

interface Manifest {
  topic: string;
  partition: number;
  first: string;
  last: string;
  objects: string[];
}

/** Bytes counted for an event whose JSON the consumer did not pass: about an enriched event's. */
const ROW_BYTES_ESTIMATE = 1200;

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

export function manifestKey(topic: string, partition: number, first: bigint): string {
  return `_chunks/${safe(topic)}/${partition}/${first}.json`;
}

/** Object key of the part of a chunk with the given event type and event hour. */
export function objectKey(type: string, isoTime: string, topic: string, partition: number, first: bigint, last: bigint): string {
  const d = utcHour(isoTime);
  return `type=${safe(type)}/date=${d.slice(0, 10)}/hour=${d.slice(11, 13)}/${safe(topic)}-${partition}-${first}-${last}.parquet`;
}

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** "YYYY-MM-DDTHH" of a time, in UTC (no Date for the canonical ISO form the gateway writes). */
function utcHour(isoTime: string): string {
  if (CANONICAL.test(isoTime)) return isoTime.slice(0, 13);
  const ms = Date.parse(isoTime);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 13) : '1970-01-01T00';
}

export function archiveSink(o: ArchiveSinkOptions): PartitionedSink & { store: ObjectStore } {
  const parts = new Map<string, PartitionArchive>();
  const now = o.now ?? Date.now;
  const stale: string[] = [];

  const state = (topic: string, partition: number): PartitionArchive => {
    const k = topicPartitionKey(topic, partition);
    let st = parts.get(k);
    if (!st) {
      st = { topic, partition, resumeFrom: null, open: null, ready: [], manifests: [], offered: null, next: null, repeats: new RecentCounts<number>(o.repeatHorizon) };
      parts.set(k, st);
    }
    return st;
  };

  const cut = (st: PartitionArchive) => {
    if (!st.open) return;
    const c = st.open;
    c.nameLast = c.forcedLast ?? c.last;
    st.ready.push(c);
    st.open = null;
  };

  /** Cuts the checked open chunk where its boundary lies, if it has reached it. */
  const cutIfFull = (st: PartitionArchive) => {
    const c = st.open;
    if (!c || !c.checked) return;
    const end = c.forcedLast ?? c.first + BigInt(o.maxEvents) - 1n;
    if (c.last < end) return;
    // Rows past the boundary start the next chunk (unchecked: its manifest is looked up next).
    const rest = c.rows.filter((r) => r.offset > end);
    const all = c.rows.length;
    c.rows = c.rows.filter((r) => r.offset <= end);
    c.last = c.rows[c.rows.length - 1].offset;
    const restBytes = Math.round((c.bytes * rest.length) / all);
    c.bytes -= restBytes;
    cut(st);
    if (rest.length) {
      st.open = { first: rest[0].offset, last: rest[rest.length - 1].offset, nameLast: null, forcedLast: null, checked: false, rows: rest, bytes: restBytes, openedAt: c.openedAt };
    }
  };

  /** Cuts the largest open chunks (boundaries not forced by a manifest) while all open chunks hold more than half of the buffer budget, once they passed it. */
  const cutOverBudget = (all: PartitionArchive[]) => {
    const budget = o.maxBufferBytes ?? 0;
    if (budget <= 0) return;
    let held = 0;
    for (const st of all) held += st.open?.bytes ?? 0;
    if (held <= budget) return;
    const cuttable = all.filter((st) => st.open?.checked && st.open.forcedLast === null).sort((x, y) => y.open!.bytes - x.open!.bytes);
    for (const st of cuttable) {
      if (held <= budget / 2) break;
      held -= st.open!.bytes;
      cut(st);
    }
  };

  /** Looks up the manifests of open chunks not checked yet, adopting their boundaries. */
  const resolve = async (st: PartitionArchive) => {
    while (st.open && !st.open.checked) {
      const c = st.open;
      const text = await o.store.get(manifestKey(st.topic, st.partition, c.first));
      const m = text ? (JSON.parse(new TextDecoder().decode(text)) as Manifest) : null;
      if (m) o.log?.info({ topic: st.topic, partition: st.partition, first: m.first, last: m.last }, 'archive: resuming a chunk cut before a restart');
      c.forcedLast = m ? BigInt(m.last) : null;
      c.checked = true;
      cutIfFull(st);
    }
  };

  /**
   * Records a chunk's boundary unless one is recorded already, and returns the boundary that holds.
   * Two owners of a partition (the old one still flushing during a rebalance, the new one replaying
   * from the last commit) can both find no manifest for a chunk start and cut it at different
   * places; the conditional create lets exactly one boundary win, so no offset lands in two objects.
   */
  const claim = async (key: string, m: Manifest): Promise<bigint> => {
    const body = new TextEncoder().encode(JSON.stringify(m));
    for (;;) {
      if (await o.store.create(key, body, 'application/json')) return BigInt(m.last);
      const text = await o.store.get(key);
      // Gone in between (its chunk committed and the manifest deleted): try to create it again.
      if (text) return BigInt((JSON.parse(new TextDecoder().decode(text)) as Manifest).last);
    }
  };

  /** Re-plans the partition's unwritten rows so the oldest chunk ends at `last`, as a manifest says. */
  const adopt = (st: PartitionArchive, last: bigint) => {
    const chunks = [...st.ready, ...(st.open ? [st.open] : [])];
    const first = chunks[0];
    const rows = chunks.flatMap((c) => c.rows);
    st.ready = [];
    st.open = {
      first: first.first,
      last: rows[rows.length - 1].offset,
      nameLast: null,
      forcedLast: last,
      checked: true,
      rows,
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      openedAt: first.openedAt,
    };
    cutIfFull(st);
  };

  /** Writes a cut chunk; false when another owner's boundary was adopted instead (nothing written). */
  const write = async (st: PartitionArchive, c: Chunk): Promise<boolean> => {
    const last = c.nameLast!;
    const byHour = new Map<string, ArchivedEvent[]>();
    for (const r of c.rows) {
      const h = `${r.event.event_type}|${utcHour(r.event.timestamp ?? r.event.received_at)}`;
      const g = byHour.get(h);
      if (g) g.push(r);
      else byHour.set(h, [r]);
    }
    const groups = new Map<string, ArchivedEvent[]>();
    for (const rows of byHour.values()) {
      const e = rows[0].event;
      groups.set(objectKey(e.event_type, e.timestamp ?? e.received_at, st.topic, st.partition, c.first, last), rows);
    }
    const mKey = manifestKey(st.topic, st.partition, c.first);
    if (c.forcedLast === null) {
      const m: Manifest = { topic: st.topic, partition: st.partition, first: String(c.first), last: String(last), objects: [...groups.keys()].sort() };
      const won = await claim(mKey, m);
      if (won !== last) {
        o.log?.info({ topic: st.topic, partition: st.partition, first: String(c.first), last: String(won), ours: String(last) }, 'archive: another owner cut this chunk first, taking its boundary');
        adopt(st, won);
        return false;
      }
    }
    for (const [k, rows] of groups) {
      const started = performance.now();
      const body = encodeParquet(rows);
      await o.store.put(k, body, 'application/vnd.apache.parquet');
      o.onWrite?.((performance.now() - started) / 1000, body.byteLength);
    }
    st.manifests.push({ key: mKey, last });
    st.resumeFrom = last + 1n;
    return true;
  };

  /** The first offset neither archived nor dropped as a repeat; null: nothing known yet. */
  const notArchived = (st: PartitionArchive): bigint | null => {
    const c = st.ready[0] ?? st.open;
    if (c) return c.first;
    if (st.next === null) return st.resumeFrom;
    return st.resumeFrom !== null && st.resumeFrom > st.next ? st.resumeFrom : st.next;
  };

  return {
    name: 'archive',
    store: o.store,
    assign(assigned) {
      for (const p of assigned) {
        const st = state(p.topic, p.partition);
        st.open = null;
        st.ready = [];
        st.manifests = [];
        st.next = null;
        st.repeats = new RecentCounts<number>(o.repeatHorizon);
        st.resumeFrom = p.checkpoint && /^\d+$/.test(p.checkpoint) ? BigInt(p.checkpoint) : null;
      }
    },
    add(event: EnrichedEvent, pos: SourcePosition) {
      // No I/O here (an add that fails would leave the sinks out of step): the manifest of a new
      // chunk's first offset is looked up at the next flush, and until then the chunk is not cut.
      const st = state(pos.topic, pos.partition);
      const off = BigInt(pos.offset);
      if (st.next !== null && off < st.next) return; // given twice
      st.next = off + 1n;
      const repeat = st.repeats.seenWithin(repeatKey(event), Number(off));
      if (st.resumeFrom !== null && off < st.resumeFrom) return;
      if (repeat) {
        o.onRepeat?.(1);
        return;
      }
      if (st.open?.forcedLast != null && off > st.open.forcedLast) cut(st);
      if (!st.open) st.open = { first: off, last: off, nameLast: null, forcedLast: null, checked: false, rows: [], bytes: 0, openedAt: now() };
      const c = st.open;
      c.rows.push({ event, partition: pos.partition, offset: off });
      c.bytes += pos.raw?.length ?? ROW_BYTES_ESTIMATE;
      c.last = off;
      if (c.checked) cutIfFull(st);
    },
    async flush() {
      const t = now();
      const all = [...parts.values()];
      await Promise.all(all.map((st) => resolve(st)));
      for (const st of all) if (st.open && st.open.forcedLast === null && t - st.open.openedAt >= o.maxAgeMs) cut(st);
      cutOverBudget(all);
      await Promise.all(
        all.map(async (st) => {
          while (st.ready.length) if (await write(st, st.ready[0])) st.ready.shift();
        }),
      );
      while (stale.length) {
        const k = stale.shift()!;
        await o.store.delete(k).catch(() => undefined);
      }
    },
    committableOffset(topic, partition) {
      const st = parts.get(topicPartitionKey(topic, partition));
      const first = st ? notArchived(st) : null;
      if (first === null) return undefined;
      const held = first - BigInt(o.repeatHorizon);
      return String(held < 0n ? 0n : held);
    },
    checkpoint(topic, partition) {
      const st = parts.get(topicPartitionKey(topic, partition));
      const first = st ? notArchived(st) : null;
      if (!st || first === null) return undefined;
      st.offered = first;
      return String(first);
    },
    committed(topic, partition) {
      const st = parts.get(topicPartitionKey(topic, partition));
      if (!st || st.offered === null) return;
      const upTo = st.offered;
      st.manifests = st.manifests.filter((m) => {
        if (m.last < upTo) {
          stale.push(m.key);
          return false;
        }
        return true;
      });
    },
    revoke(topic, partition) {
      parts.delete(topicPartitionKey(topic, partition));
    },
  };
}
