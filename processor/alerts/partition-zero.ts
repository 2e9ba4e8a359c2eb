import type { AssignedPartition, PartitionedSink } from '../sink.js';

/** The sink methods of a task that reads no event (see `partitionZeroLeadership`). */
export type LeaderSink = Pick<PartitionedSink, 'assign' | 'revoke' | 'add' | 'flush' | 'committableOffset' | 'checkpoint' | 'committed'>;

export interface PartitionZeroLeadership {
  /** True from the assignment of partition 0 until its revocation or `end`. */
  readonly leading: boolean;
  /** Spread into the task's sink: it reads no event and holds no commit back. */
  readonly sink: LeaderSink;
  /** Called at the task's stop: leadership ends without a rebalance (`lost` is not called). */
  end(): void;
}

/**
 * Tasks that must run on exactly one processor instance (the site-level monitor, the webhook
 * outbox's poll) run on the one that owns partition 0 of the analytics group: the consumer group
 * already elects it, moves it on a crash or a rebalance, and tells each instance through its sinks.
 * `gained` is called when this instance is assigned partition 0 and was not leading; `lost` at every
 * revocation of a partition 0 (once per event topic: each call must be safe to repeat).
 */
export function partitionZeroLeadership(on: { gained(): void; lost(): void }): PartitionZeroLeadership {
  let leading = false;
  return {
    get leading() {
      return leading;
    },
    sink: {
      assign(parts: AssignedPartition[]) {
        if (leading || !parts.some((p) => p.partition === 0)) return;
        leading = true;
        on.gained();
      },
      add() {},
      async flush() {},
      committableOffset: () => undefined,
      checkpoint: () => undefined,
      committed() {},
      revoke(_topic: string, partition: number) {
        if (partition !== 0) return;
        leading = false;
        on.lost();
      },
    },
    end() {
      leading = false;
    },
  };
}
