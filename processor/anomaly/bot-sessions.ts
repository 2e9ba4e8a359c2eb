/**
 * Bot-like sessions, found by an isolation forest over what a session did (not what its user
 * agent claims): it complements the gateway's user-agent flag (`is_bot`) by catching scripts that
 * pretend to be browsers. Sessions are followed from their events; when one closes (no event for
 * `sessionGapMs` of event time) it is scored by the current model, and the model is retrained
 * on the most recent closed sessions every `refreshMs` of event time. Pure and deterministic.
 *
 * Deterministic whatever the order lanes (partitions) are read in: each lane closes its sessions
 * by its own clock (the caller's: the partition's event time across its topics, so a topic read
 * ahead of another of the same partition does not cut the sessions in two), and closed sessions
 * are scored and added to the training rows in one order, (end, id), once every lane that is not
 * idle has passed their closing time. So the training rows, the moments the model is retrained
 * and the model scoring each session are a function of the sessions only (before, the first model
 * was trained on whichever 200 sessions the partitions read first happened to close, and a
 * session's score moved with it).
 *
 * Features (all computed from the session's own events; see SESSION_FEATURES):
 */
import { IsolationForest } from './isolation-forest.js';
import { MinHeap } from './min-heap.js';

export const SESSION_FEATURES = [
  /** log(1 + events per second over the session's duration, duration floored at 1 s). */
  'log_events_per_s',
  /** Coefficient of variation of the gaps between events (scripts are regular: near 0). 1 when < 3 events. */
  'gap_cv',
  /** log(1 + clicks per page view): clicks without pages to show them. */
  'log_clicks_per_view',
  /** log(1 + page views). */
  'log_pages',
  /** Distinct URLs / events, both counted up to 64 (whatever order the events came in): a crawler walks many URLs, a burst hammers one. */
  'distinct_url_ratio',
  /** User agent class: 0 a known browser, 1 no browser recognised, 2 flagged as a bot. */
  'ua_class',
] as const;

export interface SessionEvent {
  session_id: string;
  visitor_id: string;
  site_id: string | null;
  event_type: string;
  /** Event time, epoch ms. */
  t: number;
  url: string;
  browser: string | null;
  is_bot: boolean;
  /**
   * The event's own clock: sessions of one lane close by that lane's event time only (the
   * processor passes the partition: its partitions are consumed unevenly, and a partition read
   * ahead must not close the sessions of one behind it). Default 0.
   */
  lane?: number;
}

export interface BotSessionOptions {
  /** A session closes after this much event time without an event. */
  sessionGapMs: number;
  /** Retrain when the newest event time is this far past the last training. */
  refreshMs: number;
  /** Closed sessions kept for training (the most recent). */
  trainingSize: number;
  /** No model (and no alert) before this many closed sessions. */
  minTraining: number;
  /** Score at or above which a closed session is an alert. */
  threshold: number;
  /** Sessions with fewer events are too short to tell and never scored. */
  minEvents: number;
  /** Most open sessions followed at once (least recently active dropped first). */
  maxOpen: number;
  seed: number;
}

export const DEFAULT_BOT_OPTIONS: BotSessionOptions = {
  sessionGapMs: 1_800_000,
  refreshMs: 3_600_000,
  trainingSize: 4096,
  minTraining: 200,
  threshold: 0.64,
  minEvents: 5,
  maxOpen: 200_000,
  seed: 1,
};

interface OpenSession {
  visitor: string;
  site: string | null;
  first: number;
  last: number;
  events: number;
  views: number;
  clicks: number;
  /** Event times of its first TIME_EVENTS events (sorted at the close: the events of a partition's topics come interleaved). */
  times: number[];
  urls: Set<string>;
  uaClass: number;
}

/** A session waiting for its closing check: `at` is its `last` when (re)queued. */
interface Queued {
  at: number;
  id: string;
  s: OpenSession;
}

interface Lane {
  newest: number;
  /**
   * Its sessions by `last` when (re)queued: a lane's events come from several topics, so not in
   * time order, and a session due is always at or before the first one not due.
   */
  queue: MinHeap<Queued>;
  /** Read to its end for now (the caller says): it holds no closed session back. */
  idle: boolean;
}

interface Closed {
  id: string;
  s: OpenSession;
}

const closedOrder = (a: Closed, b: Closed) => a.s.last - b.s.last || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);


export interface BotFinding {
  session_id: string;
  visitor_id: string;
  site_id: string | null;
  start: number;
  end: number;
  score: number;
  features: Record<(typeof SESSION_FEATURES)[number], number>;
  events: number;
}

/** Distinct URLs are counted up to this many (bounds memory per session; the count does not depend on the events' order). */
const URL_EVENTS = 64;
/** What most calls return (one per event): shared, not an array per call. */
const NO_FINDINGS: readonly BotFinding[] = Object.freeze([]);

/** Gaps are measured between a session's first events only (bounds memory per session; sessions of more events depend on the order topics are read in). */
const TIME_EVENTS = 256;

export class BotSessionModel {
  readonly options: BotSessionOptions;
  private readonly open = new Map<string, OpenSession>();
  private readonly training: number[][] = [];
  private forest: IsolationForest | null = null;
  private trainedAt = -Infinity;
  private generation = 0;
  /** Per lane: its clock and its open sessions, by `last` when (re)queued. */
  private readonly lanes = new Map<number, Lane>();
  /** Sessions closed by their lane, waiting for the lanes behind to pass their closing time. */
  private closed: Closed[] = [];
  private closedHead = 0;
  private closedSorted = true;
  /**
   * The smallest `last` of the sessions waiting in `closed` (Infinity: none). While the lanes have
   * not passed its closing time nothing can be scored, and `score` returns before sorting the
   * waiting list: it was sorted again after every session closed, once per event, while a lane
   * behind held hundreds of them back.
   */
  private closedMinLast = Infinity;
  /** The lanes' slowest clock when closed sessions were last scored (never goes back). */
  private scoredUntil = -Infinity;
  /** Sessions closed before the first model: the first model scores them (a fresh start misses no bot of its first sessions). */
  private beforeModel: { id: string; s: OpenSession; row: number[] }[] = [];

  constructor(options: Partial<BotSessionOptions> = {}) {
    this.options = { ...DEFAULT_BOT_OPTIONS, ...options };
  }

  get openSessions(): number {
    return this.open.size;
  }

  get modelGeneration(): number {
    return this.generation;
  }

  /**
   * Called for each event, in offset order within its lane; `clock` is the lane's event time (the
   * default, the event's own time, is right for a lane read in event-time order). Returns the
   * sessions scored bot-like that this moved past their closing.
   */
  add(e: SessionEvent, clock = e.t): readonly BotFinding[] {
    const laneId = e.lane ?? 0;
    const lane = this.lane(laneId);
    lane.idle = false;
    let s = this.open.get(e.session_id);
    if (!s) {
      if (this.open.size >= this.options.maxOpen) this.dropOne();
      s = { visitor: e.visitor_id, site: e.site_id, first: e.t, last: e.t, events: 0, views: 0, clicks: 0, times: [], urls: new Set(), uaClass: 0 };
      this.open.set(e.session_id, s);
      lane.queue.push({ at: e.t, id: e.session_id, s });
    }
    if (s.events < TIME_EVENTS) s.times.push(e.t);
    s.events++;
    s.first = Math.min(s.first, e.t);
    s.last = Math.max(s.last, e.t);
    if (e.event_type === 'page_view') s.views++;
    if (e.event_type === 'click') s.clicks++;
    if (s.urls.size < URL_EVENTS) s.urls.add(e.url);
    s.uaClass = Math.max(s.uaClass, e.is_bot ? 2 : e.browser ? 0 : 1);
    return this.advance(clock, laneId);
  }

  /**
   * Before a lane's first event (a partition assigned): until it delivers or is idle, it holds
   * the scoring of other lanes' sessions back, so a partition fetched late is not overtaken.
   */
  openLane(laneId: number) {
    this.lane(laneId);
  }

  /** The lane is no longer this instance's: its open sessions are forgotten (the new owner replays them), its closed ones scored. */
  dropLane(laneId: number): readonly BotFinding[] {
    const lane = this.lanes.get(laneId);
    if (!lane) return NO_FINDINGS;
    for (const q of lane.queue.values()) if (this.open.get(q.id) === q.s) this.open.delete(q.id);
    this.lanes.delete(laneId);
    return this.score();
  }

  private lane(id: number): Lane {
    let l = this.lanes.get(id);
    if (!l) this.lanes.set(id, (l = { newest: -Infinity, queue: new MinHeap<Queued>((a, b) => a.at < b.at), idle: false }));
    return l;
  }

  /**
   * Moves a lane's event time forward (also without events; `idle`: the lane was read to its end
   * and holds nothing back until its next event): closes its idle sessions, and scores the closed
   * sessions no lane can still precede. A session found still active at the front of the queue
   * is queued again under its `last`, so each scan does work only for sessions due.
   */
  advance(now: number, laneId = 0, idle = false): readonly BotFinding[] {
    const lane = this.lane(laneId);
    const wasIdle = lane.idle;
    lane.idle = idle;
    if (now <= lane.newest) return idle && !wasIdle ? this.score() : NO_FINDINGS;
    lane.newest = now;
    const gap = this.options.sessionGapMs;
    for (let q = lane.queue.peek(); q !== undefined && q.at + gap <= now; q = lane.queue.peek()) {
      lane.queue.pop();
      if (this.open.get(q.id) !== q.s) continue; // dropped
      if (q.s.last + gap <= now) {
        this.open.delete(q.id);
        this.closed.push({ id: q.id, s: q.s });
        this.closedSorted = false;
        if (q.s.last < this.closedMinLast) this.closedMinLast = q.s.last;
      } else lane.queue.push({ at: q.s.last, id: q.id, s: q.s });
    }
    return this.score();
  }

  /**
   * Scores, in (end, id) order, the closed sessions whose closing time every lane that is not idle
   * has passed (past maxOpen waiting, the oldest whatever the lanes), retraining on schedule.
   */
  private score(): readonly BotFinding[] {
    if (this.closedHead >= this.closed.length) return NO_FINDINGS;
    let until = Infinity;
    for (const l of this.lanes.values()) if (!l.idle) until = Math.min(until, l.newest);
    until = this.scoredUntil = Math.max(this.scoredUntil, until);
    const gap = this.options.sessionGapMs;
    // The loop below would stop at its first session: the same outcome without the sort.
    if (this.closedMinLast + gap > until && this.closed.length - this.closedHead <= this.options.maxOpen) return NO_FINDINGS;
    if (!this.closedSorted) {
      this.closed = this.closed.slice(this.closedHead).sort(closedOrder);
      this.closedHead = 0;
      this.closedSorted = true;
    }
    const out: BotFinding[] = [];
    while (this.closedHead < this.closed.length) {
      const { id, s } = this.closed[this.closedHead];
      if (s.last + gap > until && this.closed.length - this.closedHead <= this.options.maxOpen) break;
      this.closedHead++;
      const f = this.close(id, s);
      if (f) out.push(f);
      const at = s.last + gap;
      if (at - this.trainedAt >= this.options.refreshMs && this.training.length >= this.options.minTraining) {
        this.train(at);
        for (const b of this.beforeModel.splice(0)) {
          const late = this.judge(b.id, b.s, b.row);
          if (late) out.push(late);
        }
      }
    }
    if (this.closedHead === this.closed.length) {
      this.closed = [];
      this.closedHead = 0;
    }
    // Still sorted (nothing closes while scoring): the first one waiting has the smallest `last`.
    this.closedMinLast = this.closedHead < this.closed.length ? this.closed[this.closedHead].s.last : Infinity;
    return out;
  }

  /** At maxOpen, the session queued longest ago (of the first lane holding one) is dropped unscored (bounds memory). */
  private dropOne() {
    for (const lane of this.lanes.values()) {
      for (let q = lane.queue.pop(); q !== undefined; q = lane.queue.pop()) {
        if (this.open.get(q.id) === q.s) {
          this.open.delete(q.id);
          return;
        }
      }
    }
  }

  private close(id: string, s: OpenSession): BotFinding | null {
    if (s.events < this.options.minEvents) return null;
    const row = sessionFeatures(s);
    this.training.push(row);
    if (this.training.length > this.options.trainingSize) this.training.shift();
    if (!this.forest) {
      // Scored by the first model once there is one (at most minTraining of them wait).
      this.beforeModel.push({ id, s, row });
      return null;
    }
    return this.judge(id, s, row);
  }

  private judge(id: string, s: OpenSession, row: number[]): BotFinding | null {
    const score = this.forest!.score(row);
    if (score < this.options.threshold) return null;
    return {
      session_id: id,
      visitor_id: s.visitor,
      site_id: s.site,
      start: s.first,
      end: s.last,
      score,
      events: s.events,
      features: Object.fromEntries(SESSION_FEATURES.map((n, i) => [n, Math.round(row[i] * 1000) / 1000])) as BotFinding['features'],
    };
  }

  private train(now: number) {
    this.generation++;
    this.forest = new IsolationForest(this.training, { seed: this.options.seed + this.generation });
    this.trainedAt = now;
  }
}

function sessionFeatures(s: OpenSession): number[] {
  const durationS = Math.max(1, (s.last - s.first) / 1000);
  const times = s.times.sort((a, b) => a - b);
  const gaps = times.length - 1;
  let mean = 0;
  for (let i = 1; i < times.length; i++) mean += (times[i] - times[i - 1]) / gaps;
  let m2 = 0;
  for (let i = 1; i < times.length; i++) m2 += (times[i] - times[i - 1] - mean) ** 2;
  const cv = gaps >= 2 && mean > 0 ? Math.sqrt(m2 / gaps) / mean : 1;
  return [Math.log1p(s.events / durationS), cv, Math.log1p(s.clicks / Math.max(1, s.views)), Math.log1p(s.views), s.urls.size / Math.min(s.events, URL_EVENTS), s.uaClass];
}
