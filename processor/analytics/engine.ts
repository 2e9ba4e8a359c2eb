/**
 * The stateful part of the processor for ONE partition number p: the four event topics'
 * partition p together (events are keyed by visitor, so a visitor's events of every type land on
 * the same partition number, and the consumer assigns the four together). No I/O and no clock:
 * every decision is taken from the events and their offsets, so the consumer, the unit tests and
 * a replay after a crash all drive the same code to the same documents.
 *
 * Time
 * - Event time is the enriched `timestamp`.
 * - Lateness is decided per topic-partition, from the data alone: an event is late when it is
 *   older than the largest event time seen before it in its own topic-partition minus the allowed
 *   lateness. The order inside one topic-partition is fixed by Kafka, so every run and every
 *   replay classifies the same events as late (the largest time before the commit point travels
 *   in the commit's metadata).
 * - The watermark of the partition (what seals windows and sessions) is the smallest of
 *   (largest event time - lateness) over the topic-partitions that still have records to read;
 *   a topic-partition found idle (read up to its log end) at the last poll of end offsets does
 *   not hold it back until the partition's next event (a rarely used topic such as purchases
 *   would otherwise stop every window from closing). When nothing is behind, the watermark
 *   follows the most advanced topic-partition. It never goes back. An event
 *   older than the watermark but not late in its own topic-partition (possible only when an idle
 *   topic-partition wakes up with old events) is counted as late too: state it would belong to may
 *   already be written and evicted.
 * - Late events are never dropped silently: they stay in the raw index and the archive, and are
 *   counted in `late_events` of the window that holds their topic-partition's current event time
 *   (always still open), for every dimension value of the event, and in the metrics.
 *
 * Outputs (documents, each with a deterministic id and a value that depends only on the set of
 * on-time events it covers, never on their order):
 * - KPI windows per window kind x start x dimension x value x partition; written provisionally
 *   while open, and once more with `final: true` when the watermark passes their end.
 * - Sessions (id = session id); `closed: true` after SESSION_GAP of event time without events.
 * - URL x country stats per window, with time on page settled from consecutive page views.
 *
 * Recovery (see ARCHITECTURE.md "Window state after a crash"): every open structure remembers,
 * per topic, the first offset that contributed to it. The consumer never commits past the
 * smallest of them, so a replay from the committed offsets rebuilds every open structure from
 * all of its events. Structures already sealed and written before the commit may be partly
 * rebuilt by that replay; the commit's metadata carries the horizons below which everything was
 * sealed (watermark E for windows and sessions, U for URL windows), and such partial rebuilds
 * are never written.
 *
 * Around it: checkpoint.ts (the commit metadata), buckets.ts (the open structures), kpi.ts,
 * session.ts and url-stats.ts (the aggregates), windows.ts (which windows an event time is in).
 */
import { kpiDocId, type KpiDoc, type SessionDoc, type UrlStatsDoc } from '../../contracts/documents.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import * as kpi from './kpi.js';
import { addToSession, initSession, sessionResult, VisitTracker } from './session.js';
import { addUrlEvent, addUrlTime, initUrl, urlResult, urlStatsId } from './url-stats.js';
import type { WindowSpec } from '../../contracts/windows.js';
import { emitCells, lowerEach, type KpiBucket, type KpiCell, type SessionState, type UrlBucket, type UrlCell } from './buckets.js';
import { timeOrNone, timeOrNull, type Checkpoint } from './checkpoint.js';
import { bucketStart, windowStarts } from './windows.js';

export interface EngineOptions {
  partition: number;
  /** The event topics, in a fixed order; `add` takes the index into this list. */
  topics: readonly string[];
  /** KPI window kinds (tumbling and sliding). */
  windows: readonly WindowSpec[];
  /** Size of the URL x country windows. */
  urlWindowMs: number;
  latenessMs: number;
  sessionGapMs: number;
  /** Leave events with is_bot out of KPIs, sessions and URL stats. */
  excludeBots: boolean;
}

/** A document to write, with the index it goes to and its deterministic id. */
export type OutDoc = { index: 'kpis'; id: string; doc: KpiDoc } | { index: 'urlStats'; id: string; doc: UrlStatsDoc } | { index: 'sessions'; id: string; doc: SessionDoc };
export type OutIndex = OutDoc['index'];

export type AddResult = 'ok' | 'late' | 'skipped' | 'bot' | 'invalid' | 'repeat';
export type LateReason = 'behind_partition' | 'behind_watermark';

const iso = (ms: number) => new Date(ms).toISOString();
/** What identifies a repeat: the event id within its site. */
const repeatKey = (e: EnrichedEvent) => `${e.site_id}\u0000${e.event_id}`;

export class PartitionEngine {
  readonly partition: number;
  private readonly opts: EngineOptions;
  private readonly topicCount: number;
  /** Next offset to process per topic; -1 until known. */
  private next: number[];
  private maxTs: number[];
  /** Per topic: [offset, largest time including it] at every offset where the largest time grew. */
  private points: [number, number][][];
  /** Largest time before the first point. */
  private base: number[];
  /** Log start and end offsets per topic, from the consumer's poller (unknown: behind). */
  private low: number[];
  private high: number[];
  /** Per topic: read up to its end at the last poll of end offsets. */
  private idle: boolean[];
  /** An event arrived since the last poll. */
  private sincePoll = true;
  /** Event time below which windows are sealed and sessions closed; never goes back. */
  private currentWatermark = -Infinity;
  /**
   * From the checkpoint after a restart (E and U): windows ending at or before these, and sessions
   * closed before the watermark, were final and written; a replay rebuilds them only partly and
   * must not write them.
   */
  private restoredWatermark = -Infinity;
  private restoredUrlHorizon = -Infinity;
  /** Every URL window ending at or before this is sealed (they seal oldest first). */
  private urlHorizon = -Infinity;
  /** Per topic: the offset processed before the restart; nothing provisional is written until it is reached. */
  private replayUntil: number[];
  /** Per topic: the first offset some open structure still needs, as of the last drain. */
  private holdMin: number[];
  /** As of the last drain (what a commit after writing that drain may claim). */
  private drainNext: number[];
  private drainWatermark = -Infinity;
  private drainUrlHorizon = -Infinity;
  private kpiBuckets = new Map<string, KpiBucket>();
  private sessions = new Map<string, SessionState>();
  /** Sessions changed since the last drain (or changed and not yet written). */
  private dirtySessions = new Set<SessionState>();
  /** Smallest first offset per topic over open sessions, as of the last full visit. */
  private sessionHold: number[];
  private lastDrainWatermark = NaN;
  private urlBuckets = new Map<number, UrlBucket>();
  /** Late events counted since the last `takeLate()`, by reason. */
  private late: Record<LateReason, number> = { behind_partition: 0, behind_watermark: 0 };
  /** Repeated events dropped since the last `takeRepeats()`. */
  private repeats = 0;
  /** Late events by site and event id -> the open window holding their marker. */
  private lateSeen = new Map<string, KpiBucket>();

  constructor(options: EngineOptions) {
    this.opts = options;
    this.partition = options.partition;
    this.topicCount = options.topics.length;
    const fill = (x: number) => new Array<number>(this.topicCount).fill(x);
    this.next = fill(-1);
    this.maxTs = fill(-Infinity);
    this.base = fill(-Infinity);
    this.points = Array.from({ length: this.topicCount }, () => []);
    this.low = fill(-1);
    this.high = fill(-1);
    this.idle = new Array<boolean>(this.topicCount).fill(false);
    this.replayUntil = fill(-1);
    this.holdMin = fill(Infinity);
    this.sessionHold = fill(Infinity);
    this.drainNext = fill(-1);
  }

  /**
   * Before the first event: the committed offset of topic `t` (null when the group never
   * committed) and the checkpoint that came with it.
   */
  restore(t: number, committed: number | null, cp: Checkpoint | null): void {
    if (committed !== null && committed >= 0) this.next[t] = committed;
    if (cp && cp.v === 1) {
      this.base[t] = this.maxTs[t] = timeOrNone(cp.m);
      this.restoredWatermark = Math.max(this.restoredWatermark, timeOrNone(cp.E));
      this.restoredUrlHorizon = Math.max(this.restoredUrlHorizon, timeOrNone(cp.U));
      this.urlHorizon = Math.max(this.urlHorizon, timeOrNone(cp.U));
      if (cp.P !== null) this.replayUntil[t] = cp.P;
    }
    this.holdMin[t] = this.next[t] >= 0 ? this.next[t] : Infinity;
    this.drainNext[t] = this.next[t];
    this.updateWatermark();
    this.drainWatermark = this.currentWatermark;
    this.drainUrlHorizon = this.urlHorizon;
  }

  /**
   * Log start and end offsets of topic `t`, freshly read by the consumer; `pollDone()` applies
   * the readings of all topics at once.
   */
  setLogOffsets(t: number, low: number, high: number): void {
    this.low[t] = low;
    this.high[t] = high;
  }

  /**
   * The end offsets just set are current: every topic-partition read up to its end is idle
   * until the next event of the partition (any topic) arrives.
   */
  pollDone(): void {
    for (let t = 0; t < this.topicCount; t++) this.idle[t] = this.caughtUp(t);
    this.sincePoll = false;
    this.updateWatermark();
  }

  private caughtUp(t: number): boolean {
    if (this.high[t] < 0) return false;
    if (this.next[t] >= 0) return this.next[t] >= this.high[t];
    return this.low[t] >= this.high[t];
  }

  /**
   * Idle topic-partitions are left out only right after a poll of the end offsets: once any
   * event of the partition has arrived since, a topic-partition idle at the poll may have
   * received events too (produced in the same burst), so only one that never had an event
   * stays out. The watermark thus jumps past an idle topic-partition at poll instants only,
   * with end offsets read inside the same lock as the batches.
   */
  private updateWatermark(): void {
    let behind = Infinity;
    let anyBehind = false;
    let most = -Infinity;
    for (let t = 0; t < this.topicCount; t++) {
      if (this.maxTs[t] > most) most = this.maxTs[t];
      const idle = this.idle[t] && (!this.sincePoll || this.maxTs[t] === -Infinity);
      if (!idle) {
        anyBehind = true;
        if (this.maxTs[t] < behind) behind = this.maxTs[t];
      }
    }
    const candidate = (anyBehind ? behind : most) - this.opts.latenessMs;
    if (candidate > this.currentWatermark) this.currentWatermark = candidate;
  }

  get watermark(): number {
    return this.currentWatermark;
  }

  /**
   * Every topic of the partition was read up to its log end at the last poll of end offsets, and
   * no event arrived since: nothing in Kafka can move the watermark.
   */
  get quiet(): boolean {
    return !this.sincePoll && this.idle.every(Boolean);
  }

  /**
   * Moves the watermark up to `to` (never back), for a partition that has been quiet for long:
   * the caller's clock stands in for the events that do not come, so the last windows become
   * final and sessions close. Not a function of the input: see ARCHITECTURE.md on what it means
   * for a replay.
   */
  advanceWatermark(to: number): void {
    if (to > this.currentWatermark) this.currentWatermark = to;
  }

  /** True while a replay after a restart has not yet reached the offsets processed before. */
  get replaying(): boolean {
    for (let t = 0; t < this.topicCount; t++) if (this.next[t] < this.replayUntil[t]) return true;
    return false;
  }

  get openWindows(): number {
    return this.kpiBuckets.size + this.urlBuckets.size;
  }
  get openSessions(): number {
    return this.sessions.size;
  }

  /** Late events since the last call, by reason. */
  /** Repeats (an event id already counted in its open session) dropped since the last call. */
  takeRepeats(): number {
    const out = this.repeats;
    this.repeats = 0;
    return out;
  }

  takeLate(): Record<LateReason, number> {
    const out = this.late;
    this.late = { behind_partition: 0, behind_watermark: 0 };
    return out;
  }

  /** One event of topic `t` at `offset`; offsets of one topic must come in increasing order. */
  add(e: EnrichedEvent, t: number, offset: number): AddResult {
    if (this.next[t] >= 0 && offset < this.next[t]) return 'skipped';
    this.next[t] = offset + 1;
    this.sincePoll = true;
    const ts = Date.parse(e.timestamp);
    if (!Number.isFinite(ts)) {
      this.updateWatermark();
      return 'invalid';
    }
    const before = this.maxTs[t];
    const watermarkBefore = this.currentWatermark;
    if (ts > before) {
      this.maxTs[t] = ts;
      this.points[t].push([offset, ts]);
    }
    const lateInPartition = ts < before - this.opts.latenessMs;
    const lateForWatermark = !lateInPartition && ts < watermarkBefore;
    this.updateWatermark();
    if (this.opts.excludeBots && e.is_bot) return 'bot';
    // The same record twice on Kafka (a send stored although the gateway answered 503, retried
    // with the same id): the first offset counts. Looked up in the event's open session, which
    // holds the commit at or below that first offset, so a replay sees it again and decides the same.
    const id = repeatKey(e);
    const lateWindow = this.lateSeen.get(id);
    if (this.sessions.get(e.session_id)?.ids.has(id) || (lateWindow && this.kpiBuckets.get(`${lateWindow.spec.kind}|${lateWindow.start}`) === lateWindow)) {
      this.repeats++;
      return 'repeat';
    }
    if (lateInPartition || lateForWatermark) {
      this.late[lateInPartition ? 'behind_partition' : 'behind_watermark']++;
      this.addLateMarker(e, t, offset, Math.max(before, watermarkBefore));
      return 'late';
    }
    this.addKpi(e, t, offset, ts);
    this.addSession(e, t, offset, ts);
    this.addUrl(e, t, offset, ts);
    return 'ok';
  }

  private kpiBucket(spec: WindowSpec, start: number, t: number, offset: number): KpiBucket {
    const key = `${spec.kind}|${start}`;
    let b = this.kpiBuckets.get(key);
    if (!b) {
      b = { spec, start, end: start + spec.sizeMs, minOff: new Array(this.topicCount).fill(Infinity), cells: new Map(), dirty: new Set() };
      this.kpiBuckets.set(key, b);
    }
    if (offset < b.minOff[t]) b.minOff[t] = offset;
    return b;
  }

  private kpiCells(b: KpiBucket, e: EnrichedEvent, f: (acc: kpi.KpiAcc) => void): void {
    for (const [dimension, value] of kpi.dimensionValues(e)) {
      const key = `${dimension}\u0000${value}`;
      let cell = b.cells.get(key);
      if (!cell) {
        cell = { dimension, value, acc: kpi.init() };
        b.cells.set(key, cell);
      }
      f(cell.acc);
      b.dirty.add(key);
    }
  }

  private addKpi(e: EnrichedEvent, t: number, offset: number, ts: number): void {
    for (const spec of this.opts.windows) {
      for (const start of windowStarts(ts, spec)) {
        this.kpiCells(this.kpiBucket(spec, start, t, offset), e, (acc) => kpi.add(acc, e));
      }
    }
  }

  /** `at` is at or after the watermark, so the windows holding it are still open. */
  private addLateMarker(e: EnrichedEvent, t: number, offset: number, at: number): void {
    for (const spec of this.opts.windows) {
      for (const start of windowStarts(at, spec)) {
        const b = this.kpiBucket(spec, start, t, offset);
        this.kpiCells(b, e, kpi.addLate);
        // Remembered while that window is open (it holds the commit at or below this offset).
        if (!this.lateSeen.has(repeatKey(e))) {
          this.lateSeen.set(repeatKey(e), b);
          (b.lateIds ??= []).push(repeatKey(e));
        }
      }
    }
  }

  private addSession(e: EnrichedEvent, t: number, offset: number, ts: number): void {
    let s = this.sessions.get(e.session_id);
    if (!s) {
      s = { acc: initSession(e.session_id), visits: new VisitTracker(), minOff: new Array(this.topicCount).fill(Infinity), urlWindows: new Set(), dirty: true, ids: new Set() };
      this.sessions.set(e.session_id, s);
    }
    s.ids.add(repeatKey(e));
    if (offset < s.minOff[t]) s.minOff[t] = offset;
    addToSession(s.acc, e, ts);
    s.visits.add(e, ts);
    s.dirty = true;
    this.dirtySessions.add(s);
    if (kpi.isView(e)) {
      const start = bucketStart(ts, this.opts.urlWindowMs);
      s.urlWindows.add(start);
      this.urlBucket(start, t, offset).pending++;
    }
  }

  private urlBucket(start: number, t: number, offset: number): UrlBucket {
    let b = this.urlBuckets.get(start);
    if (!b) {
      b = { start, end: start + this.opts.urlWindowMs, minOff: new Array(this.topicCount).fill(Infinity), cells: new Map(), dirty: new Set(), pending: 0 };
      this.urlBuckets.set(start, b);
    }
    if (offset < b.minOff[t]) b.minOff[t] = offset;
    return b;
  }

  private urlCell(b: UrlBucket, url: string, country: string | null): [string, UrlCell] {
    const c = country || kpi.UNKNOWN;
    const key = `${url}\u0000${c}`;
    let cell = b.cells.get(key);
    if (!cell) {
      cell = { url, country: c, acc: initUrl() };
      b.cells.set(key, cell);
    }
    return [key, cell];
  }

  private addUrl(e: EnrichedEvent, t: number, offset: number, ts: number): void {
    const b = this.urlBucket(bucketStart(ts, this.opts.urlWindowMs), t, offset);
    const [key, cell] = this.urlCell(b, e.url, e.country);
    addUrlEvent(cell.acc, e);
    b.dirty.add(key);
  }

  /**
   * Seals what the watermark has passed and returns the documents to write: final documents of
   * sealed structures (always), and, when `provisional`, the current value of every open
   * structure that changed since the last call (not while replaying). Also computes how far
   * each topic may be committed.
   */
  drain(provisional: boolean): OutDoc[] {
    const out: OutDoc[] = [];
    const emitOpen = provisional && !this.replaying;
    const hold = this.next.map((x) => (x >= 0 ? x : Infinity));
    // The consumer may go on adding events while these documents are written: what a commit
    // after the write may claim is fixed here.
    this.drainNext = [...this.next];
    this.drainWatermark = this.currentWatermark;
    // Sessions first: settling page views feeds the URL windows sealed below.
    this.drainSessions(emitOpen, hold, out);
    this.drainKpiWindows(emitOpen, hold, out);
    this.drainUrlWindows(emitOpen, hold, out);
    this.holdMin = hold;
    this.drainUrlHorizon = this.urlHorizon;
    return out;
  }

  /**
   * Settles page views the watermark has passed (their time on page goes to their URL window),
   * closes sessions `sessionGapMs` behind it, and lowers `hold` to what open sessions need. Only
   * a moved watermark can settle views or close sessions; otherwise only the sessions that
   * changed are visited (their offsets were already part of the hold, which new sessions cannot
   * lower).
   */
  private drainSessions(emitOpen: boolean, hold: number[], out: OutDoc[]): void {
    const gap = this.opts.sessionGapMs;
    const watermark = this.currentWatermark;
    const full = watermark !== this.lastDrainWatermark;
    this.lastDrainWatermark = watermark;
    const visit: Iterable<[string, SessionState]> = full ? this.sessions : [...this.dirtySessions].map((s) => [s.acc.sessionId, s] as [string, SessionState]);
    this.dirtySessions.clear();
    if (!full) lowerEach(hold, this.sessionHold);
    const sessionHold = full ? new Array<number>(this.topicCount).fill(Infinity) : this.sessionHold;
    for (const [id, s] of visit) {
      const closed = watermark > s.acc.end + gap;
      const settled = s.visits.finalize(watermark);
      if (closed) settled.push(...s.visits.close());
      for (const v of settled) {
        const start = bucketStart(v.ts, this.opts.urlWindowMs);
        const b = this.urlBuckets.get(start);
        // A URL window with a pending view is never sealed, so it must still be here.
        if (!b) throw new Error(`engine invariant broken: URL window ${iso(start)} sealed with a page view of session ${id} pending`);
        const [key, cell] = this.urlCell(b, v.url, v.country);
        addUrlTime(cell.acc, v.ms);
        b.pending--;
        b.dirty.add(key);
        lowerEach(b.minOff, s.minOff);
      }
      if (closed) {
        for (const start of s.urlWindows) {
          const b = this.urlBuckets.get(start);
          if (b) lowerEach(b.minOff, s.minOff);
        }
        if (s.acc.end + gap >= this.restoredWatermark) out.push(this.sessionDoc(s, true));
        this.sessions.delete(id);
        continue;
      }
      lowerEach(hold, s.minOff);
      lowerEach(sessionHold, s.minOff);
      if (s.dirty) {
        if (s.acc.end + gap < this.restoredWatermark) s.dirty = false; // written before the restart
        else if (emitOpen) {
          out.push(this.sessionDoc(s, false));
          s.dirty = false;
        } else this.dirtySessions.add(s);
      }
    }
    this.sessionHold = sessionHold;
  }

  /** Seals the KPI windows the watermark has passed (final documents) and emits changed open ones. */
  private drainKpiWindows(emitOpen: boolean, hold: number[], out: OutDoc[]): void {
    for (const [key, b] of this.kpiBuckets) {
      const sealed = this.currentWatermark >= b.end;
      if (sealed || emitOpen) emitCells(b, sealed, b.end <= this.restoredWatermark, (cell) => this.kpiDoc(b, cell, sealed), out);
      if (sealed) {
        this.kpiBuckets.delete(key);
        for (const id of b.lateIds ?? []) if (this.lateSeen.get(id) === b) this.lateSeen.delete(id);
      }
      else lowerEach(hold, b.minOff);
    }
  }

  /**
   * Seals URL windows oldest first, each once the watermark passed it and none of its page views
   * waits for its time on page, so "every URL window ending at or before U is final" holds.
   */
  private drainUrlWindows(emitOpen: boolean, hold: number[], out: OutDoc[]): void {
    const starts = [...this.urlBuckets.keys()].sort((a, b) => a - b);
    let sealing = true;
    for (const start of starts) {
      const b = this.urlBuckets.get(start)!;
      const sealed = sealing && this.currentWatermark >= b.end && b.pending === 0;
      if (!sealed) sealing = false;
      if (sealed || emitOpen) emitCells(b, sealed, b.end <= this.restoredUrlHorizon, (cell) => this.urlDoc(b, cell, sealed), out);
      if (sealed) {
        if (b.end > this.urlHorizon) this.urlHorizon = b.end;
        this.urlBuckets.delete(start);
      } else lowerEach(hold, b.minOff);
    }
  }

  private kpiDoc(b: KpiBucket, cell: KpiCell, final: boolean): OutDoc {
    const doc: KpiDoc = {
      window_kind: b.spec.kind,
      window_start: iso(b.start),
      window_end: iso(b.end),
      dimension: cell.dimension,
      dimension_value: cell.value,
      partition: this.partition,
      ...kpi.result(cell.acc),
      final,
    };
    return { index: 'kpis', id: kpiDocId(doc), doc };
  }

  private urlDoc(b: UrlBucket, cell: UrlCell, final: boolean): OutDoc {
    const doc: UrlStatsDoc = {
      window_start: iso(b.start),
      window_end: iso(b.end),
      url: cell.url,
      country: cell.country,
      partition: this.partition,
      ...urlResult(cell.acc),
      final,
    };
    return { index: 'urlStats', id: urlStatsId(doc), doc };
  }

  private sessionDoc(s: SessionState, closed: boolean): OutDoc {
    return { index: 'sessions', id: s.acc.sessionId, doc: { ...sessionResult(s.acc, closed), partition: this.partition } };
  }

  /**
   * The offset of topic `t` that may be committed once the documents of the last `drain` are
   * written (null: nothing processed or restored yet), and the checkpoint to store with it.
   * Events added after that drain do not move it.
   */
  commitPoint(t: number): { offset: number; checkpoint: Checkpoint } | null {
    const offset = Math.min(this.holdMin[t], this.drainNext[t] >= 0 ? this.drainNext[t] : Infinity);
    if (!Number.isFinite(offset)) return null;
    return { offset, checkpoint: this.checkpointAt(t, offset) };
  }

  /**
   * The checkpoint for committing `offset` of topic `t`, which may be below `commitPoint`
   * (another sink may hold the partition further back): the largest event time is the one
   * before that offset, so a replay from it classifies late events exactly as before.
   */
  checkpointAt(t: number, offset: number): Checkpoint {
    return {
      v: 1,
      m: timeOrNull(this.maxBefore(t, offset)),
      // After a restart the watermark starts below the restored horizon; never lower it.
      E: timeOrNull(Math.max(this.drainWatermark, this.restoredWatermark)),
      U: timeOrNull(Math.max(this.drainUrlHorizon, this.restoredUrlHorizon)),
      P: this.drainNext[t] >= 0 ? this.drainNext[t] : null,
    };
  }

  /** The offset was committed: forget what only an older commit point needed. */
  committed(t: number, offset: number): void {
    const p = this.points[t];
    let i = 0;
    while (i < p.length && p[i][0] < offset) i++;
    if (i > 0) {
      this.base[t] = p[i - 1][1];
      p.splice(0, i);
    }
  }

  private maxBefore(t: number, offset: number): number {
    const p = this.points[t];
    let lo = 0;
    let hi = p.length; // first index with p[i][0] >= offset
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid][0] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.base[t] : p[lo - 1][1];
  }
}
