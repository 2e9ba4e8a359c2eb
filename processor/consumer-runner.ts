/**
 * What both Kafka adapters of the consumer loop share (processor/consumer.ts for kafkajs,
 * processor/platformatic-consumer.ts for @platformatic/kafka): their options, the Coordinator
 * they drive, its flush timer and offset poll, and where a role resumes from.
 */
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { sleep } from '../common/wait.js';
import type { CommittedOffset, ConsumerPort } from './consumer-port.js';
import { Coordinator } from './coordinator.js';
import type { DeadLetterBuffer } from './dead-letters.js';
import type { Sink } from './sink.js';
import type { ProcessorMetrics } from './metrics.js';

export interface RunnerOptions {
  config: Config;
  /** The kafkajs client (the kafkajs adapter's; the other builds its clients from `config`). */
  kafka: Kafka;
  /** Consumer group of this role (each role commits its own offsets). */
  groupId: string;
  /** Label in the logs and metrics. */
  role: string;
  /**
   * The one consumer group of versions before roles: a partition this role's group never
   * committed resumes from there (committed offset and this role's sink checkpoint).
   */
  legacyGroupId?: string;
  sinks: Sink[];
  log: Logger;
  metrics: ProcessorMetrics;
  /** Refused records collected during a batch; sent to the dead-letter topic before the commit. */
  deadLetters: DeadLetterBuffer;
  /** Whether this role dead-letters records that are not enriched events (one role does). */
  deadLetterUnreadable: boolean;
  /** How often log end offsets are read (lag, idle partitions). */
  offsetsPollMs?: number;
  /**
   * Events after which a flush starts before the flush interval is up (default
   * PROCESSOR_BATCH_SIZE; Infinity: by time only).
   */
  flushEveryEvents?: number;
  /** How a record's text becomes the event the sinks get (default JSON.parse; see CoordinatorOptions.parse). */
  parse?: (text: string) => unknown;
  /** The same from the value's bytes (see CoordinatorOptions.parseBytes). */
  parseBytes?: (buf: Buffer, start: number, end: number) => unknown;
}

export interface Runner {
  coordinator: Coordinator;
  role: string;
  /** `listener` is called when the consumer stopped on an error; `restart`: the client starts it again itself. */
  onCrash(listener: (err: unknown, restart: boolean) => void): void;
  stop(): Promise<void>;
}

/**
 * Request timeout of the processor's Kafka client. A SyncGroup of a follower waits at the broker
 * until the leader syncs; when the leader is a dead member (SIGKILL, or a group reloaded after a
 * broker restart), that lasts up to the session timeout. A request timeout below it makes every
 * follower give up, crash-restart its consumer and join again under a new member id, leaving one
 * more dead member behind each time (the 379 s stall seen with a 10 s request timeout and a 30 s
 * session timeout). So it outlasts the session timeout.
 */
export const consumerRequestTimeoutMs = (config: Pick<Config, 'processorSessionTimeoutMs'>) => config.processorSessionTimeoutMs + 5_000;

/**
 * How the processor's consumer fetches. bench:processor gives Kafka's own consumer (its limit) the
 * same settings: with the Java client's default 500 ms fetch wait, each fetch after a partition ran
 * dry waited 500 ms at the broker, so the tool's last fifth of a topic took seconds and its rate
 * swung 5x between repetitions.
 */
export const CONSUMER_FETCH = {
  /** A partition's share of one fetch response. */
  maxBytesPerPartition: 1024 * 1024,
  /** A whole fetch response (kafkajs's default). */
  maxBytes: 10 * 1024 * 1024,
  /** How long the broker holds a fetch that found nothing. */
  maxWaitTimeInMs: 100,
  minBytes: 1,
} as const;

/** The group membership timings both clients are given (see consumerRequestTimeoutMs). */
export function groupTimings(config: Pick<Config, 'processorSessionTimeoutMs'>) {
  return {
    sessionTimeout: config.processorSessionTimeoutMs,
    // Live members rejoin within a batch (a batch waiting for a flush gives up when its heartbeat
    // is refused), so the broker need not wait long for them; a dead member is dropped after the
    // session timeout anyway.
    rebalanceTimeout: Math.max(10_000, config.processorSessionTimeoutMs),
    heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(config.processorSessionTimeoutMs / 5))),
  };
}

/**
 * The committed offsets of `partition` in this role's group; when it never committed there, those
 * of the single group of earlier versions, if it committed. Its offset was the smallest over every
 * sink, with every sink's checkpoint for that offset, so this role resumes exactly as a restart of
 * the old processor would.
 */
export async function committedOrLegacy(opts: Pick<RunnerOptions, 'groupId' | 'legacyGroupId' | 'log' | 'role'>, partition: number, read: (group: string) => Promise<CommittedOffset[]>): Promise<CommittedOffset[]> {
  const own = await read(opts.groupId);
  if (own.some((c) => c.offset !== null) || !opts.legacyGroupId) return own;
  const legacy = await read(opts.legacyGroupId);
  if (legacy.every((c) => c.offset === null)) return own;
  opts.log.info({ role: opts.role, partition, legacyGroup: opts.legacyGroupId }, 'resuming from the offsets of the former single consumer group');
  return legacy;
}

/** The Coordinator of a role, its flush timer and its offset poll; `stop` ends the last two. */
export function runCoordinator(opts: RunnerOptions, topics: string[], port: ConsumerPort): { coordinator: Coordinator; stopLoops(): Promise<void> } {
  const { config } = opts;
  const coordinator = new Coordinator({
    topics,
    sinks: opts.sinks,
    port,
    deadLetters: opts.deadLetters,
    metrics: opts.metrics,
    log: opts.log,
    role: opts.role,
    deadLetterUnreadable: opts.deadLetterUnreadable,
    parse: opts.parse,
    parseBytes: opts.parseBytes,
    flushIntervalMs: config.processorFlushIntervalMs,
    batchSize: opts.flushEveryEvents ?? config.processorBatchSize,
    // Waiting batches heartbeat meanwhile; capped well below the session timeout.
    maxRetryDelayMs: Math.min(10_000, Math.max(200, Math.floor(config.processorSessionTimeoutMs / 3))),
    // Within the session: a rebalance that waits for this flush does not outlast the members.
    commitTimeoutMs: Math.max(1000, Math.floor(config.processorSessionTimeoutMs / 2)),
  });
  const flushTimer = setInterval(() => coordinator.tick(), Math.max(50, Math.floor(config.processorFlushIntervalMs / 2)));
  const pollMs = opts.offsetsPollMs ?? 1000;
  let polling = true;
  const pollLoop = (async () => {
    while (polling) {
      await coordinator.pollOffsets().catch((err) => opts.log.debug({ role: opts.role, err: (err as Error).message }, 'offset poll failed'));
      await sleep(pollMs);
    }
  })();
  return {
    coordinator,
    async stopLoops() {
      clearInterval(flushTimer);
      polling = false;
      await pollLoop;
    },
  };
}
