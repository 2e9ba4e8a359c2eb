/**
 * The open URL x country windows of one partition. They seal oldest first, each once the
 * watermark passed it and none of its page views waits for its time on page (the session
 * settles those), so "every URL window ending at or before the horizon is final" holds. Part of
 * the analytics engine (engine.ts).
 */
import type { UrlStatsDoc } from '../../contracts/documents.js';
import type { AnalyticsEvent } from './analytics-event.js';
import * as kpi from './kpi.js';
import { drainBucket, lowerEach, touch, type UrlBucket, type UrlCell } from './buckets.js';
import { iso, type DrainContext, type OutDoc } from './engine-options.js';
import type { Handles } from './handles.js';
import type { VisitTime } from './session.js';
import { addUrlEvent, addUrlTime, initUrl, urlResult, urlStatsId } from './url-stats.js';
import { bucketStart } from './windows.js';

export class UrlWindows {
  private readonly partition: number;
  private readonly topicCount: number;
  private readonly sizeMs: number;
  /** The partition's visitor ids: the users' sets hold their handles. */
  private readonly visitorIds: Handles;
  private readonly buckets = new Map<number, UrlBucket>();
  /** The bucket `bucket` gave last: most events fall in it, and a lookup by a start in ms boxed the number. */
  private lastBucket: UrlBucket | null = null;
  /** Every URL window ending at or before this is sealed. */
  horizon = -Infinity;

  constructor(partition: number, topicCount: number, sizeMs: number, visitorIds: Handles) {
    this.partition = partition;
    this.visitorIds = visitorIds;
    this.topicCount = topicCount;
    this.sizeMs = sizeMs;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Start of the URL window holding event time `ts`. */
  startOf(ts: number): number {
    return bucketStart(ts, this.sizeMs);
  }

  /**
   * An on-time event at event time `ts`, of the visitor with this handle; returns the cell that
   * counted it (where its time on page goes, for a page view).
   */
  add(e: AnalyticsEvent, t: number, offset: number, ts: number, visitor: number): UrlCell {
    const b = this.bucket(this.startOf(ts), t, offset);
    const cell = this.cell(b, e.url, e.country, e.site_id);
    if (addUrlEvent(cell.acc, e, visitor)) this.visitorIds.ref(visitor);
    return cell;
  }

  /** A page view at `ts` whose time on page is not known yet: its window stays open until `settle`. */
  addPendingView(ts: number, t: number, offset: number): void {
    this.bucket(this.startOf(ts), t, offset).pending++;
  }

  /**
   * A pending page view got its time on page; the window keeps the offsets of the session that
   * settled it (`sessionMinOff`), since that session's events decided the time.
   */
  settle(v: VisitTime<UrlCell>, sessionMinOff: readonly number[], sessionId: string): void {
    const start = this.startOf(v.ts);
    const b = this.buckets.get(start);
    // A URL window with a pending view is never sealed, so it must still be here.
    if (!b) throw new Error(`engine invariant broken: URL window ${iso(start)} sealed with a page view of session ${sessionId} pending`);
    // The view's own cell (`add` returned it): it is in this window, which its pending view kept open.
    addUrlTime(v.place.acc, v.ms);
    touch(b, v.place);
    b.pending--;
    lowerEach(b.minOff, sessionMinOff);
  }

  /** A session closed: the windows holding its page views, if still open, keep its offsets. */
  sessionClosed(starts: Iterable<number>, sessionMinOff: readonly number[]): void {
    for (const start of starts) {
      const b = this.buckets.get(start);
      if (b) lowerEach(b.minOff, sessionMinOff);
    }
  }

  /** Seals windows oldest first (final documents unless at or before `restoredHorizon`) and emits changed open ones when asked. */
  drain(ctx: DrainContext, restoredHorizon: number): void {
    const starts = [...this.buckets.keys()].sort((a, b) => a - b);
    let sealing = true;
    for (const start of starts) {
      const b = this.buckets.get(start);
      if (!b) throw new Error(`engine invariant broken: URL window ${iso(start)} vanished during its drain`);
      const sealed = sealing && ctx.watermark >= b.end && b.pending === 0;
      if (!sealed) sealing = false;
      drainBucket(b, sealed, b.end <= restoredHorizon, (cell) => this.doc(b, cell, sealed), ctx);
      if (!sealed) continue;
      if (b.end > this.horizon) this.horizon = b.end;
      this.buckets.delete(start);
      if (this.lastBucket === b) this.lastBucket = null;
      for (const cell of b.cells) cell.acc.users.forEach((h) => this.visitorIds.unref(h));
    }
  }

  private bucket(start: number, t: number, offset: number): UrlBucket {
    let b = this.lastBucket !== null && this.lastBucket.start === start ? this.lastBucket : this.buckets.get(start);
    if (!b) {
      const end = start + this.sizeMs;
      b = { start, end, startIso: iso(start), endIso: iso(end), minOff: new Array<number>(this.topicCount).fill(Infinity), cells: [], changed: [], byUrl: new Map(), pending: 0 };
      this.buckets.set(start, b);
    }
    if (offset < b.minOff[t]) b.minOff[t] = offset;
    this.lastBucket = b;
    return b;
  }

  /** The cell of a URL, country and site in window `b`, marked changed. */
  private cell(b: UrlBucket, url: string, country: string | null, site: string | null): UrlCell {
    const c = country || kpi.UNKNOWN;
    let byCountry = b.byUrl.get(url);
    if (!byCountry) b.byUrl.set(url, (byCountry = new Map()));
    let cells = byCountry.get(c);
    if (!cells) byCountry.set(c, (cells = []));
    let cell: UrlCell | undefined;
    for (let i = 0; i < cells.length && !cell; i++) if (cells[i].site_id === site) cell = cells[i];
    if (!cell) {
      cell = { url, country: c, site_id: site, acc: initUrl(), changed: false };
      cells.push(cell);
      b.cells.push(cell);
    }
    touch(b, cell);
    return cell;
  }

  private doc(b: UrlBucket, cell: UrlCell, final: boolean): OutDoc {
    const doc: UrlStatsDoc = {
      window_start: b.startIso,
      window_end: b.endIso,
      url: cell.url,
      country: cell.country,
      site_id: cell.site_id,
      partition: this.partition,
      ...urlResult(cell.acc),
      final,
    };
    return { index: 'urlStats', id: (cell.id ??= urlStatsId(doc)), doc };
  }
}
