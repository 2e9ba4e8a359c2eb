/**
 * The open sessions of one partition: each closes `sessionGapMs` of event time after its last
 * event, and settles the time on page of its views as the watermark passes them (that time goes
 * to the views' URL windows). Part of the analytics engine (engine.ts).
 */
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { isView } from './kpi.js';
import { lowerEach, type SessionState } from './buckets.js';
import type { DrainContext, OutDoc } from './engine-options.js';
import { addToSession, initSession, sessionResult, VisitTracker } from './session.js';
import type { UrlWindows } from './url-windows.js';

export class OpenSessions {
  private readonly partition: number;
  private readonly topicCount: number;
  private readonly gapMs: number;
  private readonly sessions = new Map<string, SessionState>();
  /** Sessions changed since the last drain (or changed and not yet written). */
  private readonly dirty = new Set<SessionState>();
  /** Smallest first offset per topic over open sessions, as of the last full visit. */
  private hold: number[];
  private lastDrainWatermark = NaN;

  constructor(partition: number, topicCount: number, gapMs: number) {
    this.partition = partition;
    this.topicCount = topicCount;
    this.gapMs = gapMs;
    this.hold = new Array<number>(topicCount).fill(Infinity);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The event's open session already counted an event with this repeat key. */
  holds(sessionId: string, id: string): boolean {
    return this.sessions.get(sessionId)?.ids.has(id) ?? false;
  }

  /** An on-time event at event time `ts` (its page view, if it is one, waits in `urls` for its time on page). */
  add(e: EnrichedEvent, t: number, offset: number, ts: number, id: string, urls: UrlWindows): void {
    let s = this.sessions.get(e.session_id);
    if (!s) {
      s = { acc: initSession(e.session_id), visits: new VisitTracker(), minOff: new Array<number>(this.topicCount).fill(Infinity), urlWindows: new Set(), dirty: true, ids: new Set() };
      this.sessions.set(e.session_id, s);
    }
    s.ids.add(id);
    if (offset < s.minOff[t]) s.minOff[t] = offset;
    addToSession(s.acc, e, ts);
    s.visits.add(e, ts);
    s.dirty = true;
    this.dirty.add(s);
    if (isView(e)) {
      s.urlWindows.add(urls.startOf(ts));
      urls.addPendingView(ts, t, offset);
    }
  }

  /**
   * Settles page views the watermark has passed (their time on page goes to `urls`), closes
   * sessions `gapMs` behind it (final documents, unless closed before `restoredWatermark`:
   * written before a restart), emits changed open ones when asked, and lowers the hold to what
   * open sessions need. Only a moved watermark can settle views or close sessions; otherwise
   * only the sessions that changed are visited (their offsets were already part of the hold,
   * which new sessions cannot lower).
   */
  drain(ctx: DrainContext, restoredWatermark: number, urls: UrlWindows): void {
    const { watermark, hold, out } = ctx;
    const full = watermark !== this.lastDrainWatermark;
    this.lastDrainWatermark = watermark;
    const visit: Iterable<SessionState> = full ? this.sessions.values() : [...this.dirty];
    this.dirty.clear();
    if (!full) lowerEach(hold, this.hold);
    const sessionHold = full ? new Array<number>(this.topicCount).fill(Infinity) : this.hold;
    for (const s of visit) {
      const closesAt = s.acc.end + this.gapMs;
      const closed = watermark > closesAt;
      const settled = s.visits.finalize(watermark);
      if (closed) settled.push(...s.visits.close());
      for (const v of settled) urls.settle(v, s.minOff, s.acc.sessionId);
      if (closed) {
        urls.sessionClosed(s.urlWindows, s.minOff);
        if (closesAt >= restoredWatermark) out.push(this.doc(s, true));
        this.sessions.delete(s.acc.sessionId);
        continue;
      }
      lowerEach(hold, s.minOff);
      lowerEach(sessionHold, s.minOff);
      if (!s.dirty) continue;
      if (closesAt < restoredWatermark) s.dirty = false; // written before the restart
      else if (ctx.emitOpen) {
        out.push(this.doc(s, false));
        s.dirty = false;
      } else this.dirty.add(s);
    }
    this.hold = sessionHold;
  }

  private doc(s: SessionState, closed: boolean): OutDoc {
    return { index: 'sessions', id: s.acc.sessionId, doc: { ...sessionResult(s.acc, closed), partition: this.partition } };
  }
}
