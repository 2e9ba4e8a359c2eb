/**
 * What the Coordinator (processor/coordinator.ts) and its Kafka adapter (processor/consumer.ts)
 * hand each other: the adapter implements `ConsumerPort` and delivers `InputBatch`es.
 */
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { Offset, TopicPartition } from './sink.js';

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

/** One record of a batch as the adapter hands it over. */
export interface InputRecord {
  offset: Offset;
  /** The record's value as text (null for a tombstone). */
  value: string | null;
  /** The value's bytes as stored, when the adapter has them: an unreadable record's dead letter keeps them exactly. */
  bytes?: Uint8Array | null;
  /**
   * Where the value's bytes lie in the fetched buffer, when the adapter reads them from one: a role
   * that parses bytes (CoordinatorOptions.parseBytes) never has the value's text made.
   */
  valueBuf?: Buffer;
  valueStart?: number;
  valueEnd?: number;
}

export interface InputBatch extends TopicPartition {
  records: InputRecord[];
  highWatermark: Offset;
  /** Wall-clock time the adapter got the batch from its client (KPI tracing). */
  fetchedAt?: number;
  /** False once the batch belongs to an assignment that ended (checked inside the lock). */
  current(): boolean;
  /** Keeps the group membership alive while this batch waits for a flush. */
  heartbeat(): Promise<void>;
}
