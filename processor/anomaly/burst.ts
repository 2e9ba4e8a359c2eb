/**
 * Click bursts: how many clicks one key (a visitor, or a site + anonymised network prefix) made in
 * short sliding spans of event time, compared with a fixed floor and with the population of all
 * keys' counts in the same span (median + k x MAD). Pure and driven by event time only, so a
 * replay of the same events in the same order raises the same bursts at the same events.
 *
 * Memory is bounded whatever the number of keys: at most `maxKeys` keys are held, least recently
 * seen dropped first (a key that is bursting is by definition seen all the time, so it stays), each
 * key holds `SUB_BUCKETS` small counters per span, and the population is a histogram of counts
 * (values capped) per time slot, for a bounded number of slots.
 */
import { histogramMedianMad } from './stats.js';

export interface BurstSpan {
  /** Length of the sliding span, ms of event time. */
  spanMs: number;
  /** Fewest events in the span that can ever be a burst, whatever the population does. */
  floor: number;
}

export interface BurstOptions {
  spans: BurstSpan[];
  /** Threshold = max(floor, population median + k x max(MAD, 1)). */
  k: number;
  /** After an alert, the key raises nothing more for this long (event time). */
  cooldownMs: number;
  /** Most keys held at once. */
  maxKeys: number;
  /** How far back the population histogram reaches (event time); split in 10 slots. */
  populationMs: number;
  /**
   * Threshold also >= selfFactor x the key's own usual count per span (a moving average over its
   * past spans; 0 disables). Networks need it: a big office NAT is always busier than the median.
   */
  selfFactor: number;
  /**
   * No alert until the detector has seen this much event time (0: alert at once). A key's usual
   * count is learned from its past spans: right after a start, the busiest network's first
   * minute looks like a burst of its own next to it.
   */
  warmupMs: number;
}

export const DEFAULT_BURST_OPTIONS: BurstOptions = {
  spans: [
    { spanMs: 10_000, floor: 20 },
    { spanMs: 60_000, floor: 60 },
  ],
  k: 10,
  cooldownMs: 300_000,
  maxKeys: 100_000,
  populationMs: 600_000,
  selfFactor: 0,
  warmupMs: 0,
};

/** A key went over its threshold: raised once per key per cooldown, at the event that crossed it. */
export interface BurstHit {
  key: string;
  spanMs: number;
  /** Events of the key in (at - spanMs, at]. */
  count: number;
  threshold: number;
  floor: number;
  populationMedian: number;
  populationMad: number;
  /** The key's own usual count per span before the burst. */
  usual: number;
  /** Event time of the event that crossed the threshold. */
  at: number;
}

/** Sub-counters per span: the sliding count is exact to a tenth of the span. */
const SUB_BUCKETS = 10;
const POPULATION_SLOTS = 10;
/** Counts above this are recorded as this in the population (the median never gets near it). */
const COUNT_CAP = 4096;
/** Weight of the newest span in a key's usual count (about the last ten spans). */
const USUAL_WEIGHT = 0.1;
/** Spans a key must have been seen for before its own usual count is used (see usualOf). */
const MIN_USUAL_PERIODS = 3;

/*
 * A key's state is one Float64Array (a few hundred bytes, no per-span objects). Per span, at
 * span index i x SPAN_FIELDS: the newest sub-bucket number written (-1: none), the tumbling period
 * whose count goes to the population, that period's count, the key's usual count per period
 * (moving average), how many periods it averages, then the SUB_BUCKETS counters. After the spans:
 * cooldown end, last event time, and the last event time when the key was queued for eviction.
 */
const HEAD = 0;
const PERIOD = 1;
const PERIOD_COUNT = 2;
const USUAL = 3;
const PERIODS = 4;
const RING = 5;
const SPAN_FIELDS = RING + SUB_BUCKETS;

export class BurstDetector {
  private readonly keys = new Map<string, Float64Array>();
  /** Keys in the order they were (re)queued: eviction looks at the front (second chance). */
  private queue: string[] = [];
  private queueHead = 0;
  private readonly tail: number;
  /** Per span: slot number -> histogram (count -> keys). */
  private readonly population: Map<number, Map<number, number>>[];
  private readonly cache: { slot: number; median: number; mad: number }[];
  readonly options: BurstOptions;
  /** The earliest event time seen (for the warm-up). */
  private firstAt = NaN;

  constructor(options: Partial<BurstOptions> = {}) {
    this.options = { ...DEFAULT_BURST_OPTIONS, ...options };
    if (this.options.spans.length === 0) throw new Error('BurstDetector needs at least one span');
    for (const s of this.options.spans) {
      if (!(s.spanMs >= SUB_BUCKETS) || !(s.floor >= 1)) throw new Error(`bad burst span ${JSON.stringify(s)}`);
    }
    this.tail = this.options.spans.length * SPAN_FIELDS;
    this.population = this.options.spans.map(() => new Map());
    this.cache = this.options.spans.map(() => ({ slot: NaN, median: NaN, mad: NaN }));
  }

  /** Keys currently held (bounded by maxKeys). */
  get size(): number {
    return this.keys.size;
  }

  /** Called for each event of the key, at its event time; returns the burst it completes, if any. */
  add(key: string, at: number): BurstHit | null {
    const COOLDOWN = this.tail;
    const LAST = this.tail + 1;
    const QUEUED = this.tail + 2;
    let state = this.keys.get(key);
    if (!state) {
      if (this.keys.size >= this.options.maxKeys) this.evictOne();
      state = new Float64Array(this.tail + 3);
      for (let i = 0; i < this.options.spans.length; i++) {
        state[i * SPAN_FIELDS + HEAD] = -1;
        state[i * SPAN_FIELDS + PERIOD] = NaN;
      }
      state[COOLDOWN] = -Infinity;
      state[QUEUED] = at;
      this.keys.set(key, state);
      this.queue.push(key);
    }
    state[LAST] = Math.max(state[LAST], at);
    if (!(this.firstAt <= at)) this.firstAt = at;
    const warm = at - this.firstAt >= this.options.warmupMs;
    let hit: BurstHit | null = null;
    for (let i = 0; i < this.options.spans.length; i++) {
      const span = this.options.spans[i];
      const count = this.count(state, i * SPAN_FIELDS, span.spanMs, at, i);
      if (hit || !warm || at < state[COOLDOWN] || count < span.floor) continue;
      const { median, mad } = this.populationAt(i, at);
      const population = Number.isFinite(median) ? median + this.options.k * Math.max(mad, 1) : span.floor;
      const usual = this.usualOf(state, i * SPAN_FIELDS);
      const threshold = Math.max(span.floor, population, this.options.selfFactor * usual);
      if (count >= threshold) {
        hit = { key, spanMs: span.spanMs, count, threshold, floor: span.floor, populationMedian: median, populationMad: mad, usual, at };
      }
    }
    if (hit) state[COOLDOWN] = at + this.options.cooldownMs;
    return hit;
  }

  /**
   * The key's own usual count per span, once it is known: a key seen for fewer than
   * MIN_USUAL_PERIODS spans has none yet (0), or else a network that appears with its burst (a
   * scraper farm's fresh prefix) would learn the burst's first span as its usual and raise its own
   * threshold past the burst.
   */
  private usualOf(s: Float64Array, o: number): number {
    return s[o + PERIODS] >= MIN_USUAL_PERIODS ? s[o + USUAL] : 0;
  }

  /** Adds one event at `at` to the span's counters (at offset o of the state) and returns the count in (at - span, at]. */
  private count(s: Float64Array, o: number, spanMs: number, at: number, spanIndex: number): number {
    const width = spanMs / SUB_BUCKETS;
    const bucket = Math.floor(at / width);
    // The tumbling period (one span long) feeds the population histogram when it ends.
    const period = Math.floor(bucket / SUB_BUCKETS);
    const current = s[o + PERIOD];
    if (period > current) {
      if (s[o + PERIOD_COUNT] > 0) this.record(spanIndex, current * spanMs, s[o + PERIOD_COUNT]);
      // The ended period, then the empty ones since (as zeros), enter the key's usual count.
      const empty = Math.min(period - current - 1, 1000);
      for (let j = 0; j <= Math.min(empty, 1 / USUAL_WEIGHT); j++) {
        s[o + PERIODS]++;
        const w = Math.max(USUAL_WEIGHT, 1 / s[o + PERIODS]);
        s[o + USUAL] = w * (j === 0 ? s[o + PERIOD_COUNT] : 0) + (1 - w) * s[o + USUAL];
      }
      if (empty > 1 / USUAL_WEIGHT) s[o + USUAL] *= (1 - USUAL_WEIGHT) ** (empty - 1 / USUAL_WEIGHT);
    }
    if (!(period < current)) {
      if (period !== current) s[o + PERIOD_COUNT] = 0;
      s[o + PERIOD] = period;
      s[o + PERIOD_COUNT]++;
    }
    const head = s[o + HEAD];
    if (head < 0 || bucket - head >= SUB_BUCKETS) {
      s.fill(0, o + RING, o + RING + SUB_BUCKETS);
      s[o + HEAD] = bucket;
    } else if (bucket > head) {
      for (let b = head + 1; b <= bucket; b++) s[o + RING + (b % SUB_BUCKETS)] = 0;
      s[o + HEAD] = bucket;
    }
    // An event older than the ring (out of order by more than a span) no longer counts.
    if (s[o + HEAD] - bucket < SUB_BUCKETS) s[o + RING + (bucket % SUB_BUCKETS)]++;
    let n = 0;
    for (let j = 0; j < SUB_BUCKETS; j++) n += s[o + RING + j];
    return n;
  }

  /**
   * Drops one key, roughly the least recently seen: the front of the queue, unless it was seen
   * since it was queued (then it goes to the back with a second chance). O(1) amortised, unlike
   * reordering a Map on every event.
   */
  private evictOne() {
    const LAST = this.tail + 1;
    const QUEUED = this.tail + 2;
    while (this.queueHead < this.queue.length) {
      const key = this.queue[this.queueHead++];
      const state = this.keys.get(key);
      if (!state) continue;
      if (state[LAST] > state[QUEUED]) {
        state[QUEUED] = state[LAST];
        this.queue.push(key);
        continue;
      }
      this.options.spans.forEach((span, i) => {
        const o = i * SPAN_FIELDS;
        if (state[o + PERIOD_COUNT] > 0) this.record(i, state[o + PERIOD] * span.spanMs, state[o + PERIOD_COUNT]);
      });
      this.keys.delete(key);
      break;
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private record(spanIndex: number, periodStart: number, count: number) {
    const slotMs = this.options.populationMs / POPULATION_SLOTS;
    const slot = Math.floor(periodStart / slotMs);
    const slots = this.population[spanIndex];
    let h = slots.get(slot);
    if (!h) {
      h = new Map();
      slots.set(slot, h);
      for (const old of slots.keys()) if (old <= slot - 2 * POPULATION_SLOTS) slots.delete(old);
    }
    const v = Math.min(count, COUNT_CAP);
    h.set(v, (h.get(v) ?? 0) + 1);
  }

  /** Median and MAD of per-key counts over the complete slots of the last populationMs before `at`. */
  private populationAt(spanIndex: number, at: number): { median: number; mad: number } {
    const slotMs = this.options.populationMs / POPULATION_SLOTS;
    const current = Math.floor(at / slotMs);
    const c = this.cache[spanIndex];
    if (c.slot === current) return c;
    const merged = new Map<number, number>();
    for (const [slot, h] of this.population[spanIndex]) {
      if (slot >= current || slot < current - POPULATION_SLOTS) continue;
      for (const [v, w] of h) merged.set(v, (merged.get(v) ?? 0) + w);
    }
    const { median, mad } = histogramMedianMad(merged);
    Object.assign(c, { slot: current, median, mad });
    return c;
  }

}

/** A click as the burst detectors see it. */
export interface BurstClick {
  visitor: string;
  /** The gateway's anonymised address prefix (/24 or /48), or null when unknown. */
  network: string | null;
  site: string | null;
  /** Event time, epoch ms. */
  t: number;
}

export interface ClickBurst extends BurstHit {
  scope: 'visitor' | 'network';
  site: string | null;
  /** The visitor, or the network prefix. */
  entity: string;
}

/**
 * Both click-burst detectors: per visitor, and per site + network prefix. A network burst made
 * by one visitor already alerted for is that visitor's burst, not a second alert: the network is
 * quiet for the visitor's cooldown (bounded map, like the keys).
 */
export class ClickBurstDetectors {
  readonly visitors: BurstDetector;
  readonly networks: BurstDetector;
  private readonly bursting = new Map<string, number>();

  constructor(visitorOptions: Partial<BurstOptions>, networkOptions: Partial<BurstOptions>) {
    this.visitors = new BurstDetector(visitorOptions);
    this.networks = new BurstDetector(networkOptions);
  }

  /** Called for every click, in event-time order per source; returns the bursts it completes. */
  add(c: BurstClick): ClickBurst[] {
    const out: ClickBurst[] = [];
    const v = this.visitors.add(c.visitor, c.t);
    const netKey = c.network === null ? null : `${c.site ?? ''}|${c.network}`;
    if (v) {
      out.push({ ...v, scope: 'visitor', site: c.site, entity: c.visitor });
      if (netKey !== null) {
        this.bursting.delete(netKey);
        this.bursting.set(netKey, c.t + this.visitors.options.cooldownMs);
        if (this.bursting.size > this.networks.options.maxKeys) this.bursting.delete(this.bursting.keys().next().value!);
      }
    }
    if (netKey !== null) {
      const n = this.networks.add(netKey, c.t);
      const quietUntil = this.bursting.get(netKey) ?? -Infinity;
      if (n && c.t >= quietUntil) out.push({ ...n, scope: 'network', site: c.site, entity: c.network! });
    }
    return out;
  }
}
