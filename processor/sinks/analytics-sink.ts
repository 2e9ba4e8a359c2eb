import type { Client } from '@elastic/elasticsearch';
import type { AnalyticsEvent } from '../analytics/analytics-event.js';
import { indexNames } from '../../contracts/indices.js';
import { decodeCheckpoint, encodeCheckpoint } from '../analytics/checkpoint.js';
import { docVersion, PartitionEngine, type EngineOptions, type LateReason, type OutDoc, type OutIndex } from '../analytics/engine.js';
import { bulkIndex, type BulkRefresh, type Rejected } from '../es-bulk.js';
import type { AssignedPartition, LogOffsetsSink, PartitionedSink, SourcePosition } from '../sink.js';
import type { KpiTracer } from './kpi-trace.js';

export interface AnalyticsSinkOptions {
  client: Client;
  indexPrefix: string;
  /** The event topics as consumed (with prefix), in one fixed order. */
  topics: readonly string[];
  engine: Omit<EngineOptions, 'partition' | 'topics'>;
  /** Provisional documents of open KPI windows are written at most this often (0: at every flush). */
  emitIntervalMs: number;
  /**
   * Provisional documents of open sessions and URL x country windows are written at most this
   * often (0: at every flush; by default as often as the KPI windows).
   */
  sessionEmitIntervalMs?: number;
  /**
   * Write the open KPI windows every `emitIntervalMs` on a timer of their own, between flushes
   * (default false: with the flushes). Freshness: a flush writes thousands of sessions and URL x
   * country documents every `sessionEmitIntervalMs`, and the next flush, with the KPI windows,
   * waited for them.
   */
  kpiEmitBetweenFlushes?: boolean;
  /**
   * Most session and URL x country documents in one bulk request (0 or unset: a flush's in one):
   * they go out one request after another, so a KPI bulk waits in Elasticsearch's write queue
   * behind one such request at most instead of a whole flush's.
   */
  sessionBulkDocs?: number;
  /**
   * Sessions and URL x country documents in one request per index, one after another (default
   * false: one request for both): a request of two indices runs on two of Elasticsearch's write
   * threads at once, and with a raw-event bulk on a third the KPI bulk found none free.
   */
  sessionBulkPerIndex?: boolean;
  /**
   * KPI bulks in flight at once at most (default 1): the partitions' windows are split into this
   * many lanes (partition modulo lanes), each writing its own bulks one after another.
   */
  kpiBulkLanes?: number;
  /** The `refresh` parameter of the KPI bulks (default false: the index's refresh interval). */
  kpiRefresh?: BulkRefresh;
  /**
   * Makes every KPI document acknowledged so far durable (a flush of the KPI index, whose translog
   * is then `async`): called by a flush that wrote final KPI documents, before it returns and its
   * commit moves past them. Unset: the index fsyncs before acknowledging each bulk.
   */
  syncKpis?: () => Promise<void>;
  /** Called when a bulk of open KPI windows written between flushes failed (they are written again when they next change, and final by a flush). */
  onKpiEmitError?: (err: Error) => void;
  onBulk?: (seconds: number, count: number) => void;
  onLate?: (reason: LateReason, count: number) => void;
  /** Called for each document Elasticsearch refused for good (never retried), during `flush` or a write of open KPI windows between flushes. */
  onReject?: (kind: OutIndex, doc: Record<string, unknown>, reason: string) => void;
  now?: () => number;
  /**
   * A partition read up to its log end with no event for this long (wall clock) gets its
   * watermark moved to now minus this minus the allowed lateness (0: never).
   */
  idleAdvanceMs?: number;
  /** Follows the events of traced sites to their KPI document's bulk (KPI_TRACE_SITE_PREFIX; null: none). */
  trace?: KpiTracer | null;
  /** Repeated events (same site and event id in an open session) were dropped. */
  onRepeat?: (count: number) => void;
  /** Provisional documents found a sealed one stored (docVersion): kept as stored. */
  onStale?: (count: number) => void;
  /** The partition's watermark was moved by the clock (for the metrics). */
  onIdleAdvance?: (partition: number) => void;
}

/** A lane of KPI bulks: its chain (one bulk at a time, in order), and its timer's state. */
interface KpiLane {
  chain: Promise<unknown>;
  /** A timer's bulk of this lane is in flight; a tick came meanwhile (its windows are written when that bulk ends). */
  busy: boolean;
  owed: boolean;
}

export interface AnalyticsSink extends PartitionedSink, LogOffsetsSink {
  /** Per partition: watermark, open windows and sessions (for /metrics). */
  stats(): { partition: number; watermark: number; openWindows: number; openSessions: number; replaying: boolean; catchingUp: boolean }[];
  /** Called once at shutdown, before the last flush: stops the KPI timer and waits for its bulk in flight. */
  stop(): Promise<void>;
}

/**
 * KPI windows, URL x country stats and sessions into Elasticsearch, one PartitionEngine per
 * partition number (the consumer assigns the four topics' partition p together). Documents
 * are keyed deterministically, so writing them again after a replay overwrites them with the
 * same values. Offsets are held back to the first event of any open window or session.
 */
export function analyticsSink(o: AnalyticsSinkOptions): AnalyticsSink {
  const engines = new Map<number, PartitionEngine>();
  const topicIndex = new Map(o.topics.map((t, i) => [t, i]));
  const names = indexNames(o.indexPrefix);
  const index: Record<OutIndex, string> = { kpis: names.kpis, urlStats: names.urlStats, sessions: names.sessions };
  const now = o.now ?? Date.now;
  /** When the open KPI windows, and every open structure, were last written. */
  let lastKpiEmit = 0;
  let lastEmit = 0;
  const sessionEmitIntervalMs = o.sessionEmitIntervalMs ?? o.emitIntervalMs;
  /** Written on the next flush; the last document for an id wins. */
  const pending = new Map<string, OutDoc>();

  /** Per partition: wall-clock time of its last event (or of its engine's creation). */
  const lastEventAt = new Map<number, number>();

  /**
   * Every KPI bulk (the timer's and the flushes') goes through the chain of its lane, one at a time
   * in the order they were asked for: a provisional document written between flushes never lands
   * after a later final document of the same window. A window's documents always take the lane of
   * their partition (partition modulo the lanes), so the lanes' bulks may be in flight together:
   * each is smaller, and in Elasticsearch it takes a write thread of its own instead of waiting
   * behind one bulk of every partition's windows.
   */
  const lanes: KpiLane[] = Array.from({ length: Math.max(1, o.kpiBulkLanes ?? 1) }, () => ({ chain: Promise.resolve(), busy: false, owed: false }));
  const laneOf = (partition: number) => lanes[partition % lanes.length];
  const trace = o.trace ?? null;
  const writeLane = (lane: KpiLane, docs: OutDoc[]) => {
    const traced = trace?.emitted(docs) ?? null;
    const done = lane.chain.then(async () => {
      trace?.sent(traced);
      const rejected = await write(docs, o.kpiRefresh);
      trace?.acked(traced);
      return rejected;
    });
    lane.chain = done.catch(() => undefined);
    return done;
  };
  const writeKpis = async (docs: OutDoc[]) => {
    if (lanes.length === 1) return writeLane(lanes[0], docs);
    const byLane = new Map<KpiLane, OutDoc[]>();
    for (const d of docs) {
      const lane = laneOf(d.doc.partition);
      const list = byLane.get(lane);
      if (list) list.push(d);
      else byLane.set(lane, [d]);
    }
    return (await Promise.all([...byLane].map(([lane, list]) => writeLane(lane, list)))).flat();
  };
  /** Set by `stop`: the last flush writes the open KPI windows itself. */
  let stopped = false;
  /**
   * Between flushes: a lane's open KPI windows that changed, in one bulk. A tick that finds the
   * lane's last bulk still running does not wait for the next tick: the windows changed meanwhile go
   * out as soon as it ends, so a bulk slower than the interval adds its own time to a count's wait,
   * never an interval more.
   */
  const emitKpis = (lane: KpiLane) => {
    if (lane.busy) {
      lane.owed = true;
      return;
    }
    lane.owed = false;
    const docs: OutDoc[] = [];
    for (const e of engines.values()) {
      if (laneOf(e.partition) !== lane) continue;
      for (const d of e.openKpiDocs()) {
        docs.push(d);
        // Newer than a value a failed flush left to write: that one must not land after this.
        pending.delete(`${d.index}\u0000${d.id}`);
      }
    }
    if (docs.length === 0) return;
    lane.busy = true;
    // A failed bulk loses only these provisional values (written again when the windows next
    // change, and final at the seal); a refused document is reported like a flush's.
    writeLane(lane, docs)
      .then(reportRefused)
      .catch((err: Error) => o.onKpiEmitError?.(err))
      .finally(() => {
        lane.busy = false;
        if (lane.owed && !stopped) emitKpis(lane);
      });
  };
  const kpiTimer = o.kpiEmitBetweenFlushes
    ? setInterval(() => {
        for (const lane of lanes) emitKpis(lane);
      }, Math.max(10, o.emitIntervalMs))
    : null;
  kpiTimer?.unref();

  const engineFor = (partition: number): PartitionEngine => {
    let e = engines.get(partition);
    if (!e) {
      e = new PartitionEngine({ ...o.engine, partition, topics: o.topics });
      engines.set(partition, e);
      lastEventAt.set(partition, now());
    }
    return e;
  };

  return {
    name: 'analytics',
    assign(parts: AssignedPartition[]) {
      for (const p of parts) {
        const t = topicIndex.get(p.topic);
        if (t === undefined) continue;
        engineFor(p.partition).restore(t, p.committed === null ? null : Number(p.committed), decodeCheckpoint(p.checkpoint));
      }
    },
    add(event: AnalyticsEvent, pos: SourcePosition) {
      const t = topicIndex.get(pos.topic);
      if (t === undefined) return;
      engineFor(pos.partition).add(event, t, Number(pos.offset));
      lastEventAt.set(pos.partition, now());
      if (trace && event.site_id !== null) trace.consumed(event.site_id, event.event_id, pos);
    },
    async flush() {
      const t = now();
      // Every open structure when its interval is due (with the KPI windows), else the KPI windows
      // alone when theirs is. Due a tenth early: the flush's own clock starts a moment before this
      // one, and a flush every interval must not find the emit 1 ms short and skip it.
      const due = (last: number, interval: number) => t - last >= interval * 0.9;
      const all = due(lastEmit, sessionEmitIntervalMs);
      // With the KPI timer the open KPI windows are its alone: a flush writes only the final ones,
      // so its KPI bulk, which the timer's next one queues behind, stays small (once stopped, the
      // last flush writes them all).
      const timer = kpiTimer !== null && !stopped;
      const kpis = !timer && (all || due(lastKpiEmit, o.emitIntervalMs));
      const provisional = timer ? (all ? 'others' : false) : all ? true : kpis ? 'kpis' : false;
      for (const e of engines.values()) {
        for (const d of e.drain(provisional)) pending.set(`${d.index}\u0000${d.id}`, d);
        if (o.onLate) for (const [reason, n] of Object.entries(e.takeLate())) if (n) o.onLate(reason as LateReason, n);
        const repeats = e.takeRepeats();
        if (repeats) o.onRepeat?.(repeats);
      }
      if (provisional === true || provisional === 'kpis') lastKpiEmit = t;
      if (provisional === true || provisional === 'others') lastEmit = t;
      if (pending.size === 0) return;
      // The KPI windows in a bulk of their own, beside the rest: the few documents freshness is
      // measured on need not wait for the many sessions and URL stats. Both settle before this
      // returns (no write of this flush may land after a later flush's write of the same id).
      const kpiDocs: OutDoc[] = [];
      const otherDocs: OutDoc[] = [];
      for (const d of pending.values()) (d.index === 'kpis' ? kpiDocs : otherDocs).push(d);
      const results = await Promise.allSettled([kpiDocs.length ? writeKpis(kpiDocs) : Promise.resolve([]), otherDocs.length ? writeInParts(otherDocs) : Promise.resolve([])]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      // Provisional values may be lost with an asynchronous translog (their open window writes them
      // again); a final one may not, once the commit has passed its events.
      if (o.syncKpis && kpiDocs.some((d) => d.index === 'kpis' && d.doc.final)) await o.syncKpis();
      // Refusals only once both bulks succeeded: a retried flush would refuse (and report) them again.
      for (const r of results) if (r.status === 'fulfilled') reportRefused(r.value);
      pending.clear();
    },
    committableOffset(topic, partition) {
      const t = topicIndex.get(topic);
      const e = engines.get(partition);
      if (t === undefined || !e) return undefined;
      const cp = e.commitPoint(t);
      return cp ? String(cp.offset) : undefined;
    },
    checkpoint(topic, partition, offset) {
      const t = topicIndex.get(topic);
      const e = engines.get(partition);
      if (t === undefined || !e) return undefined;
      return encodeCheckpoint(e.checkpointAt(t, Number(offset)));
    },
    committed(topic, partition, offset) {
      const t = topicIndex.get(topic);
      if (t !== undefined) engines.get(partition)?.committed(t, Number(offset));
    },
    logOffsets(topic, partition, low, high) {
      const t = topicIndex.get(topic);
      if (t !== undefined) engines.get(partition)?.setLogOffsets(t, Number(low), Number(high));
    },
    logOffsetsDone() {
      const t = now();
      for (const e of engines.values()) {
        e.pollDone();
        // Quiet for long: the clock moves the watermark (written at the next flush).
        if (!o.idleAdvanceMs || !e.quiet || t - (lastEventAt.get(e.partition) ?? t) < o.idleAdvanceMs) continue;
        const before = e.watermark;
        e.advanceWatermark(t - o.idleAdvanceMs - o.engine.latenessMs);
        if (e.watermark > before) o.onIdleAdvance?.(e.partition);
      }
    },
    revoke(_topic, partition) {
      // The four topics of a partition move together: drop the engine and whatever it had not
      // written (the new owner replays from the committed offsets).
      engines.delete(partition);
      lastEventAt.delete(partition);
      trace?.revoke(partition);
      for (const [k, d] of pending) if (d.doc.partition === partition) pending.delete(k);
    },
    async stop() {
      stopped = true;
      if (kpiTimer) clearInterval(kpiTimer);
      await Promise.all(lanes.map((l) => l.chain));
    },
    stats() {
      return [...engines.values()].map((e) => ({ partition: e.partition, watermark: e.watermark, openWindows: e.openWindows, openSessions: e.openSessions, replaying: e.replaying, catchingUp: e.catchingUp }));
    },
  };

  function reportRefused(rejected: Rejected<OutDoc>[]) {
    for (const x of rejected) o.onReject?.(x.doc.index, x.doc.doc, `elasticsearch refused ${x.index}/${x.id} (${x.status}): ${x.reason}`);
  }

  /**
   * `docs` in bulks of at most `sessionBulkDocs`, one after another (with `sessionBulkPerIndex`,
   * each index's apart); resolves with every refusal.
   */
  async function writeInParts(docs: OutDoc[]) {
    const byIndex = new Map<OutIndex, OutDoc[]>();
    if (o.sessionBulkPerIndex) {
      for (const d of docs) {
        const list = byIndex.get(d.index);
        if (list) list.push(d);
        else byIndex.set(d.index, [d]);
      }
    }
    const groups = o.sessionBulkPerIndex ? [...byIndex.values()] : [docs];
    const rejected: Rejected<OutDoc>[] = [];
    for (const group of groups) {
      const size = o.sessionBulkDocs && o.sessionBulkDocs > 0 ? o.sessionBulkDocs : group.length;
      for (let i = 0; i < group.length; i += size) rejected.push(...(await write(group.slice(i, i + size))));
    }
    return rejected;
  }

  /** One bulk of documents; resolves with those Elasticsearch refused for good. */
  async function write(docs: OutDoc[], refresh?: BulkRefresh) {
    const started = performance.now();
    const rejected = await bulkIndex(o.client, docs, (d) => ({ index: index[d.index], id: d.id, version: docVersion(d) }), (d) => d.doc, { refresh, onStale: o.onStale });
    o.onBulk?.((performance.now() - started) / 1000, docs.length);
    return rejected;
  }
}
