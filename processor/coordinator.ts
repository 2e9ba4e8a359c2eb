/**
 * The processor's consumer loop without Kafka: partition state, flush scheduling, commit points,
 * rebalances and the checkpoints stored in commit metadata. processor/consumer.ts adapts it to
 * kafkajs; the unit tests drive it with a fake consumer and a fake clock
 * (processor/coordinator.test.ts).
 *
 * - Partition number p of every event topic is assigned to one instance together (the
 *   co-partitioned assignor). Before the first event of a newly assigned partition p, every sink
 *   gets the committed offsets of the topic-partitions of p and the checkpoint it stored with them.
 * - Every event goes to every sink in offset order. Every PROCESSOR_FLUSH_INTERVAL_MS (or
 *   PROCESSOR_BATCH_SIZE events) a flush starts: each sink takes what it has (synchronously) and
 *   writes it while consumption goes on; one flush at a time, so the next one due waits for it
 *   (backpressure: a failing flush is retried with backoff and consumption waits behind it).
 *   Only after every sink has flushed are offsets committed, no further than the flush covered:
 *   for each topic-partition the smallest of the offset reached when the flush began and every
 *   sink's `committableOffset`, with every sink's checkpoint in the commit's metadata.
 * - After a rebalance Kafka hands back partitions from their committed offset, which may be far
 *   behind what this instance already holds in memory: events below the partition's `next`
 *   offset are skipped, so no sink sees an event twice in one lifetime.
 * - A partition given away is never committed again by this instance (the new owner commits it
 *   from the moment it is assigned), even by a flush that was running when it was revoked.
 */
import type { DeadLetter } from '../contracts/dead-letter.js';
import { DeadLetterBuffer } from './dead-letters.js';
import { isReadableEvent } from './readable.js';

export { DeadLetterBuffer };
import { isPartitioned, readsLogOffsets, type AssignedPartition, type Offset, type Sink, type TopicPartition } from './sink.js';
import type { ProcessorMetrics } from './metrics.js';
import { topicPartitionKey } from '../common/topic-partition.js';

export type { Offset, TopicPartition };

export interface CommittedOffset extends TopicPartition {
  /** Null when the group never committed this topic-partition. */
  offset: Offset | null;
  metadata: string | null;
}

export interface OffsetCommit extends TopicPartition {
  offset: Offset;
  metadata: string;
}

export interface LogOffsets extends TopicPartition {
  low: Offset;
  high: Offset;
}

/** What the coordinator needs from Kafka; processor/consumer.ts implements it with kafkajs. */
export interface ConsumerPort {
  /** Called before the first event of a newly assigned partition: the group's committed offsets. */
  fetchCommitted(topics: string[], partition: number): Promise<CommittedOffset[]>;
  /** Called after a successful flush; rejects when the group is rebalancing (retried at the next flush). */
  commit(offsets: OffsetCommit[]): Promise<void>;
  /** Called at every offset poll: the log start and end offsets of every partition of the topics. */
  logOffsets(topics: string[]): Promise<LogOffsets[]>;
  /** Called by a flush with the refused records collected since the last one; rejects if not durable. */
  sendDeadLetters(items: DeadLetter[]): Promise<void>;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export interface LogSink {
  debug(o: object, msg: string): void;
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

/** One record of a batch as the adapter hands it over. */
export interface InputRecord {
  offset: Offset;
  /** The record's value as text (null for a tombstone). */
  value: string | null;
  /** The value's bytes as stored, when the adapter has them: an unreadable record's dead letter keeps them exactly. */
  bytes?: Uint8Array | null;
}

export interface InputBatch extends TopicPartition {
  records: InputRecord[];
  highWatermark: Offset;
  /** False once the batch belongs to an assignment that ended (checked inside the lock). */
  current(): boolean;
  /** Keeps the group membership alive while this batch waits for a flush. */
  heartbeat(): Promise<void>;
}

export interface CoordinatorOptions {
  /** The consumed topics (with prefix), in a fixed order. */
  topics: string[];
  sinks: Sink[];
  port: ConsumerPort;
  deadLetters: DeadLetterBuffer;
  metrics: ProcessorMetrics;
  log: LogSink;
  flushIntervalMs: number;
  batchSize: number;
  /** The longest wait between flush retries (kept well below the session timeout). */
  maxRetryDelayMs: number;
  /** Label of this consumer's role in the metrics. */
  role: string;
  /**
   * Whether this role dead-letters unreadable records (only one role does, so a record that no
   * role can read is dead-lettered once, not once per consumer group).
   */
  deadLetterUnreadable: boolean;
  clock?: Clock;
}

/** Runs one async section at a time: batches, flushes, rebalances and offset polls never interleave. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Offsets held as bigint for arithmetic; every interface in or out carries an `Offset`. */
interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to hand to the sinks; null until the first event (fresh group). */
  next: bigint | null;
  committed: bigint | null;
  committedMeta: string | null;
  high: bigint | null;
  /** Per sink (by index): next offset that sink has not been given yet. */
  sinkNext: bigint[];
}


/** Next offset per partition when a flush began: what that flush covers. */
type Snapshot = Map<string, bigint | null>;

export class Coordinator {
  private readonly o: CoordinatorOptions;
  private readonly clock: Clock;
  private readonly mutex = new Mutex();
  private readonly parts = new Map<string, PartitionState>();
  private owned = new Set<string>();
  private sinceFlush = 0;
  private lastFlush: number;
  private inflight: Promise<void> | null = null;
  private stopping = false;
  private timedFlushQueued = false;
  /** Clock time of the last event handed to the sinks or offset committed. */
  private lastProgress: number;

  constructor(o: CoordinatorOptions) {
    this.o = o;
    this.clock = o.clock ?? realClock;
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
    this.o.metrics.assignedPartitions.set({ role: this.o.role }, tps.length);
    return this.mutex.run(async () => {
      await this.awaitFlush();
      for (const [k, st] of this.parts) {
        if (next.has(k)) continue;
        this.o.log.info({ role: this.o.role, topic: st.topic, partition: st.partition }, 'partition revoked: state dropped');
        for (const sink of this.o.sinks) if (isPartitioned(sink)) sink.revoke(st.topic, st.partition);
        this.parts.delete(k);
        this.o.metrics.lag.remove({ topic: st.topic, partition: String(st.partition), role: this.o.role });
      }
    });
  }

  /** Number of topic-partitions currently assigned. */
  get assignedCount(): number {
    return this.owned.size;
  }

  /**
   * Whether the instance is doing its job: it holds partitions, and it made progress since the
   * log of its partitions last grew (or is caught up). `stallMs`: how long growth without
   * progress is tolerated.
   */
  health(stallMs: number): { ok: boolean; reason: string | null } {
    if (this.owned.size === 0) return { ok: false, reason: 'no partitions assigned' };
    if (this.stalled(stallMs)) return { ok: false, reason: 'no progress while the log grows' };
    return { ok: true, reason: null };
  }

  /** Behind the log end of an owned partition, and nothing consumed or committed for `stallMs`. */
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
        this.o.log.debug({ role: this.o.role, topic: b.topic, partition: b.partition, first: b.records[0]?.offset }, 'batch of an old assignment ignored');
        return false;
      }
      if (!this.parts.has(k)) await this.initPartition(b.partition);
      const st = this.parts.get(k);
      if (!st) return false;
      const sinks = this.o.sinks;
      let added = 0;
      for (const m of b.records) {
        const off = BigInt(m.offset);
        if (st.next !== null && off < st.next) continue;
        let ev: unknown = undefined;
        const text = m.value ?? '';
        try {
          ev = JSON.parse(text);
        } catch {
          // fall through
        }
        if (!isReadableEvent(ev)) {
          if (this.o.deadLetterUnreadable) {
            this.o.deadLetters.push({
              code: 'PR_ERR_UNREADABLE',
              reason: `processor could not read ${b.topic}/${b.partition}@${m.offset}`,
              parsed: ev,
              received: m.bytes ?? m.value,
              origin: { topic: b.topic, partition: b.partition, offset: m.offset },
            });
          }
          this.o.metrics.unreadable.inc({ role: this.o.role });
          st.next = off + 1n;
          continue;
        }
        const position = { topic: b.topic, partition: b.partition, offset: m.offset, raw: text };
        // If a sink throws, the adapter delivers the batch again: sinks that already have this
        // event must not get it twice, so each sink's own position is tracked.
        for (let i = 0; i < sinks.length; i++) {
          if (st.sinkNext[i] > off) continue;
          await sinks[i].add(ev, position);
          st.sinkNext[i] = off + 1n;
        }
        st.next = off + 1n;
        added++;
      }
      this.sinceFlush += added;
      if (added > 0) this.lastProgress = this.clock.now();
      this.o.metrics.events.inc({ topic: b.topic, role: this.o.role }, added);
      st.high = BigInt(b.highWatermark);
      this.o.metrics.lag.set({ topic: b.topic, partition: String(b.partition), role: this.o.role }, Math.max(0, Number(st.high - (st.next ?? 0n))));
      if (this.due()) {
        // Backpressure: a second flush waits for the first (and its retries) to finish.
        await this.awaitFlush(b);
        this.startFlush();
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
    if (this.clock.now() - this.lastFlush < this.o.flushIntervalMs) return;
    this.timedFlushQueued = true;
    void this.mutex
      .run(async () => {
        if (!this.inflight && !this.stopping && this.clock.now() - this.lastFlush >= this.o.flushIntervalMs) this.startFlush();
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
      for (const lo of await this.o.port.logOffsets(this.o.topics)) ends.set(topicPartitionKey(lo.topic, lo.partition), lo);
      for (const [k, st] of this.parts) {
        const end = ends.get(k);
        if (!end) continue;
        st.high = BigInt(end.high);
        const position = st.next ?? BigInt(end.low);
        this.o.metrics.lag.set({ topic: st.topic, partition: String(st.partition), role: this.o.role }, Math.max(0, Number(st.high - position)));
        for (const sink of this.o.sinks) if (readsLogOffsets(sink)) sink.logOffsets(st.topic, st.partition, end.low, end.high);
      }
      for (const sink of this.o.sinks) if (readsLogOffsets(sink)) sink.logOffsetsDone();
    });
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
        this.o.log.warn({ role: this.o.role, err: (err as Error).message }, 'last flush failed; the next start replays from the last commit');
      }
    });
  }

  private due(): boolean {
    return this.sinceFlush >= this.o.batchSize || this.clock.now() - this.lastFlush >= this.o.flushIntervalMs;
  }

  /** Hands the sinks the committed offsets and checkpoints of partition number p (all topics). */
  private async initPartition(partition: number): Promise<void> {
    const missing = this.o.topics.filter((t) => this.owned.has(topicPartitionKey(t, partition)) && !this.parts.has(topicPartitionKey(t, partition)));
    if (missing.length === 0) return;
    const assigned = await this.o.port.fetchCommitted(missing, partition);
    for (const sink of this.o.sinks) {
      if (!isPartitioned(sink)) continue;
      const list: AssignedPartition[] = assigned.map((a) => ({ topic: a.topic, partition: a.partition, committed: a.offset, checkpoint: checkpointOf(a.metadata, sink.name) }));
      await sink.assign(list);
    }
    for (const a of assigned) {
      this.parts.set(topicPartitionKey(a.topic, partition), {
        topic: a.topic,
        partition,
        next: a.offset === null ? null : BigInt(a.offset),
        committed: a.offset === null ? null : BigInt(a.offset),
        committedMeta: a.metadata,
        high: null,
        sinkNext: this.o.sinks.map(() => -1n),
      });
    }
    this.o.log.info({ role: this.o.role, partition, topics: assigned.map((a) => `${a.topic}@${a.offset ?? 'start'}`) }, 'partition state restored from the committed offsets');
  }

  /**
   * Flushes every sink side by side, and sends the dead letters. Each sink takes what it will
   * make durable when called (synchronously), so events added while the writes run belong to
   * the next flush. If any fails, the whole flush is retried (a sink that succeeded has nothing
   * left to write).
   */
  private async flushSinks(): Promise<void> {
    const started = this.clock.now();
    const results = await Promise.allSettled(this.o.sinks.map((sink) => sink.flush()));
    // Also when a sink failed: what the others refused is sent now (their flush is done).
    await this.sendDeadLetters();
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.o.metrics.flushSeconds.observe({ role: this.o.role }, (this.clock.now() - started) / 1000);
  }

  /**
   * Sends every dead letter collected so far: after the sinks' flush (which adds the documents
   * Elasticsearch refused), before the commit that passes their offsets.
   */
  private async sendDeadLetters(): Promise<void> {
    const dead = this.o.deadLetters.take();
    if (!dead.length) return;
    try {
      await this.o.port.sendDeadLetters(dead);
    } catch (err) {
      this.o.deadLetters.restore(dead);
      throw err;
    }
    const byCode = new Map<string, number>();
    for (const d of dead) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
    for (const [code, n] of byCode) this.o.metrics.deadLettered.inc({ code }, n);
  }

  private snapshot(): Snapshot {
    return new Map([...this.parts].map(([k, st]) => [k, st.next]));
  }

  private async commit(snap: Snapshot): Promise<void> {
    const list: OffsetCommit[] = [];
    for (const [k, st] of this.parts) {
      // Never for a partition given away (the new owner commits it now), nor past the snapshot.
      if (!this.owned.has(k)) continue;
      const at = snap.get(k) ?? null;
      let offset = at ?? st.committed;
      if (offset === null) continue;
      for (const sink of this.o.sinks) {
        const held = isPartitioned(sink) ? sink.committableOffset(st.topic, st.partition) : undefined;
        if (held !== undefined && BigInt(held) < offset) offset = BigInt(held);
      }
      const meta: Record<string, string> = {};
      for (const sink of this.o.sinks) {
        const cp = isPartitioned(sink) ? sink.checkpoint(st.topic, st.partition, offset.toString()) : undefined;
        if (cp !== undefined) meta[sink.name] = cp;
      }
      const metadata = JSON.stringify(meta);
      if (offset === st.committed && metadata === st.committedMeta) continue;
      list.push({ topic: st.topic, partition: st.partition, offset: offset.toString(), metadata });
    }
    if (list.length === 0) return;
    try {
      await this.o.port.commit(list);
    } catch (err) {
      // A rebalance is under way: the next owner replays from the last commit, nothing is lost.
      this.o.log.warn({ role: this.o.role, err: (err as Error).message }, 'offset commit failed; will retry at the next flush');
      return;
    }
    this.lastProgress = this.clock.now();
    for (const c of list) {
      const st = this.parts.get(topicPartitionKey(c.topic, c.partition));
      if (!st) continue;
      st.committed = BigInt(c.offset);
      st.committedMeta = c.metadata;
      for (const sink of this.o.sinks) if (isPartitioned(sink)) sink.committed(c.topic, c.partition, c.offset);
    }
    this.o.metrics.commits.inc({ role: this.o.role }, list.length);
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
        this.o.metrics.flushErrors.inc({ role: this.o.role });
        this.o.log.warn({ role: this.o.role, err: (err as Error).message, retryInMs: delay }, 'flush failed; holding consumption and retrying');
        if (this.stopping) return;
        this.o.metrics.backpressure.set({ role: this.o.role }, 1);
        await this.clock.sleep(delay);
        delay = Math.min(delay * 2, this.o.maxRetryDelayMs);
        continue;
      }
      this.o.metrics.backpressure.set({ role: this.o.role }, 0);
      await this.commit(snap);
      return;
    }
  }

  /** Starts a flush unless one is running. Call inside the lock: the sinks take their data now. */
  private startFlush(): void {
    if (this.inflight) return;
    this.inflight = this.runFlush()
      .catch((err) => this.o.log.error({ role: this.o.role, err: (err as Error).message }, 'flush crashed'))
      .finally(() => {
        this.inflight = null;
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
      try {
        await b.heartbeat();
      } catch (err) {
        this.o.log.info({ role: this.o.role, err: (err as Error).message }, 'heartbeat refused while waiting for a flush: rejoining the group');
        return;
      }
    }
  }
}

function checkpointOf(meta: string | null, sink: string): string | undefined {
  if (!meta) return undefined;
  try {
    const x = JSON.parse(meta) as Record<string, unknown>;
    return typeof x[sink] === 'string' ? (x[sink] as string) : undefined;
  } catch {
    return undefined;
  }
}
