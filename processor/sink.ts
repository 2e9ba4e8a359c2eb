import type { EnrichedEvent } from '../contracts/event-schema.js';

/** Where an event came from; sinks derive deterministic ids and object names from it. */
export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Every processor output sits behind this interface. The consumer calls `add` for each
 * event of a fetched batch in offset order, then `flush` on every sink, and commits the
 * batch's offsets only after every `flush` has resolved.
 */
export interface Sink {
  readonly name: string;
  /** Called once per consumed event, in offset order within a partition. Must not do I/O that can be lost. */
  add(event: EnrichedEvent, position: SourcePosition): void | Promise<void>;
  /**
   * Called after each batch, before offsets are committed. Resolves once everything added so far
   * is durable (or, for sinks that hold state, once it can be rebuilt from offsets not yet
   * committed: see `committableOffset`). Rejects if anything could not be made durable; the
   * consumer then retries the batch from its first offset.
   */
  flush(): Promise<void>;
  /**
   * Optional: the lowest offset per partition this sink still needs replayed after a crash
   * (e.g. the first event of an open window or an unwritten Parquet file). The consumer never
   * commits past it. Keyed by `${topic}:${partition}`.
   */
  committableOffset?(topic: string, partition: number): string | undefined;
  /** Called when partitions are revoked from this instance: drop state held for them. */
  revoke?(topic: string, partition: number): void;
  /** Called once at shutdown, after the last flush. */
  close?(): Promise<void>;
}
