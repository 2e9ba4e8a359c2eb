/**
 * Event time of one partition of the analytics engine (engine.ts): per topic, the next offset to
 * read, the largest event time seen (and where it grew, so the checkpoint of any commit point can
 * say what it was before that offset), the log offsets the consumer polled, and from those the
 * watermark. Lateness is decided here: see ARCHITECTURE.md "Event time, lateness and window state
 * after a crash".
 */
import type { LateReason } from './engine-options.js';

export class PartitionClock {
  private readonly topicCount: number;
  private readonly latenessMs: number;
  /** Next offset to process per topic; -1 until known. */
  readonly next: number[];
  private readonly maxTs: number[];
  /** Per topic: [offset, largest time including it] at every offset where the largest time grew. */
  private readonly growth: [number, number][][];
  /** Per topic: the largest time before the first entry of `growth`. */
  private readonly maxBeforeGrowth: number[];
  /** Log start and end offsets per topic, from the consumer's poller (unknown: behind). */
  private readonly logStart: number[];
  private readonly logEnd: number[];
  /** Per topic: read up to its end at the last poll of end offsets. */
  private readonly idle: boolean[];
  /** An event arrived since the last poll. */
  private eventSincePoll = true;
  /** Event time below which windows are sealed and sessions closed; never goes back. */
  private current = -Infinity;
  /** Per topic: the offset processed before the restart; nothing provisional is written until it is reached. */
  private readonly replayUntil: number[];
  /** Set by `observe` for a late event: the event time whose windows hold its late marker. */
  lateAt = -Infinity;

  /**
   * `checkpoints` false: no growth kept (a clock only followed for its watermark, never asked for
   * `maxBefore`; kept, the growth of an in-order topic is an entry per event until a commit).
   */
  constructor(
    topicCount: number,
    latenessMs: number,
    private readonly checkpoints = true,
  ) {
    this.topicCount = topicCount;
    this.latenessMs = latenessMs;
    const fill = (x: number) => new Array<number>(topicCount).fill(x);
    this.next = fill(-1);
    this.maxTs = fill(-Infinity);
    this.maxBeforeGrowth = fill(-Infinity);
    this.growth = Array.from({ length: topicCount }, () => []);
    this.logStart = fill(-1);
    this.logEnd = fill(-1);
    this.idle = new Array<boolean>(topicCount).fill(false);
    this.replayUntil = fill(-1);
  }

  /**
   * Before the first event of topic `t`: its committed offset (null: never committed) and, when
   * the commit carried a checkpoint, the largest event time before that offset and the offset
   * processed before the restart.
   */
  restore(t: number, committed: number | null, fromCheckpoint: { maxTsBefore: number; processedUntil: number | null } | null): void {
    if (committed !== null && committed >= 0) this.next[t] = committed;
    if (fromCheckpoint) {
      this.maxBeforeGrowth[t] = this.maxTs[t] = fromCheckpoint.maxTsBefore;
      if (fromCheckpoint.processedUntil !== null) this.replayUntil[t] = fromCheckpoint.processedUntil;
    }
    this.updateWatermark();
  }

  /** Called for every record of topic `t`: false for an offset already read (a redelivery). */
  accept(t: number, offset: number): boolean {
    if (this.next[t] >= 0 && offset < this.next[t]) return false;
    this.next[t] = offset + 1;
    this.eventSincePoll = true;
    return true;
  }

  /** A record without a usable event time still moves the read position (accept) and may unblock the watermark. */
  skipTime(): void {
    this.updateWatermark();
  }

  /**
   * An accepted record's event time: null when on time, else why it is late (then `lateAt` is the
   * time whose windows, still open, count it). Moves the watermark.
   */
  observe(t: number, offset: number, ts: number): LateReason | null {
    const maxBefore = this.maxTs[t];
    const watermarkBefore = this.current;
    if (ts > maxBefore) {
      this.maxTs[t] = ts;
      if (this.checkpoints) this.growth[t].push([offset, ts]);
    }
    this.updateWatermark();
    const reason: LateReason | null = ts < maxBefore - this.latenessMs ? 'behind_partition' : ts < watermarkBefore ? 'behind_watermark' : null;
    if (reason) this.lateAt = Math.max(maxBefore, watermarkBefore);
    return reason;
  }

  setLogOffsets(t: number, start: number, end: number): void {
    this.logStart[t] = start;
    this.logEnd[t] = end;
  }

  /** The log offsets just set are current: every topic read up to its end is idle until the partition's next event. */
  pollDone(): void {
    for (let t = 0; t < this.topicCount; t++) this.idle[t] = this.caughtUp(t);
    this.eventSincePoll = false;
    this.updateWatermark();
  }

  /** The most records any topic's log held beyond the read position at the last poll of end offsets, less those read since (0 when unknown). */
  get behind(): number {
    let most = 0;
    for (let t = 0; t < this.topicCount; t++) {
      if (this.logEnd[t] < 0) continue;
      most = Math.max(most, this.logEnd[t] - (this.next[t] >= 0 ? this.next[t] : this.logStart[t]));
    }
    return most;
  }

  private caughtUp(t: number): boolean {
    if (this.logEnd[t] < 0) return false;
    if (this.next[t] >= 0) return this.next[t] >= this.logEnd[t];
    return this.logStart[t] >= this.logEnd[t];
  }

  /**
   * Idle topic-partitions are left out only right after a poll of the end offsets: once any
   * event of the partition has arrived since, a topic-partition idle at the poll may have
   * received events too (produced in the same burst), so only one that never had an event
   * stays out. The watermark thus jumps past an idle topic-partition at poll instants only,
   * with end offsets read inside the same lock as the batches.
   */
  private updateWatermark(): void {
    let slowest = Infinity;
    let anyBehind = false;
    let fastest = -Infinity;
    for (let t = 0; t < this.topicCount; t++) {
      if (this.maxTs[t] > fastest) fastest = this.maxTs[t];
      const idle = this.idle[t] && (!this.eventSincePoll || this.maxTs[t] === -Infinity);
      if (!idle) {
        anyBehind = true;
        if (this.maxTs[t] < slowest) slowest = this.maxTs[t];
      }
    }
    this.advance((anyBehind ? slowest : fastest) - this.latenessMs);
  }

  get watermark(): number {
    return this.current;
  }

  /** Moves the watermark up to `to`, never back. */
  advance(to: number): void {
    if (to > this.current) this.current = to;
  }

  /** Every topic was read to its log end at the last poll, and no event arrived since. */
  get quiet(): boolean {
    return !this.eventSincePoll && this.idle.every(Boolean);
  }

  /** True while a replay after a restart has not yet reached the offsets processed before. */
  get replaying(): boolean {
    for (let t = 0; t < this.topicCount; t++) if (this.next[t] < this.replayUntil[t]) return true;
    return false;
  }

  /** The largest event time of topic `t` before `offset` (what a checkpoint at `offset` carries). */
  maxBefore(t: number, offset: number): number {
    const g = this.growth[t];
    let lo = 0;
    let hi = g.length; // first index with g[i][0] >= offset
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (g[mid][0] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.maxBeforeGrowth[t] : g[lo - 1][1];
  }

  /** `offset` of topic `t` was committed: forget the growth only older commit points needed. */
  committed(t: number, offset: number): void {
    const g = this.growth[t];
    let i = 0;
    while (i < g.length && g[i][0] < offset) i++;
    if (i > 0) {
      this.maxBeforeGrowth[t] = g[i - 1][1];
      g.splice(0, i);
    }
  }
}
