/**
 * The open sessions of one partition: each closes `sessionGapMs` of event time after its last
 * event, and settles the time on page of its views as the watermark passes them (that time goes
 * to the views' URL windows). Part of the analytics engine (engine.ts).
 *
 * Speed: a busy site has hundreds of thousands of sessions open (30 minutes each), so a drain
 * never visits them all. Each session is filed under the second of its next due time (when the
 * watermark passing it settles a view or closes the session), or an earlier one; a drain visits
 * only the seconds the watermark has passed. What open sessions hold back of the commit comes from one queue per
 * topic of the sessions' first offsets, in offset order (offsets of a topic only grow): its head,
 * once closed sessions are dropped from the front.
 */
import type { AnalyticsEvent } from './analytics-event.js';
import { isView } from './kpi.js';
import type { SessionState, UrlCell } from './buckets.js';
import type { DrainContext, OutDoc } from './engine-options.js';
import { addToSession, initSession, sessionResult, VisitTracker } from './session.js';
import type { UrlWindows } from './url-windows.js';

/** Width of a due slot. */
const SLOT_MS = 1000;

/** First offsets of sessions in one topic, in the order they came (ascending). */
class FirstOffsets {
  private offsets: number[] = [];
  private sessions: SessionState[] = [];
  private head = 0;

  push(offset: number, s: SessionState): void {
    this.offsets.push(offset);
    this.sessions.push(s);
  }

  /** The smallest first offset of an open session (Infinity: none). */
  min(): number {
    while (this.head < this.sessions.length && this.sessions[this.head].closed) this.head++;
    if (this.head > 1024 && this.head * 2 > this.sessions.length) {
      this.offsets = this.offsets.slice(this.head);
      this.sessions = this.sessions.slice(this.head);
      this.head = 0;
    }
    return this.head < this.offsets.length ? this.offsets[this.head] : Infinity;
  }
}

export class OpenSessions {
  private readonly partition: number;
  private readonly gapMs: number;
  private readonly topicCount: number;
  private readonly sessions = new Map<string, SessionState>();
  /** Sessions changed and not yet written. */
  private readonly dirty = new Set<SessionState>();
  /** Due slot -> the sessions due in it. */
  private readonly slots = new Map<number, Set<SessionState>>();
  private readonly firstOffsets: FirstOffsets[];
  private lastDrainWatermark = NaN;

  constructor(partition: number, topicCount: number, gapMs: number) {
    this.partition = partition;
    this.topicCount = topicCount;
    this.gapMs = gapMs;
    this.firstOffsets = Array.from({ length: topicCount }, () => new FirstOffsets());
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The open session with this id, if any. */
  get(sessionId: string): SessionState | undefined {
    return this.sessions.get(sessionId);
  }

  /**
   * An on-time event at event time `ts`, counted in `cell` of `urls` (its page view, if it is one,
   * waits there for its time on page); `sessionId` is its session id (the engine's one copy of it).
   */
  add(e: AnalyticsEvent, t: number, offset: number, ts: number, urls: UrlWindows, cell: UrlCell, sessionId = e.session_id): SessionState {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = {
        acc: initSession(sessionId),
        visits: new VisitTracker<UrlCell>(),
        minOff: new Array<number>(this.topicCount).fill(Infinity),
        urlWindows: new Set(),
        lastUrlWindow: NaN,
        dirty: false,
        slot: NaN,
        closed: false,
      };
      this.sessions.set(sessionId, s);
    }
    if (offset < s.minOff[t]) {
      s.minOff[t] = offset;
      this.firstOffsets[t].push(offset, s);
    }
    addToSession(s.acc, e, ts, cell.url);
    s.visits.add(e, ts, cell);
    if (!s.dirty) {
      s.dirty = true;
      this.dirty.add(s);
    }
    if (isView(e)) {
      const start = urls.startOf(ts);
      if (start !== s.lastUrlWindow) {
        s.urlWindows.add(start);
        s.lastUrlWindow = start;
      }
      urls.addPendingView(ts, t, offset);
    }
    this.file(s, true);
    return s;
  }

  /**
   * Settles page views the watermark has passed (their time on page goes to `urls`), closes
   * sessions `gapMs` behind it (final documents, unless closed before `restoredWatermark`:
   * written before a restart), emits changed open ones when asked, and lowers the hold to what
   * open sessions need. Only a moved watermark can settle views or close sessions (an on-time
   * event is never behind the watermark, so it makes nothing due).
   */
  drain(ctx: DrainContext, restoredWatermark: number, urls: UrlWindows): void {
    const { watermark, out } = ctx;
    if (watermark !== this.lastDrainWatermark) {
      this.lastDrainWatermark = watermark;
      for (const [slot, due] of this.slots) {
        if (slot * SLOT_MS >= watermark) continue;
        for (const s of due) this.settle(s, watermark, restoredWatermark, urls, out);
      }
    }
    for (const s of this.dirty) {
      if (s.acc.end + this.gapMs < restoredWatermark) s.dirty = false; // written before the restart
      else if (ctx.emitOpen) {
        out.push(this.doc(s, false));
        s.dirty = false;
      } else continue;
      this.dirty.delete(s);
    }
    for (let t = 0; t < this.topicCount; t++) {
      const min = this.firstOffsets[t].min();
      if (min < ctx.hold[t]) ctx.hold[t] = min;
    }
  }

  /** A session the watermark may have made due: settles its views, closes it or files it again. */
  private settle(s: SessionState, watermark: number, restoredWatermark: number, urls: UrlWindows, out: OutDoc[]): void {
    const closesAt = s.acc.end + this.gapMs;
    const closed = watermark > closesAt;
    const settled = s.visits.finalize(watermark);
    if (closed) settled.push(...s.visits.close());
    for (const v of settled) urls.settle(v, s.minOff, s.acc.sessionId);
    if (!closed) {
      this.file(s);
      return;
    }
    urls.sessionClosed(s.urlWindows, s.minOff);
    if (closesAt >= restoredWatermark) out.push(this.doc(s, true));
    s.closed = true;
    this.sessions.delete(s.acc.sessionId);
    this.dirty.delete(s);
    this.unfile(s);
  }

  /**
   * Files the session under the slot of its next due time: its second unsettled view (which
   * settles the first) or its close. `early`: a slot before that one will do (a drain that finds
   * it not due yet files it again, exactly): an event of a session mostly moves its due time later
   * (its close), and moving it between slots at every event cost two set operations.
   */
  private file(s: SessionState, early = false): void {
    const closesAt = s.acc.end + this.gapMs;
    const second = s.visits.unsettled >= 2 ? s.visits.unsettledAt(1) : Infinity;
    const due = second < closesAt ? second : closesAt;
    const slot = Math.floor(due / SLOT_MS);
    if (slot === s.slot || (early && slot > s.slot)) return;
    this.unfile(s);
    let set = this.slots.get(slot);
    if (!set) this.slots.set(slot, (set = new Set()));
    set.add(s);
    s.slot = slot;
  }

  private unfile(s: SessionState): void {
    if (Number.isNaN(s.slot)) return;
    const set = this.slots.get(s.slot);
    if (set) {
      set.delete(s);
      if (set.size === 0) this.slots.delete(s.slot);
    }
    s.slot = NaN;
  }

  private doc(s: SessionState, closed: boolean): OutDoc {
    return { index: 'sessions', id: s.acc.sessionId, doc: { ...sessionResult(s.acc, closed), partition: this.partition } };
  }
}
