/**
 * The kafkajs side of the consumer loop: one consumer group per role, its batches, rebalances,
 * commits, log offsets and dead letters handed to the Coordinator (processor/coordinator.ts),
 * which holds every decision.
 */
import type { Admin, Producer } from 'kafkajs';
import { DEAD_LETTER_TOPIC, EVENT_TOPICS } from '../contracts/topics.js';
import { CoPartitionedAssigner } from './assigner.js';
import { commitOffsetsChecked, coordinatorLost, installSingleAttemptCommits, rejoinError } from './commit-offsets.js';
import type { ConsumerPort } from './consumer-port.js';
import { CONSUMER_FETCH, committedOrLegacy, groupTimings, runCoordinator, type Runner, type RunnerOptions } from './consumer-runner.js';
import { startPlatformaticConsumer } from './platformatic-consumer.js';

export { CONSUMER_FETCH, consumerRequestTimeoutMs, type Runner, type RunnerOptions } from './consumer-runner.js';

/** Starts a role's consumer with the Kafka client PROCESSOR_KAFKA_CLIENT names. */
export function startConsumer(opts: RunnerOptions): Promise<Runner> {
  const client = opts.config.processorKafkaClient;
  if (client === 'platformatic') return startPlatformaticConsumer(opts);
  if (client === 'kafkajs') return startKafkajsConsumer(opts);
  throw new Error(`PROCESSOR_KAFKA_CLIENT must be kafkajs or platformatic, got "${client}"`);
}

async function startKafkajsConsumer(opts: RunnerOptions): Promise<Runner> {
  const { config, kafka, log, groupId, role } = opts;
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
    ...groupTimings(config),
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
      return committedOrLegacy(opts, partition, read);
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
  const { coordinator, stopLoops } = runCoordinator(opts, topics, port);

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
      const fetchedAt = Date.now();
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
        fetchedAt,
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

  return {
    coordinator,
    role,
    onCrash(listener) {
      consumer.on(consumer.events.CRASH, (e) => listener(e.payload.error, e.payload.restart));
    },
    async stop() {
      await stopLoops();
      await coordinator.stop();
      await consumer.disconnect();
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    },
  };
}
