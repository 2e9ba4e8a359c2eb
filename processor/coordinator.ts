/**
 * The processor's consumer loop without Kafka: partition state, flush scheduling, commit points,
 * rebalances and the checkpoints stored in commit metadata. processor/consumer.ts adapts it to
 * kafkajs; the unit tests drive it with a fake consumer and a fake clock
 * (processor/coordinator.test.ts). Its options: coordinator-options.ts.
 *
 * - Partition number p of every event topic is assigned to one instance together (the
 *   co-partitioned assignor). Before the first event of a newly assigned partition p, every sink
 *   gets the committed offsets of the topic-partitions of p and the checkpoint it stored with them.
 * - Every event goes to every sink in offset order. Every PROCESSOR_FLUSH_INTERVAL_MS (or
 *   `batchSize` events: PROCESSOR_BATCH_SIZE for the index and archive roles, never for the
 *   analytics role, whose writes do not grow with the events) a flush starts: each sink takes
 *   what it has (synchronously) and writes it while consumption goes on; one flush at a time, so the next one due waits for it
 *   (backpressure: a failing flush is retried with backoff and consumption waits behind it).
 *   A role that flushes by time only (`batchSize` Infinity: its sinks hold state, not events)
 *   goes on consuming while a healthy flush runs, and its next flush starts when that one ends:
 *   a long write must not hold back the events whose counts the next write carries (freshness).
 *   Only after every sink has flushed are offsets committed, no further than the flush covered:
 *   for each topic-partition the smallest of the offset reached when the flush began and every
 *   sink's `committableOffset`, with every sink's checkpoint in the commit's metadata.
 * - After a rebalance Kafka hands back partitions from their committed offset, which may be far
 *   behind what this instance already holds in memory: events below the partition's `next`
 *   offset are skipped, so no sink sees an event twice in one lifetime.
 * - A partition given away is never committed again by this instance (the new owner commits it
 *   from the moment it is assigned), even by a flush that was running when it was revoked.
 */
import { topicPartitionKey } from '../common/topic-partition.js';
import { realClock, type Clock } from './clock.js';
import { applyCommits, assignedTo, commitsFor, restoredState, snapshotOf, type PartitionState, type Snapshot } from './commit-point.js';
import type { InputBatch, LogOffsets } from './consumer-port.js';
import { flushSinks } from './flush-sinks.js';
import { Mutex } from './mutex.js';
import { isReadableEvent, parseValue, unreadableRecord } from './readable.js';
import { isPartitioned, readsLogOffsets, type TopicPartition } from './sink.js';
import type { CoordinatorOptions } from './coordinator-options.js';

/** Offsets within one batch: numbers when exact (below 2^53), else BigInt. */
type Offset = number | bigint;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

export class Coordinator {
  private readonly opts: CoordinatorOptions;
  private readonly clock: Clock;
  private readonly mutex: Mutex;
  private readonly parse: (text: string) => unknown;
  private readonly parseBytes: ((buf: Buffer, start: number, end: number) => unknown) | undefined;
  private readonly parts = new Map<string, PartitionState>();
  private owned = new Set<string>();
  private sinceFlush = 0;
  private lastFlush: number;
  private inflight: Promise<void> | null = null;
  private stopping = false;
  private timedFlushQueued = false;
  /** The flush in flight failed at least once and is being retried (consumption waits for it). */
  private flushFailing = false;
  /** A flush came due while one was in flight and consumption went on: started when it ends. */
  private flushWanted = false;
  /**
   * Clock time of the last flush that made what was consumed durable (or of the start). Events
   * handed to the sinks are not progress: they sit in memory until a flush writes them.
   */
  private lastProgress: number;
  /** Clock time of the first commit that failed or timed out since the last accepted one. */
  private commitFailingSince: number | null = null;
  /** The lag refresh under way while a batch waits for a flush (one at a time). */
  private lagRefresh: Promise<void> | null = null;

  constructor(opts: CoordinatorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.parse = opts.parse ?? parseValue;
    this.parseBytes = opts.parseBytes;
    this.mutex = new Mutex(() => this.clock.now());
    this.lastFlush = this.clock.now();
    this.lastProgress = this.clock.now();
  }

  /**
   * Called when the group hands this instance its partitions (after every rebalance). From now
   * on no commit touches a partition given away; its state is dropped once the flush in flight
   * (which may still write its data: outputs are idempotent) has ended.
   */
  assigned(tps: TopicPartition[]): Promise<void> {
    const next = new Set(tps.map((t) => topicPartitionKey(t.topic, t.partition)));
    this.owned = next;
    this.opts.metrics.assignedPartitions.set({ role: this.opts.role }, tps.length);
    return this.mutex.run(async () => {
      await this.awaitFlush();
      for (const [k, st] of this.parts) {
        if (next.has(k)) continue;
        this.opts.log.info({ role: this.opts.role, topic: st.topic, partition: st.partition }, 'partition revoked: state dropped');
        for (const sink of this.opts.sinks) if (isPartitioned(sink)) sink.revoke(st.topic, st.partition);
        this.parts.delete(k);
        this.opts.metrics.lag.remove({ topic: st.topic, partition: String(st.partition), role: this.opts.role });
      }
    });
  }

  /** Number of topic-partitions currently assigned. */
  get assignedCount(): number {
    return this.owned.size;
  }

  /**
   * Whether the instance is doing its job: it holds partitions, its loop is not stuck in one step,
   * it wrote its outputs since the log of its partitions last grew (or is caught up), and Kafka
   * accepts its commits. `stallMs`: how long each may last. Read without the lock, so a loop that
   * never gets the lock back is reported too.
   */
  health(stallMs: number): { ok: boolean; reason: string | null } {
    const now = this.clock.now();
    const s = (since: number) => `${Math.round((now - since) / 1000)} s`;
    if (this.owned.size === 0) return { ok: false, reason: 'no partitions assigned' };
    const busy = this.mutex.busySince;
    if (busy !== null && now - busy > stallMs) return { ok: false, reason: `consumer loop blocked in one step for ${s(busy)}` };
    if (this.stalled(stallMs)) return { ok: false, reason: 'no progress while the log grows' };
    if (this.commitFailingSince !== null && now - this.commitFailingSince > stallMs) return { ok: false, reason: `offsets not committed for ${s(this.commitFailingSince)}` };
    return { ok: true, reason: null };
  }

  /** Behind the log end of an owned partition, and nothing written for `stallMs`. */
  stalled(stallMs: number): boolean {
    const behind = [...this.parts.values()].some((st) => this.owned.has(topicPartitionKey(st.topic, st.partition)) && st.high !== null && (st.next ?? 0n) < st.high);
    return behind && this.clock.now() - this.lastProgress > stallMs;
  }

  /**
   * Called with every fetched batch, in offset order per partition. Resolves true when the
   * records were handed to the sinks (or skipped as already seen), false when the batch belongs
   * to a partition this instance no longer holds.
   */
  batch(b: InputBatch): Promise<boolean> {
    return this.mutex.run(async () => {
      const k = topicPartitionKey(b.topic, b.partition);
      if (!b.current() || !this.owned.has(k) || this.stopping) {
        this.opts.log.debug({ role: this.opts.role, topic: b.topic, partition: b.partition, first: b.records[0]?.offset }, 'batch of an old assignment ignored');
        return false;
      }
      if (!this.parts.has(k)) await this.initPartition(b.partition);
      const st = this.parts.get(k);
      if (!st) return false;
      const sinks = this.opts.sinks;
      const records = b.records;
      // Positions as numbers within the batch when every one is below 2^53 (always, in practice):
      // a BigInt parsed, compared and added per record was ~0.4 µs of the analytics role's CPU per
      // event. Written back to the partition's state when the batch ends, or a sink throws.
      const exact = (st.next === null || st.next <= MAX_EXACT) && st.sinkNext.every((x) => x <= MAX_EXACT) && (records.length === 0 || records[records.length - 1].offset.length < 16);
      const pos = (x: bigint): Offset => (exact ? Number(x) : x);
      let next: Offset | null = st.next === null ? null : pos(st.next);
      const sinkNext = st.sinkNext.map(pos);
      let added = 0;
      try {
        for (const m of records) {
          const off: Offset = exact ? Number(m.offset) : BigInt(m.offset);
          if (next !== null && off < next) continue;
          const after: Offset = typeof off === 'number' ? off + 1 : off + 1n;
          const buf = this.parseBytes === undefined ? undefined : m.valueBuf;
          const text = buf === undefined ? (m.value ?? '') : undefined;
          const ev = text === undefined ? this.parseBytes?.(buf as Buffer, m.valueStart ?? 0, m.valueEnd ?? 0) : this.parse(text);
          if (!isReadableEvent(ev)) {
            if (this.opts.deadLetterUnreadable) this.opts.deadLetters.push(unreadableRecord(b, m, parseValue(m.value ?? '')));
            this.opts.metrics.unreadable.inc({ role: this.opts.role });
            next = after;
            continue;
          }
          const position = { topic: b.topic, partition: b.partition, offset: m.offset, raw: text, fetchedAt: b.fetchedAt };
          // If a sink throws, the adapter delivers the batch again: sinks that already have this
          // event must not get it twice, so each sink's own position is tracked.
          for (let i = 0; i < sinks.length; i++) {
            if (sinkNext[i] > off) continue;
            // Awaited only when the sink returned a promise: the analytics role's sinks add
            // synchronously, and a microtask per record and sink was a measurable share of its CPU.
            const pending = sinks[i].add(ev, position);
            if (pending) await pending;
            sinkNext[i] = after;
          }
          next = after;
          added++;
        }
      } finally {
        if (next !== null) st.next = BigInt(next);
        for (let i = 0; i < sinkNext.length; i++) st.sinkNext[i] = BigInt(sinkNext[i]);
      }
      this.sinceFlush += added;
      this.opts.metrics.events.inc({ topic: b.topic, role: this.opts.role }, added);
      st.high = BigInt(b.highWatermark);
      this.opts.metrics.lag.set({ topic: b.topic, partition: String(b.partition), role: this.opts.role }, Math.max(0, Number(st.high - (st.next ?? 0n))));
      if (this.due()) {
        if (this.inflight && this.opts.batchSize === Infinity && !this.flushFailing) this.flushWanted = true;
        else {
          // Backpressure: a second flush waits for the first (and its retries) to finish.
          await this.awaitFlush(b);
          this.startFlush();
        }
      }
      return true;
    });
  }

  /**
   * Called periodically by the adapter: flushes on time even when no batch arrives (idle input
   * must still reach the outputs, and windows sealed by a moving watermark must be written).
   */
  tick(): void {
    if (this.stopping || this.parts.size === 0 || this.timedFlushQueued || this.inflight) return;
    if (this.clock.now() - this.lastFlush < this.opts.flushIntervalMs) return;
    this.timedFlushQueued = true;
    void this.mutex
      .run(async () => {
        if (!this.inflight && !this.stopping && this.clock.now() - this.lastFlush >= this.opts.flushIntervalMs) this.startFlush();
      })
      .finally(() => (this.timedFlushQueued = false));
  }

  /** Resolves when no flush is running (tests; the adapter's shutdown). */
  async idle(): Promise<void> {
    await this.mutex.run(() => this.awaitFlush());
  }

  /**
   * Called periodically by the adapter: reads the log offsets (lag, and which partitions are
   * caught up: an idle topic-partition must not hold the watermark back).
   */
  pollOffsets(): Promise<void> {
    return this.mutex.run(async () => {
      // Read inside the lock, so the end offsets handed to the sinks are never older than the
      // events processed after them: a stale end offset could make a topic-partition look caught
      // up (and let the watermark run past events it has not read yet).
      const ends = new Map<string, LogOffsets>();
      for (const lo of await this.opts.port.logOffsets(this.opts.topics)) ends.set(topicPartitionKey(lo.topic, lo.partition), lo);
      for (const [k, st] of this.parts) {
        const end = ends.get(k);
        if (!end) continue;
        st.high = BigInt(end.high);
        this.setLag(st, end);
        for (const sink of this.opts.sinks) if (readsLogOffsets(sink)) sink.logOffsets(st.topic, st.partition, end.low, end.high);
      }
      for (const sink of this.opts.sinks) if (readsLogOffsets(sink)) sink.logOffsetsDone();
    });
  }

  /** The lag gauge of one topic-partition: records from its next offset to the log's end. */
  private setLag(st: { topic: string; partition: number; next: bigint | null }, end: LogOffsets): void {
    const position = st.next ?? BigInt(end.low);
    this.opts.metrics.lag.set({ topic: st.topic, partition: String(st.partition), role: this.opts.role }, Math.max(0, Number(BigInt(end.high) - position)));
  }

  /** Called each second while a batch waits for a flush: the lag gauge from the log's end offsets (a failed read leaves it as it was). */
  private async refreshLag(): Promise<void> {
    let ends: LogOffsets[];
    try {
      ends = await this.opts.port.logOffsets(this.opts.topics);
    } catch {
      return;
    }
    for (const end of ends) {
      const st = this.parts.get(topicPartitionKey(end.topic, end.partition));
      if (st) this.setLag(st, end);
    }
  }

  /** Called once at shutdown: the last flush and commit. */
  async stop(): Promise<void> {
    await this.mutex.run(async () => {
      this.stopping = true;
      await this.awaitFlush();
      try {
        const snap = this.snapshot();
        await this.flushSinks();
        await this.commit(snap);
      } catch (err) {
        this.opts.log.warn({ role: this.opts.role, err: (err as Error).message }, 'last flush failed; the next start replays from the last commit');
      }
    });
  }

  private due(): boolean {
    return this.sinceFlush >= this.opts.batchSize || this.clock.now() - this.lastFlush >= this.opts.flushIntervalMs;
  }

  /** Hands the sinks the committed offsets and checkpoints of partition number p (all topics). */
  private async initPartition(partition: number): Promise<void> {
    const missing = this.opts.topics.filter((t) => this.owned.has(topicPartitionKey(t, partition)) && !this.parts.has(topicPartitionKey(t, partition)));
    if (missing.length === 0) return;
    const assigned = await this.opts.port.fetchCommitted(missing, partition);
    for (const sink of this.opts.sinks) if (isPartitioned(sink)) await sink.assign(assignedTo(sink.name, assigned));
    for (const a of assigned) this.parts.set(topicPartitionKey(a.topic, partition), restoredState({ ...a, partition }, this.opts.sinks.length));
    this.opts.log.info({ role: this.opts.role, partition, topics: assigned.map((a) => `${a.topic}@${a.offset ?? 'start'}`) }, 'partition state restored from the committed offsets');
  }

  private async flushSinks(): Promise<void> {
    await flushSinks({ ...this.opts, clock: this.clock });
    this.lastProgress = this.clock.now();
    this.opts.metrics.lastProgress.set({ role: this.opts.role }, Date.now() / 1000);
  }

  private snapshot(): Snapshot {
    return snapshotOf(this.parts);
  }

  /** Commits what the flush that began at `snap` made durable (commit-point.ts decides how far). */
  private async commit(snap: Snapshot): Promise<void> {
    const list = commitsFor(this.parts, this.owned, snap, this.opts.sinks);
    if (list.length === 0) {
      // Nothing left to commit (e.g. the partitions of a refused commit were given away).
      this.commitFailingSince = null;
      return;
    }
    const timeoutMs = this.opts.commitTimeoutMs ?? 5000;
    const sent = this.opts.port.commit(list);
    sent.catch(() => undefined); // settled late after a timeout: nothing acts on it
    // A real timer, not the injected clock: this bounds a wait on the network.
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([sent, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
    } catch (err) {
      // A rebalance is under way, or the group coordinator is gone: the next flush commits newer
      // offsets, and a new owner replays from the last commit, so nothing is lost.
      this.commitFailingSince ??= this.clock.now();
      this.opts.log.warn({ role: this.opts.role, err: (err as Error).message }, 'offset commit failed; will retry at the next flush');
      return;
    } finally {
      clearTimeout(timer);
    }
    this.commitFailingSince = null;
    this.opts.metrics.lastCommit.set({ role: this.opts.role }, Date.now() / 1000);
    applyCommits(this.parts, list, this.opts.sinks);
    this.opts.metrics.commits.inc({ role: this.opts.role }, list.length);
  }

  /**
   * One flush at a time runs in the background while consumption goes on: flush every sink,
   * retrying with backoff until it succeeds, then commit what it covered.
   */
  private async runFlush(): Promise<void> {
    let delay = 200;
    for (;;) {
      const snap = this.snapshot();
      this.sinceFlush = 0;
      this.lastFlush = this.clock.now();
      try {
        await this.flushSinks();
      } catch (err) {
        this.flushFailing = true;
        this.opts.metrics.flushErrors.inc({ role: this.opts.role });
        this.opts.log.warn({ role: this.opts.role, err: (err as Error).message, retryInMs: delay }, 'flush failed; holding consumption and retrying');
        if (this.stopping) return;
        this.opts.metrics.backpressure.set({ role: this.opts.role }, 1);
        await this.clock.sleep(delay);
        delay = Math.min(delay * 2, this.opts.maxRetryDelayMs);
        continue;
      }
      this.flushFailing = false;
      this.opts.metrics.backpressure.set({ role: this.opts.role }, 0);
      await this.commit(snap);
      return;
    }
  }

  /** Starts a flush unless one is running. Call inside the lock: the sinks take their data now. */
  private startFlush(): void {
    if (this.inflight) return;
    this.inflight = this.runFlush()
      .catch((err) => this.opts.log.error({ role: this.opts.role, err: (err as Error).message }, 'flush crashed'))
      .finally(() => {
        this.inflight = null;
        this.flushFailing = false;
        if (this.flushWanted) {
          this.flushWanted = false;
          this.tick();
        }
      });
  }

  /**
   * Waits for the flush in flight, heartbeating so a long outage does not cost the partitions.
   * When a heartbeat fails (the group is rebalancing), it stops waiting: the batch returns so the
   * adapter can rejoin at once instead of holding the whole group back for the rebalance timeout
   * (the flush goes on; the next batch waits for it again).
   */
  private async awaitFlush(b?: InputBatch): Promise<void> {
    while (this.inflight) {
      const current = this.inflight;
      await Promise.race([current, this.clock.sleep(1000)]);
      if (this.inflight !== current || !b) continue;
      // The offset poll waits for the lock this batch holds, so without this the lag gauge would
      // stand still for as long as the flush is held or retried, while the log grows. Not awaited:
      // a partition leader that does not answer must not hold back the heartbeat.
      this.lagRefresh ??= this.refreshLag().finally(() => (this.lagRefresh = null));
      try {
        await b.heartbeat();
      } catch (err) {
        this.opts.log.info({ role: this.opts.role, err: (err as Error).message }, 'heartbeat refused while waiting for a flush: rejoining the group');
        return;
      }
    }
  }
}
