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
 * Around it: partition-clock.ts (offsets, event time, lateness, watermark), kpi-windows.ts,
 * url-windows.ts and open-sessions.ts (the open structures, their sealing and documents, over
 * buckets.ts), kpi.ts, session.ts and url-stats.ts (the aggregates), windows.ts (which windows an
 * event time is in), checkpoint.ts (the commit metadata), engine-options.ts (settings and outputs).
 */
import type { AnalyticsEvent } from './analytics-event.js';
import { timeOrNone, timeOrNull, type Checkpoint } from './checkpoint.js';
import type { AddResult, DrainContext, EngineOptions, LateReason, OutDoc } from './engine-options.js';
import { Handles } from './handles.js';
import { KpiWindows } from './kpi-windows.js';
import { OpenSessions } from './open-sessions.js';
import { PartitionClock } from './partition-clock.js';
import { repeatKey } from './repeat-key.js';
import { RecentCounts } from './recent-counts.js';
import { DEFAULT_REPEAT_HORIZON } from './engine-options.js';
import type { SessionState } from './buckets.js';
import { UrlWindows } from './url-windows.js';
import { eventTimeMs } from './event-time.js';

export type { AddResult, EngineOptions, LateReason, OutDoc, OutIndex } from './engine-options.js';
export { docVersion } from './engine-options.js';

export class PartitionEngine {
  readonly partition: number;
  private readonly topicCount: number;
  private readonly excludeBots: boolean;
  private readonly clock: PartitionClock;
  private readonly kpis: KpiWindows;
  private readonly urls: UrlWindows;
  private readonly sessions: OpenSessions;
  /** Visitor and session ids of the events in open KPI and URL windows, as the handles their distinct sets hold. */
  private readonly visitorIds = new Handles();
  private readonly sessionIds = new Handles();
  /**
   * From the checkpoint after a restart (E and U): windows ending at or before these, and sessions
   * closed before the watermark, were final and written; a replay rebuilds them only partly and
   * must not write them.
   */
  private restoredWatermark = -Infinity;
  private restoredUrlHorizon = -Infinity;
  /** Per topic: the first offset some open structure still needs, as of the last drain. */
  private holdMin: number[];
  /** As of the last drain (what a commit after writing that drain may claim). */
  private drainNext: number[];
  private drainWatermark = -Infinity;
  private drainUrlHorizon = -Infinity;
  /** Late events counted since the last `takeLate()`, by reason. */
  private late: Record<LateReason, number> = { behind_partition: 0, behind_watermark: 0 };
  /** Repeated events dropped since the last `takeRepeats()`. */
  private repeats = 0;
  /** Per topic: the events counted in its last offsets, with their sessions (what decides a repeat). */
  private readonly recent: RecentCounts<SessionState>[];
  /** EngineOptions.catchUpRecords (0: never catching up). */
  private readonly catchUpRecords: number;

  constructor(options: EngineOptions) {
    this.partition = options.partition;
    this.catchUpRecords = options.catchUpRecords ?? 0;
    this.topicCount = options.topics.length;
    this.excludeBots = options.excludeBots;
    this.clock = new PartitionClock(this.topicCount, options.latenessMs);
    this.kpis = new KpiWindows(this.partition, this.topicCount, options.windows, this.visitorIds, this.sessionIds);
    this.urls = new UrlWindows(this.partition, this.topicCount, options.urlWindowMs, this.visitorIds);
    this.sessions = new OpenSessions(this.partition, this.topicCount, options.sessionGapMs);
    this.holdMin = new Array<number>(this.topicCount).fill(Infinity);
    this.drainNext = new Array<number>(this.topicCount).fill(-1);
    this.recent = Array.from({ length: this.topicCount }, () => new RecentCounts<SessionState>(options.repeatHorizon ?? DEFAULT_REPEAT_HORIZON));
  }

  /**
   * Before the first event: the committed offset of topic `t` (null when the group never
   * committed) and the checkpoint that came with it.
   */
  restore(t: number, committed: number | null, cp: Checkpoint | null): void {
    const restored = cp && cp.v === 1 ? cp : null;
    if (restored) {
      this.restoredWatermark = Math.max(this.restoredWatermark, timeOrNone(restored.E));
      this.restoredUrlHorizon = Math.max(this.restoredUrlHorizon, timeOrNone(restored.U));
      this.urls.horizon = Math.max(this.urls.horizon, timeOrNone(restored.U));
    }
    this.clock.restore(t, committed, restored && { maxTsBefore: timeOrNone(restored.m), processedUntil: restored.P });
    const next = this.clock.next[t];
    this.holdMin[t] = next >= 0 ? next : Infinity;
    this.drainNext[t] = next;
    this.drainWatermark = this.clock.watermark;
    this.drainUrlHorizon = this.urls.horizon;
  }

  /**
   * Log start and end offsets of topic `t`, freshly read by the consumer; `pollDone()` applies
   * the readings of all topics at once.
   */
  setLogOffsets(t: number, low: number, high: number): void {
    this.clock.setLogOffsets(t, low, high);
  }

  /**
   * The end offsets just set are current: every topic-partition read up to its end is idle
   * until the next event of the partition (any topic) arrives.
   */
  pollDone(): void {
    this.clock.pollDone();
  }

  get watermark(): number {
    return this.clock.watermark;
  }

  /**
   * Every topic of the partition was read up to its log end at the last poll of end offsets, and
   * no event arrived since: nothing in Kafka can move the watermark.
   */
  get quiet(): boolean {
    return this.clock.quiet;
  }

  /**
   * Moves the watermark up to `to` (never back), for a partition that has been quiet for long:
   * the caller's clock stands in for the events that do not come, so the last windows become
   * final and sessions close. Not a function of the input: see ARCHITECTURE.md on what it means
   * for a replay.
   */
  advanceWatermark(to: number): void {
    this.clock.advance(to);
  }

  /** True while a replay after a restart has not yet reached the offsets processed before. */
  get replaying(): boolean {
    return this.clock.replaying;
  }

  /** True while a topic's log is more than `catchUpRecords` ahead of what was read: only final documents are written. */
  get catchingUp(): boolean {
    return this.catchUpRecords > 0 && this.clock.behind > this.catchUpRecords;
  }

  get openWindows(): number {
    return this.kpis.size + this.urls.size;
  }
  get openSessions(): number {
    return this.sessions.size;
  }

  /** Repeats (an event id already counted in its open session) dropped since the last call. */
  takeRepeats(): number {
    const out = this.repeats;
    this.repeats = 0;
    return out;
  }

  /** Late events since the last call, by reason. */
  takeLate(): Record<LateReason, number> {
    const out = this.late;
    this.late = { behind_partition: 0, behind_watermark: 0 };
    return out;
  }

  /** One event of topic `t` at `offset`; offsets of one topic must come in increasing order. */
  add(e: AnalyticsEvent, t: number, offset: number): AddResult {
    if (!this.clock.accept(t, offset)) return 'skipped';
    const ts = eventTimeMs(e.timestamp);
    if (!Number.isFinite(ts)) {
      this.clock.skipTime();
      return 'invalid';
    }
    const lateReason = this.clock.observe(t, offset, ts);
    if (this.excludeBots && e.is_bot) return 'bot';
    // The same record twice on Kafka (a send stored although the gateway answered 503, retried
    // with the same id): the first offset counts, if its open session counted it within the
    // repeat horizon (recent-counts.ts: why a replay decides the same).
    const id = repeatKey(e);
    const by = this.recent[t].countedBy(id, offset);
    if ((by !== undefined && !by.closed && this.sessions.get(e.session_id) === by) || this.kpis.holdsLate(id)) {
      this.repeats++;
      return 'repeat';
    }
    if (lateReason) {
      this.late[lateReason]++;
      this.kpis.addLate(e, t, offset, this.clock.lateAt);
      return 'late';
    }
    // The event's ids are fresh copies (every record is parsed anew): hashed once here, then the
    // structures share the partition's one copy of each.
    const visitor = this.visitorIds.of(e.visitor_id);
    const session = this.sessionIds.of(e.session_id);
    this.kpis.add(e, t, offset, ts, visitor, session);
    const cell = this.urls.add(e, t, offset, ts, visitor);
    this.recent[t].counted(id, offset, this.sessions.add(e, t, offset, ts, this.urls, cell, this.sessionIds.text(session)));
    return 'ok';
  }

  /**
   * Seals what the watermark has passed and returns the documents to write: final documents of
   * sealed structures (always), and the current value of the open structures that changed since
   * they were last written (not while replaying): every kind when `provisional` is true, only the
   * KPI windows when it is `'kpis'` (they are few and what freshness is measured on; sessions and
   * URL stats are many and may wait for the next full emit), every kind but the KPI windows when
   * it is `'others'` (the caller writes those with `openKpiDocs`, on a cadence of their own). Also
   * computes how far each topic may be committed.
   */
  drain(provisional: boolean | 'kpis' | 'others'): OutDoc[] {
    const live = provisional !== false && !this.clock.replaying && !this.catchingUp;
    const ctx: DrainContext = {
      watermark: this.clock.watermark,
      emitOpen: live && (provisional === true || provisional === 'others'),
      hold: this.clock.next.map((x) => (x >= 0 ? x : Infinity)),
      out: [],
    };
    // The consumer may go on adding events while these documents are written: what a commit
    // after the write may claim is fixed here.
    this.drainNext = [...this.clock.next];
    this.drainWatermark = ctx.watermark;
    // Sessions first: settling page views feeds the URL windows sealed below.
    this.sessions.drain(ctx, this.restoredWatermark, this.urls);
    this.kpis.drain({ ...ctx, emitOpen: live && provisional !== 'others' }, this.restoredWatermark);
    this.urls.drain(ctx, this.restoredUrlHorizon);
    this.holdMin = ctx.hold;
    this.drainUrlHorizon = this.urls.horizon;
    return ctx.out;
  }

  /**
   * The current documents of the open KPI windows that changed since they were last written (none
   * while replaying), between drains: nothing is sealed and the commit point does not move, so a
   * crash after writing them loses nothing (the open windows hold the commit; a replay rewrites
   * them). The caller writes them before any later drain's documents of the same windows.
   */
  openKpiDocs(): OutDoc[] {
    if (this.clock.replaying || this.catchingUp) return [];
    const out: OutDoc[] = [];
    this.kpis.emitOpen(out, this.restoredWatermark);
    return out;
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
      m: timeOrNull(this.clock.maxBefore(t, offset)),
      // After a restart the watermark starts below the restored horizon; never lower it.
      E: timeOrNull(Math.max(this.drainWatermark, this.restoredWatermark)),
      U: timeOrNull(Math.max(this.drainUrlHorizon, this.restoredUrlHorizon)),
      P: this.drainNext[t] >= 0 ? this.drainNext[t] : null,
    };
  }

  /** The offset was committed: forget what only an older commit point needed. */
  committed(t: number, offset: number): void {
    this.clock.committed(t, offset);
  }
}
