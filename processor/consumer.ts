/**
 * The kafkajs side of the consumer loop: one consumer group per role, its batches, rebalances,
 * commits, log offsets and dead letters handed to the Coordinator (processor/coordinator.ts),
 * which holds every decision.
 */
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { DEAD_LETTER_TOPIC, EVENT_TOPICS } from '../contracts/topics.js';
import { CoPartitionedAssigner } from './assigner.js';
import { commitOffsetsChecked, coordinatorLost, installSingleAttemptCommits, rejoinError } from './commit-offsets.js';
import type { ConsumerPort } from './consumer-port.js';
import { Coordinator } from './coordinator.js';
import type { DeadLetterBuffer } from './dead-letters.js';
import type { Sink } from './sink.js';
import type { ProcessorMetrics } from './metrics.js';
import { sleep } from '../common/wait.js';

export interface RunnerOptions {
  config: Config;
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
}

export interface Runner {
  consumer: Consumer;
  coordinator: Coordinator;
  role: string;
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

export async function startConsumer(opts: RunnerOptions): Promise<Runner> {
  const { config, kafka, sinks, log, metrics, deadLetters, groupId, role } = opts;
  // One attempt per commit, under the generation it was built for (processor/commit-offsets.ts).
  installSingleAttemptCommits();
  /**
   * Set when a commit or heartbeat found the group coordinator gone (node down, or moved): the
   * next batch makes kafkajs rejoin, which looks the coordinator up again. Without it kafkajs
   * keeps talking to a dead coordinator until that node returns, and nothing is committed.
   */
  let coordinatorGone: string | null = null;
  const consumer = kafka.consumer({
    groupId,
    partitionAssigners: [CoPartitionedAssigner],
    sessionTimeout: config.processorSessionTimeoutMs,
    // Live members rejoin within a batch (a batch waiting for a flush gives up when its heartbeat
    // is refused), so the broker need not wait long for them; a dead member is dropped after the
    // session timeout anyway. See consumerRequestTimeoutMs for the request side.
    rebalanceTimeout: Math.max(10_000, config.processorSessionTimeoutMs),
    heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(config.processorSessionTimeoutMs / 5))),
    ...CONSUMER_FETCH,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  const producer: Producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
  const admin: Admin = kafka.admin();
  await Promise.all([producer.connect(), consumer.connect(), admin.connect()]);
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  // A new group starts from the beginning: events produced before the first processor ran still count.
  await consumer.subscribe({ topics, fromBeginning: true });

  const port: ConsumerPort = {
    async fetchCommitted(missing, partition) {
      const read = async (group: string) =>
        (await admin.fetchOffsets({ groupId: group, topics: missing })).map(({ topic, partitions }) => {
          const p = partitions.find((x) => x.partition === partition);
          return { topic, partition, offset: p && p.offset !== '-1' ? p.offset : null, metadata: p?.metadata ?? null };
        });
      const own = await read(groupId);
      if (own.some((c) => c.offset !== null) || !opts.legacyGroupId) return own;
      // Never committed in this role's group: carry on from the single group of earlier versions,
      // if it committed. Its offset was the smallest over every sink, with every sink's checkpoint
      // for that offset, so this role resumes exactly as a restart of the old processor would.
      const legacy = await read(opts.legacyGroupId);
      if (legacy.every((c) => c.offset === null)) return own;
      log.info({ role, partition, legacyGroup: opts.legacyGroupId }, 'resuming from the offsets of the former single consumer group');
      return legacy;
    },
    async commit(list) {
      try {
        await commitOffsetsChecked(consumer, list);
      } catch (err) {
        if (coordinatorLost(err)) coordinatorGone ??= (err as Error).message;
        throw err;
      }
    },
    async logOffsets(ts) {
      const out = [];
      for (const topic of ts) for (const p of await admin.fetchTopicOffsets(topic)) out.push({ topic, partition: p.partition, low: p.low, high: p.high });
      return out;
    },
    async sendDeadLetters(items) {
      await producer.send({
        topic: config.topicPrefix + DEAD_LETTER_TOPIC,
        acks: -1,
        // Keyed by the record's topic-partition: one record's dead letters stay in order.
        messages: items.map((d) => ({ key: d.origin ? `${d.origin.topic}/${d.origin.partition}` : 'processor', value: JSON.stringify(d) })),
      });
    },
  };
  const coordinator = new Coordinator({
    topics,
    sinks,
    port,
    deadLetters,
    metrics,
    log,
    role,
    deadLetterUnreadable: opts.deadLetterUnreadable,
    parse: opts.parse,
    flushIntervalMs: config.processorFlushIntervalMs,
    batchSize: opts.flushEveryEvents ?? config.processorBatchSize,
    // Waiting batches heartbeat meanwhile; capped well below the session timeout.
    maxRetryDelayMs: Math.min(10_000, Math.max(200, Math.floor(config.processorSessionTimeoutMs / 3))),
    // Within the session: a rebalance that waits for this flush does not outlast the members.
    commitTimeoutMs: Math.max(1000, Math.floor(config.processorSessionTimeoutMs / 2)),
  });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assignment = e.payload.memberAssignment as Record<string, number[]>;
    const tps = Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    log.info({ role, assignment }, 'partitions assigned');
    void coordinator.assigned(tps);
  });

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (batch.messages.length === 0) return;
      const heartbeat = async () => {
        try {
          await payload.heartbeat();
        } catch (err) {
          if (coordinatorLost(err)) coordinatorGone ??= (err as Error).message;
          throw err;
        }
      };
      const processed = await coordinator.batch({
        topic: batch.topic,
        partition: batch.partition,
        records: batch.messages.map((m) => ({ offset: m.offset, value: m.value ? m.value.toString('utf8') : null, bytes: m.value })),
        highWatermark: batch.highWatermark,
        current: () => payload.isRunning() && !payload.isStale(),
        heartbeat,
      });
      if (processed) payload.resolveOffset(batch.messages[batch.messages.length - 1].offset);
      try {
        await heartbeat();
      } catch (err) {
        if (!coordinatorGone) throw err;
      }
      if (coordinatorGone) {
        // Records of this batch already handed to the sinks are skipped when fetched again.
        const reason = coordinatorGone;
        coordinatorGone = null;
        log.warn({ role, reason }, 'group coordinator lost: rejoining the group');
        throw rejoinError(reason);
      }
    },
  });

  const flushTimer = setInterval(() => coordinator.tick(), Math.max(50, Math.floor(config.processorFlushIntervalMs / 2)));
  const pollMs = opts.offsetsPollMs ?? 1000;
  let polling = true;
  const pollLoop = (async () => {
    while (polling) {
      await coordinator.pollOffsets().catch((err) => log.debug({ role, err: (err as Error).message }, 'offset poll failed'));
      await sleep(pollMs);
    }
  })();

  return {
    consumer,
    coordinator,
    role,
    async stop() {
      clearInterval(flushTimer);
      polling = false;
      await pollLoop;
      await coordinator.stop();
      await consumer.disconnect();
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    },
  };
}
