/**
 * The coordinator's per-partition positions and what a commit may say about them: how far a
 * flush lets each topic-partition be committed (never past what every sink made durable) and
 * which checkpoints go with it, and how a committed offset and its checkpoints restore them.
 */
import { topicPartitionKey } from '../common/topic-partition.js';
import type { CommittedOffset, OffsetCommit } from './consumer-port.js';
import { isPartitioned, type AssignedPartition, type Sink } from './sink.js';

/** Offsets held as bigint for arithmetic; every interface in or out carries an `Offset`. */
export interface PartitionState {
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
export type Snapshot = Map<string, bigint | null>;

export function snapshotOf(parts: Map<string, PartitionState>): Snapshot {
  return new Map([...parts].map(([k, st]) => [k, st.next]));
}

/** A partition's state as the group's commit left it. */
export function restoredState(c: CommittedOffset, sinkCount: number): PartitionState {
  const at = c.offset === null ? null : BigInt(c.offset);
  return { topic: c.topic, partition: c.partition, next: at, committed: at, committedMeta: c.metadata, high: null, sinkNext: Array.from({ length: sinkCount }, () => -1n) };
}

/** What one sink is handed on assignment: the committed offsets and its own checkpoints in their metadata. */
export function assignedTo(sinkName: string, committed: CommittedOffset[]): AssignedPartition[] {
  return committed.map((c) => ({ topic: c.topic, partition: c.partition, committed: c.offset, checkpoint: checkpointOf(c.metadata, sinkName) }));
}

/**
 * The commits a flush that began at `snap` allows: per owned topic-partition, the smallest of the
 * snapshot and every sink's `committableOffset`, with every sink's checkpoint as metadata;
 * nothing for a partition given away (its new owner commits it) or whose commit would not change.
 */
export function commitsFor(parts: Map<string, PartitionState>, owned: Set<string>, snap: Snapshot, sinks: Sink[]): OffsetCommit[] {
  const list: OffsetCommit[] = [];
  for (const [k, st] of parts) {
    if (!owned.has(k)) continue;
    let offset = snap.get(k) ?? st.committed;
    if (offset === null) continue;
    for (const sink of sinks) {
      const held = isPartitioned(sink) ? sink.committableOffset(st.topic, st.partition) : undefined;
      if (held !== undefined && BigInt(held) < offset) offset = BigInt(held);
    }
    const meta: Record<string, string> = {};
    for (const sink of sinks) {
      const cp = isPartitioned(sink) ? sink.checkpoint(st.topic, st.partition, offset.toString()) : undefined;
      if (cp !== undefined) meta[sink.name] = cp;
    }
    const metadata = JSON.stringify(meta);
    if (offset === st.committed && metadata === st.committedMeta) continue;
    list.push({ topic: st.topic, partition: st.partition, offset: offset.toString(), metadata });
  }
  return list;
}

/** Records a commit Kafka accepted, in the coordinator's state and in every sink. */
export function applyCommits(parts: Map<string, PartitionState>, list: OffsetCommit[], sinks: Sink[]): void {
  for (const c of list) {
    const st = parts.get(topicPartitionKey(c.topic, c.partition));
    if (!st) continue;
    st.committed = BigInt(c.offset);
    st.committedMeta = c.metadata;
    for (const sink of sinks) if (isPartitioned(sink)) sink.committed(c.topic, c.partition, c.offset);
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
