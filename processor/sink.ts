import type { EnrichedEvent } from '../contracts/event-schema.js';

/**
 * A Kafka offset: a decimal string, as on the wire and in kafkajs. The one offset type of every
 * interface between the consumer and the sinks (a sink may compare with BigInt inside).
 */
export type Offset = string;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where an event came from; sinks derive deterministic ids and object names from it. */
export interface SourcePosition extends TopicPartition {
  offset: Offset;
  /** The record's value as received (the enriched event's JSON), when the consumer has it. */
  raw?: string;
  /** Wall-clock time the consumer got the record's batch from Kafka, when it says (KPI tracing). */
  fetchedAt?: number;
}

/** A topic-partition handed to this instance, with what the group last committed for it. */
export interface AssignedPartition extends TopicPartition {
  /** Committed offset, or null when the group never committed this partition. */
  committed: Offset | null;
  /** What this sink's `checkpoint` returned for that commit (undefined: nothing stored). */
  checkpoint: string | undefined;
}

/**
 * Every processor output sits behind this interface. The consumer calls `add` for each
 * event in offset order within a partition, then (every PROCESSOR_FLUSH_INTERVAL_MS or
 * PROCESSOR_BATCH_SIZE events) `flush` on every sink, and commits offsets only after every
 * `flush` has resolved, no further than the offsets reached when the flush was called. The
 * consumer goes on calling `add` while a flush runs (one flush at a time): `flush` takes what it
 * will make durable at the call, before its first `await`.
 *
 * A sink that keeps state per partition, or must hold commits back, is a `PartitionedSink`; one
 * that reads the log's offsets is a `LogOffsetsSink`.
 */
export interface Sink {
  /** Key of this sink's checkpoint in the commit metadata; fixed for the process's life. */
  readonly name: string;
  /** Called once per consumed event, in offset order within a partition. Must not do I/O that can be lost. */
  add(event: EnrichedEvent, position: SourcePosition): void | Promise<void>;
  /**
   * Called every PROCESSOR_FLUSH_INTERVAL_MS or PROCESSOR_BATCH_SIZE events, and once at
   * shutdown. Resolves once everything added so far is durable, or can be rebuilt from offsets
   * not yet committed. Rejects if anything could not be made durable; the consumer then retries
   * the flush (with backoff, holding consumption) before any commit.
   */
  flush(): Promise<void>;
}

/**
 * A sink with state per partition, restored from the commit after a restart: it may hold the
 * commit back (`committableOffset`) and stores a small checkpoint with it. `committableOffset`
 * and `checkpoint` must hold for a commit made when the flush running at the call resolves.
 */
export interface PartitionedSink extends Sink {
  /**
   * Called before the first event of newly assigned partitions (after a start, a restart or a
   * rebalance), with the committed offset and this sink's checkpoint stored with it. The
   * consumer assigns the four event topics' partition p together (processor/assigner.ts).
   */
  assign(partitions: AssignedPartition[]): void | Promise<void>;
  /**
   * Called at every commit after a flush resolved: the lowest offset of the partition this sink
   * still needs replayed after a crash (the first event of an open window or of an unwritten
   * Parquet object). The consumer never commits past it. Undefined: everything added is durable
   * after `flush`.
   */
  committableOffset(topic: string, partition: number): Offset | undefined;
  /**
   * Called at every commit, after `committableOffset` of every sink: small state to store in the
   * offset commit's metadata for this partition (all sinks share Kafka's 4 KB limit), handed
   * back to `assign` after a restart. `offset` is what is about to be committed: the smallest
   * `committableOffset` of all sinks, so possibly below this sink's.
   */
  checkpoint(topic: string, partition: number, offset: Offset): string | undefined;
  /** Called once Kafka accepted the commit of `offset` (with this sink's checkpoint) for the partition. */
  committed(topic: string, partition: number, offset: Offset): void;
  /** Called when the partition is revoked from this instance, after the flush in flight: drop state held for it. */
  revoke(topic: string, partition: number): void;
}

/** A sink that follows how far the log of its partitions reaches (for lag and idleness). */
export interface LogOffsetsSink extends Sink {
  /** Called at every offset poll, per assigned partition: its log start and end offsets, read just now. */
  logOffsets(topic: string, partition: number, low: Offset, high: Offset): void;
  /** Called after every assigned partition's `logOffsets` of one poll has been given. */
  logOffsetsDone(): void;
}

export const isPartitioned = (sink: Sink): sink is PartitionedSink => 'assign' in sink;
export const readsLogOffsets = (sink: Sink): sink is LogOffsetsSink => 'logOffsets' in sink;
