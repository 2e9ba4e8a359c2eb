/**
 * Bot-like sessions, found by an isolation forest over what a session did (not what its user
 * agent claims): it complements the gateway's user-agent flag (`is_bot`) by catching scripts that
 * pretend to be browsers. Sessions are followed from their events; when one closes (no event for
 * `sessionGapMs` of event time) it is scored by the current model, and the model is retrained
 * on the most recent closed sessions every `refreshMs` of event time. Pure and deterministic.
 *
 * Features (all computed from the session's own events; see SESSION_FEATURES):
 */
import { IsolationForest } from './isolation-forest.js';

export const SESSION_FEATURES = [
  /** log(1 + events per second over the session's duration, duration floored at 1 s). */
  'log_events_per_s',
  /** Coefficient of variation of the gaps between events (scripts are regular: near 0). 1 when < 3 events. */
  'gap_cv',
  /** log(1 + clicks per page view): clicks without pages to show them. */
  'log_clicks_per_view',
  /** log(1 + page views). */
  'log_pages',
  /** Distinct URLs / events among the first 64 events: a crawler walks many URLs, a burst hammers one. */
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
  /** Welford running mean and M2 of gaps. */
  gapMean: number;
  gapM2: number;
  urls: Set<string>;
  uaClass: number;
  /** `last` when the session was (re)queued for the closing scan. */
  queued: number;
}

interface Lane {
  newest: number;
  queue: string[];
  queueHead: number;
  nextScan: number;
}

function compact(lane: Lane) {
  if (lane.queueHead > 1024 && lane.queueHead * 2 > lane.queue.length) {
    lane.queue = lane.queue.slice(lane.queueHead);
    lane.queueHead = 0;
  }
}

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

/** URLs are counted over a session's first events only (bounds memory per session). */
const URL_EVENTS = 64;

export class BotSessionModel {
  readonly options: BotSessionOptions;
  private readonly open = new Map<string, OpenSession>();
  private readonly training: number[][] = [];
  private forest: IsolationForest | null = null;
  private trainedAt = -Infinity;
  private generation = 0;
  /** Per lane: its newest event time, its sessions in the order they were (re)queued, and when its next closing scan is due. */
  private readonly lanes = new Map<number, Lane>();

  constructor(options: Partial<BotSessionOptions> = {}) {
    this.options = { ...DEFAULT_BOT_OPTIONS, ...options };
  }

  get openSessions(): number {
    return this.open.size;
  }

  get modelGeneration(): number {
    return this.generation;
  }

  /** Called for each event in event-time order (per partition); returns sessions closed and found bot-like. */
  add(e: SessionEvent): BotFinding[] {
    const laneId = e.lane ?? 0;
    const lane = this.lane(laneId);
    let s = this.open.get(e.session_id);
    if (!s) {
      if (this.open.size >= this.options.maxOpen) this.dropOne();
      s = { visitor: e.visitor_id, site: e.site_id, first: e.t, last: e.t, events: 0, views: 0, clicks: 0, gapMean: 0, gapM2: 0, urls: new Set(), uaClass: 0, queued: e.t };
      this.open.set(e.session_id, s);
      lane.queue.push(e.session_id);
      lane.nextScan = Math.min(lane.nextScan, e.t + this.options.sessionGapMs);
    }
    if (s.events > 0) {
      const gap = Math.max(0, e.t - s.last);
      const n = s.events; // gaps so far + 1
      const delta = gap - s.gapMean;
      s.gapMean += delta / n;
      s.gapM2 += delta * (gap - s.gapMean);
    }
    s.events++;
    s.first = Math.min(s.first, e.t);
    s.last = Math.max(s.last, e.t);
    if (e.event_type === 'page_view') s.views++;
    if (e.event_type === 'click') s.clicks++;
    if (s.events <= URL_EVENTS) s.urls.add(e.url);
    s.uaClass = Math.max(s.uaClass, e.is_bot ? 2 : e.browser ? 0 : 1);
    return this.advance(e.t, laneId);
  }

  private lane(id: number): Lane {
    let l = this.lanes.get(id);
    if (!l) this.lanes.set(id, (l = { newest: -Infinity, queue: [], queueHead: 0, nextScan: Infinity }));
    return l;
  }

  /**
   * Moves event time forward (also without events): closes idle sessions, retrains on schedule.
   * The queue holds sessions in the order of their `last` when queued; a session found still
   * active at the front goes to the back, so each scan does work only for sessions due.
   */
  advance(now: number, laneId = 0): BotFinding[] {
    const lane = this.lane(laneId);
    if (now <= lane.newest) return [];
    lane.newest = now;
    const out: BotFinding[] = [];
    if (now >= lane.nextScan) {
      const gap = this.options.sessionGapMs;
      const closed: [string, OpenSession][] = [];
      lane.nextScan = Infinity;
      while (lane.queueHead < lane.queue.length) {
        const id = lane.queue[lane.queueHead];
        const s = this.open.get(id);
        if (!s) {
          lane.queueHead++;
          continue;
        }
        if (s.queued + gap > now) {
          lane.nextScan = s.queued + gap;
          break;
        }
        lane.queueHead++;
        if (s.last + gap <= now) {
          this.open.delete(id);
          closed.push([id, s]);
        } else {
          s.queued = s.last;
          lane.queue.push(id);
        }
      }
      compact(lane);
      // Deterministic order: by end time, then id.
      closed.sort((a, b) => a[1].last - b[1].last || (a[0] < b[0] ? -1 : 1));
      for (const [id, s] of closed) {
        const f = this.close(id, s);
        if (f) out.push(f);
      }
    }
    if (now - this.trainedAt >= this.options.refreshMs && this.training.length >= this.options.minTraining) this.train(now);
    return out;
  }

  /** At maxOpen, the session queued longest ago is dropped unscored (bounds memory). */
  private dropOne() {
    for (const lane of this.lanes.values()) {
      while (lane.queueHead < lane.queue.length) {
        const id = lane.queue[lane.queueHead++];
        if (this.open.delete(id)) {
          compact(lane);
          return;
        }
      }
      compact(lane);
    }
  }

  private close(id: string, s: OpenSession): BotFinding | null {
    if (s.events < this.options.minEvents) return null;
    const row = sessionFeatures(s);
    this.training.push(row);
    if (this.training.length > this.options.trainingSize) this.training.shift();
    if (!this.forest) return null;
    const score = this.forest.score(row);
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
  const gaps = s.events - 1;
  const sd = gaps >= 2 ? Math.sqrt(s.gapM2 / gaps) : NaN;
  const cv = gaps >= 2 && s.gapMean > 0 ? sd / s.gapMean : 1;
  return [Math.log1p(s.events / durationS), cv, Math.log1p(s.clicks / Math.max(1, s.views)), Math.log1p(s.views), s.urls.size / Math.min(s.events, URL_EVENTS), s.uaClass];
}
