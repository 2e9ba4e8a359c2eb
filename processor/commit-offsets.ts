/**
 * Offset commits that either reach Kafka under the generation they were built for, once, or reject.
 *
 * kafkajs 2.2's `consumer.commitOffsets` (its Runner's `commitOffsets`) has two behaviours the
 * coordinator cannot live with:
 *
 * - It resolves without sending anything while its runner is not running: after a crash (e.g. a
 *   broker restart) the consumer is rebuilt and rejoins the group, and for the whole join a commit
 *   is a silent no-op. Sinks would act on it (the archive deletes the manifests of chunks the
 *   commit covers) while the group still holds the older offsets and checkpoints.
 * - It retries every retriable failure with the consumer's retry settings (here without end), and
 *   each attempt reads the consumer group's *current* offset manager. A commit to a group
 *   coordinator that died is retried for as long as that node is down (kafkajs never looks the
 *   coordinator up again for it, and a refused connection does not make the runner rejoin), so the
 *   flush waiting for it never ends and no sink is flushed again: the broker-failover test's index
 *   role wrote nothing from the SIGKILL on. And once the group has rebalanced, the retried commit
 *   lands under the new generation, for partitions that may now belong to another instance,
 *   moving their offsets back under the new owner's feet (the archive's new owner may already
 *   have deleted the manifests those offsets need).
 *
 * `installSingleAttemptCommits` replaces that method (once per process, for every kafkajs
 * consumer) with one attempt through the offset manager of the generation current at the call,
 * which rejects when the runner is not running and on any error. The coordinator retries at its
 * next flush with fresher offsets (commits are cumulative), so nothing is lost by not retrying.
 * `commitOffsetsChecked` additionally requires kafkajs's COMMIT_OFFSETS event for every offset.
 */
import { createRequire } from 'node:module';
import type { Consumer } from 'kafkajs';
import type { OffsetCommit } from './consumer-port.js';

/** What the check needs of a kafkajs consumer. */
export type CommittingConsumer = Pick<Consumer, 'commitOffsets' | 'on' | 'events'>;

/** The payload kafkajs's consumer hands its runner: offsets grouped by topic. */
export interface RunnerOffsets {
  topics: { topic: string; partitions: { partition: number; offset: unknown; metadata?: string | null }[] }[];
}

/** The parts of kafkajs's Runner (src/consumer/runner.js) a commit touches. */
export interface KafkajsRunner {
  running: boolean;
  consumerGroup: {
    /** Replaced at every sync: bound to that generation, member id and coordinator. */
    offsetManager: { commitOffsets(offsets: RunnerOffsets): Promise<void> } | null;
  } | null;
  /** kafkajs's own retrier (the consumer's retry settings). */
  retrier?: unknown;
}

type RunnerCommit = (this: KafkajsRunner, offsets: RunnerOffsets) => Promise<void>;

/** A commit that did not reach Kafka; `cause` holds kafkajs's error when there was one. */
export class CommitNotSentError extends Error {
  /** kafkajs's error type (e.g. NOT_COORDINATOR_FOR_GROUP), or its error class name. */
  readonly kind: string;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'CommitNotSentError';
    const c = cause as { type?: string; name?: string } | undefined;
    this.kind = c?.type ?? c?.name ?? 'not_running';
  }
}

/**
 * Whether a failed commit (or heartbeat) says the group coordinator this consumer talks to is gone
 * or is no longer the coordinator: kafkajs then has to look it up again, which it does only when
 * it rejoins the group.
 */
export function coordinatorLost(err: unknown): boolean {
  const kind = err instanceof CommitNotSentError ? err.kind : ((err as { type?: string })?.type ?? (err as { name?: string })?.name);
  return (
    kind === 'NOT_COORDINATOR_FOR_GROUP' ||
    kind === 'GROUP_COORDINATOR_NOT_AVAILABLE' ||
    kind === 'KafkaJSConnectionError' ||
    kind === 'KafkaJSConnectionClosedError' ||
    kind === 'KafkaJSRequestTimeoutError' ||
    kind === 'KafkaJSBrokerNotFound'
  );
}

/** One attempt, through the offset manager of the generation current at the call. */
export const singleAttemptCommit: RunnerCommit = async function (this: KafkajsRunner, offsets: RunnerOffsets) {
  const manager = this.running ? this.consumerGroup?.offsetManager : null;
  if (!manager) throw new CommitNotSentError('offset commit not sent: the consumer is rejoining its group');
  try {
    await manager.commitOffsets(offsets);
  } catch (err) {
    throw new CommitNotSentError(`offset commit refused: ${(err as Error).message}`, err);
  }
};

const require = createRequire(import.meta.url);
/** kafkajs is CommonJS without an exports map: its consumer requires this same module object. */
const Runner = require('kafkajs/src/consumer/runner.js') as { prototype: { commitOffsets: RunnerCommit } };

/** kafkajs's own method, kept for the test that shows what it does. */
export const kafkajsRetryingCommit: RunnerCommit = Runner.prototype.commitOffsets;

/** Makes every kafkajs consumer of this process commit with `singleAttemptCommit`. Idempotent. */
export function installSingleAttemptCommits(): void {
  Runner.prototype.commitOffsets = singleAttemptCommit;
}

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
    throw new CommitNotSentError(`offset commit not sent (the consumer is rejoining its group): ${[...pending].slice(0, 3).join(', ')}${pending.size > 3 ? ', ...' : ''}`);
  }
}

const { KafkaJSProtocolError } = require('kafkajs') as { KafkaJSProtocolError: new (e: { message: string; type: string; code: number; retriable: boolean }) => Error };

/**
 * The error a batch throws to make kafkajs rejoin the group, looking the coordinator up again
 * (its runner rejoins on NOT_COORDINATOR_FOR_GROUP, not on a refused connection).
 */
export function rejoinError(reason: string): Error {
  return new KafkaJSProtocolError({ message: `group coordinator lost (${reason}): rejoining the group`, type: 'NOT_COORDINATOR_FOR_GROUP', code: 16, retriable: true });
}
