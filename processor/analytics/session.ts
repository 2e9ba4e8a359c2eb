/**
 * Sessions and time on page, as pure functions.
 *
 * A session is every event carrying one `session_id` (the SDK starts a new id after 30 minutes
 * without an event). Its document is a function of the SET of its events: start and end are the
 * smallest and largest event times, entry and exit pages the first and last page view in
 * (time, event id) order, so the arrival order of the four topics never changes it.
 *
 * Time on page (seed 000's aggregate, done correctly): the session's page views sorted by
 * (time, event id); a view's time is the time until the next view of the same session. The last
 * view of a session has no following view: its time is the sum of the `engagement_ms` reports the
 * SDK's engagement plugin sent for that URL after it, if any; otherwise it is left out of the
 * average (counted in `views_without_time`), because nothing says when the visitor left.
 */
import { addRevenue, revenueList, toRevenueUnits, type SessionDoc as SessionDocument } from '../../contracts/documents.js';
import { isView, UNKNOWN, type KpiEvent } from './kpi.js';

/** Total order of events inside a session: time, then event id. */
export function before(aTs: number, aId: string, bTs: number, bId: string): boolean {
  return aTs < bTs || (aTs === bTs && aId < bId);
}

export type SessionEvent = KpiEvent;

interface Mark {
  ts: number;
  id: string;
}
interface PageMark extends Mark {
  url: string;
}

export interface SessionAcc {
  sessionId: string;
  first: (Mark & { visitor_id: string; site_id: string | null; country: string | null; device_type: string | null }) | null;
  start: number;
  end: number;
  events: number;
  pages: number;
  entry: PageMark | null;
  exit: PageMark | null;
  addedToCart: boolean;
  purchased: boolean;
  revenue: Map<string, { purchases: number; units: number }>;
}

/** A session document without its partition (the engine's). */
export type SessionDoc = Omit<Required<SessionDocument>, 'partition'>;

export function initSession(sessionId: string): SessionAcc {
  return {
    sessionId,
    first: null,
    start: Infinity,
    end: -Infinity,
    events: 0,
    pages: 0,
    entry: null,
    exit: null,
    addedToCart: false,
    purchased: false,
    revenue: new Map(),
  };
}

/**
 * Adds one event at event time `ts` (epoch ms); `url`: its URL (the caller's one copy of it, when
 * it keeps one). Mutates and returns `acc`.
 */
export function addToSession(acc: SessionAcc, e: SessionEvent, ts: number, url = e.url): SessionAcc {
  acc.events++;
  if (ts < acc.start) acc.start = ts;
  if (ts > acc.end) acc.end = ts;
  if (!acc.first || before(ts, e.event_id, acc.first.ts, acc.first.id)) {
    acc.first = { ts, id: e.event_id, visitor_id: e.visitor_id, site_id: e.site_id, country: e.country, device_type: e.device_type };
  }
  if (isView(e)) {
    acc.pages++;
    if (!acc.entry || before(ts, e.event_id, acc.entry.ts, acc.entry.id)) acc.entry = { ts, id: e.event_id, url };
    // Most views are the latest: the mark is moved, not made anew (the marks are the session's own).
    if (!acc.exit) acc.exit = { ts, id: e.event_id, url };
    else if (before(acc.exit.ts, acc.exit.id, ts, e.event_id)) setMark(acc.exit, ts, e.event_id, url);
  } else if (e.event_type === 'add_to_cart') {
    acc.addedToCart = true;
  } else if (e.event_type === 'purchase') {
    acc.purchased = true;
    addRevenue(acc.revenue, e.currency || UNKNOWN, 1, toRevenueUnits(e.revenue));
  }
  return acc;
}

function setMark(m: PageMark, ts: number, id: string, url: string): void {
  m.ts = ts;
  m.id = id;
  m.url = url;
}

export function sessionResult(acc: SessionAcc, closed: boolean): SessionDoc {
  return {
    session_id: acc.sessionId,
    visitor_id: acc.first?.visitor_id ?? '',
    site_id: acc.first?.site_id ?? null,
    start: new Date(acc.start).toISOString(),
    end: new Date(acc.end).toISOString(),
    duration_ms: acc.end - acc.start,
    pages: acc.pages,
    events: acc.events,
    entry_page: acc.entry?.url ?? null,
    exit_page: acc.exit?.url ?? null,
    country: acc.first?.country ?? null,
    device_type: acc.first?.device_type ?? null,
    added_to_cart: acc.addedToCart,
    purchased: acc.purchased,
    revenue_by_currency: revenueList(acc.revenue),
    closed,
  };
}

// ---------------------------------------------------------------------------
// Time on page.

/**
 * Where a page view's time on page goes: its URL (engagement reports are matched on it) and
 * whatever the caller files the time under. The engine passes the view's URL x country cell, so
 * a view waiting for its time holds a reference instead of its own URL, country and site strings
 * (page views wait up to the allowed lateness: at 10,000 events/s about 190,000 of them).
 */
export interface ViewPlace {
  readonly url: string;
}
export interface Visit<P extends ViewPlace = ViewPlace> {
  ts: number;
  id: string;
  place: P;
}
export interface VisitTime<P extends ViewPlace = ViewPlace> extends Visit<P> {
  /** Time on page in ms, or null when it cannot be known (last view, no engagement report). */
  ms: number | null;
}
interface Report extends Mark {
  url: string;
  ms: number;
}

/** Reference definition over a whole session (any order): one entry per page view. */
export function visitTimes(events: { ts: number; e: SessionEvent }[]): VisitTime<{ url: string; country: string | null; site_id: string | null }>[] {
  const sorted = [...events].sort((a, b) => (before(a.ts, a.e.event_id, b.ts, b.e.event_id) ? -1 : before(b.ts, b.e.event_id, a.ts, a.e.event_id) ? 1 : 0));
  const views = sorted.filter((x) => isView(x.e));
  return views.map((v, i) => {
    const visit = { ts: v.ts, id: v.e.event_id, place: { url: v.e.url, country: v.e.country, site_id: v.e.site_id } };
    const next = views[i + 1];
    if (next) return { ...visit, ms: next.ts - v.ts };
    let engaged = 0;
    for (const x of sorted) {
      if (x.e.event_type === 'page_view' && !isView(x.e) && x.e.url === v.e.url && before(v.ts, v.e.event_id, x.ts, x.e.event_id)) engaged += x.e.engagement_ms ?? 0;
    }
    return { ...visit, ms: engaged > 0 ? engaged : null };
  });
}

/**
 * The same definition, computed incrementally while events arrive in any order within the
 * allowed lateness. `finalize(wm)` settles every view whose successor is older than the
 * watermark (no on-time event can fall between them any more); `close()` settles the rest when
 * the session ends. The views handed out equal `visitTimes` over the whole session.
 */
export class VisitTracker<P extends ViewPlace = ViewPlace> {
  /**
   * Page views not settled yet, in (time, id) order, as three parallel arrays (no object and no
   * boxed time per view: the times stay a packed array of doubles).
   */
  private times: number[] = [];
  private ids: string[] = [];
  private places: P[] = [];
  /** The latest page view seen (settled or not). */
  private latest: Mark | null = null;
  /** Engagement reports after the latest view: only those can count for the last view. */
  private reports: Report[] = [];

  /** How many page views wait for their time. */
  get unsettled(): number {
    return this.times.length;
  }

  /** Event time of the i-th page view waiting for its time, in (time, id) order. */
  unsettledAt(i: number): number {
    return this.times[i];
  }

  /** An event of the session at `ts`; `place` is where a page view's time goes (unused for other events). */
  add(e: SessionEvent, ts: number, place: P): void {
    if (isView(e)) {
      let i = this.times.length;
      while (i > 0 && before(ts, e.event_id, this.times[i - 1], this.ids[i - 1])) i--;
      if (i === this.times.length) {
        this.times.push(ts);
        this.ids.push(e.event_id);
        this.places.push(place);
      } else {
        this.times.splice(i, 0, ts);
        this.ids.splice(i, 0, e.event_id);
        this.places.splice(i, 0, place);
      }
      if (!this.latest) this.latest = { ts, id: e.event_id };
      else if (before(this.latest.ts, this.latest.id, ts, e.event_id)) {
        this.latest.ts = ts;
        this.latest.id = e.event_id;
      } else return;
      if (this.reports.length > 0) this.reports = this.reports.filter((r) => before(ts, e.event_id, r.ts, r.id));
    } else if (e.event_type === 'page_view') {
      if (!this.latest || before(this.latest.ts, this.latest.id, ts, e.event_id)) {
        this.reports.push({ ts, id: e.event_id, url: e.url, ms: e.engagement_ms ?? 0 });
      }
    }
  }

  /** Settles every view followed by a view older than `watermark`. */
  finalize(watermark: number): VisitTime<P>[] {
    const out: VisitTime<P>[] = [];
    while (this.times.length >= 2 && this.times[1] < watermark) {
      const ts = this.times.shift()!;
      out.push({ ts, id: this.ids.shift()!, place: this.places.shift()!, ms: this.times[0] - ts });
    }
    return out;
  }

  /** The session is over: settles every remaining view. */
  close(): VisitTime<P>[] {
    const out = this.finalize(Infinity);
    if (this.times.length > 0) {
      const last: Visit<P> = { ts: this.times[0], id: this.ids[0], place: this.places[0] };
      this.times = [];
      this.ids = [];
      this.places = [];
      let engaged = 0;
      for (const r of this.reports) if (r.url === last.place.url && before(last.ts, last.id, r.ts, r.id)) engaged += r.ms;
      out.push({ ...last, ms: engaged > 0 ? engaged : null });
    }
    this.reports = [];
    return out;
  }
}
