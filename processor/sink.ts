import type { EnrichedEvent } from '../contracts/event-schema.js';

/** Where an event came from; sinks derive deterministic ids and object names from it. */
export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
  /** The record's value as received (the enriched event's JSON), when the consumer has it. */
  raw?: string;
}

/** A topic-partition handed to this instance, with what the group last committed for it. */
export interface AssignedPartition {
  topic: string;
  partition: number;
  /** Committed offset, or null when the group never committed this partition. */
  committed: string | null;
  /** What this sink's `checkpoint` returned for that commit (undefined: nothing stored). */
  checkpoint: string | undefined;
}

/**
 * Every processor output sits behind this interface. The consumer calls `add` for each
 * event in offset order within a partition, then (every PROCESSOR_FLUSH_INTERVAL_MS or
 * PROCESSOR_BATCH_SIZE events) `flush` on every sink, and commits offsets only after every
 * `flush` has resolved, never past any sink's `committableOffset`, nor past the offsets reached
 * when the flush was called. The consumer goes on calling `add` while a flush runs (one flush at
 * a time): `flush` takes what it will make durable at the call, before its first `await`, and
 * `committableOffset` / `checkpoint` must hold for a commit made when that flush resolves.
 */
export interface Sink {
  readonly name: string;
  /**
   * Called before the first event of newly assigned partitions (after a start, a restart or a
   * rebalance), with the committed offset and this sink's checkpoint stored with it. The
   * consumer assigns the four event topics' partition p together (processor/assigner.ts).
   */
  assign?(partitions: AssignedPartition[]): void | Promise<void>;
  /** Called once per consumed event, in offset order within a partition. Must not do I/O that can be lost. */
  add(event: EnrichedEvent, position: SourcePosition): void | Promise<void>;
  /**
   * Resolves once everything added so far is durable, or can be rebuilt from offsets not yet
   * committed (see `committableOffset`). Rejects if anything could not be made durable; the
   * consumer then retries the flush (with backoff, holding consumption) before any commit.
   */
  flush(): Promise<void>;
  /**
   * The lowest offset of the partition this sink still needs replayed after a crash (the first
   * event of an open window or of an unwritten Parquet object). The consumer never commits past
   * it. Undefined: everything added is durable after `flush`.
   */
  committableOffset?(topic: string, partition: number): string | undefined;
  /**
   * Small state to store in the offset commit's metadata for this partition (all sinks share
   * Kafka's 4 KB limit), handed back to `assign` after a restart. `offset` is what is about to
   * be committed: the smallest `committableOffset` of all sinks, so possibly below this sink's.
   */
  checkpoint?(topic: string, partition: number, offset: string): string | undefined;
  /** The consumer committed `offset` for the partition. */
  committed?(topic: string, partition: number, offset: string): void;
  /** The log start and end offsets of an assigned partition, as last seen (for lag and idleness). */
  logOffsets?(topic: string, partition: number, low: string, high: string): void;
  /** Every assigned partition's `logOffsets` of one poll has been given (read just now). */
  logOffsetsDone?(): void;
  /** Called when partitions are revoked from this instance: drop state held for them. */
  revoke?(topic: string, partition: number): void;
  /** Called once at shutdown, after the last flush. */
  close?(): Promise<void>;
}
