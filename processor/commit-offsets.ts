/**
 * Offset commits that either reach Kafka or reject.
 *
 * kafkajs's `consumer.commitOffsets` resolves without sending anything while its runner is not
 * running: after a crash (e.g. a broker restart) the consumer is rebuilt and rejoins the group,
 * and for the whole join a commit is a silent no-op. The coordinator would take that for an
 * accepted commit: sinks act on it (the archive deletes the manifests of chunks the commit covers)
 * while the group still holds the older offsets and checkpoints, so a restart replays chunks whose
 * boundaries are gone and writes objects overlapping the ones already there. kafkajs reports a
 * commit it did send with a COMMIT_OFFSETS event (emitted before the call resolves); a commit
 * without one is treated as failed.
 */
import type { Consumer } from 'kafkajs';
import type { OffsetCommit } from './consumer-port.js';

/** What the check needs of a kafkajs consumer. */
export type CommittingConsumer = Pick<Consumer, 'commitOffsets' | 'on' | 'events'>;

export async function commitOffsetsChecked(consumer: CommittingConsumer, list: OffsetCommit[]): Promise<void> {
  const pending = new Set(list.map((c) => `${c.topic}/${c.partition}@${c.offset}`));
  const remove = consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
    for (const t of e.payload.topics) for (const p of t.partitions) pending.delete(`${t.topic}/${p.partition}@${String(p.offset)}`);
  });
  try {
    await consumer.commitOffsets(list);
  } finally {
    remove();
  }
  if (pending.size > 0) {
    throw new Error(`offset commit not sent (the consumer is rejoining its group): ${[...pending].slice(0, 3).join(', ')}${pending.size > 3 ? ', ...' : ''}`);
  }
}
