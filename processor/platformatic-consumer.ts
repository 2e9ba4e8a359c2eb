/**
 * The @platformatic/kafka side of the consumer loop (PROCESSOR_KAFKA_CLIENT=platformatic), with
 * the same contract as the kafkajs one (processor/consumer.ts): one consumer group per role, the
 * co-partitioned assignor, batches per topic-partition handed to the Coordinator, offsets committed
 * only after every sink flushed.
 *
 * The client keeps the group membership (join, sync, heartbeats, rejoining on a rebalance); this
 * file fetches itself (`Consumer.fetch`, one request per partition leader), so a batch is one
 * partition's records of one fetch, read into text once, with no per-record stream object.
 * - Positions: a partition newly assigned starts at the group's committed offset (the earliest
 *   offset when none), like kafkajs's `fromBeginning`; a partition kept across a rebalance goes on
 *   from where this instance is (the Coordinator holds its state and skips what it has seen).
 * - Commits: one OffsetCommit request per call, with every sink's checkpoint as metadata, under the
 *   generation whose assignment the Coordinator was last told, never retried here (the client's own
 *   `commit` retries after rejoining, under a newer generation, and drops the metadata). While the
 *   client is between a JoinGroup and the assignment that follows, it rejects.
 * - A batch is current while no rebalance happened since it was fetched; its `heartbeat` rejects
 *   once one did (the client heartbeats on its own timer), so a flush waiting does not hold it.
 */
import {
  Admin,
  compatibilityPartitioner,
  ConnectionPool,
  Consumer,
  ListOffsetTimestamps,
  offsetCommitV8,
  ProduceAcks,
  Producer,
  type fetchV17,
} from '@platformatic/kafka';
import { DEAD_LETTER_TOPIC, EVENT_TOPICS } from '../contracts/topics.js';
import { topicPartitionKey } from '../common/topic-partition.js';
import { sleep } from '../common/wait.js';
import { platformaticConnection } from '../gateway/platformatic-driver.js';
import { CO_PARTITIONED_PROTOCOL, coPartitionedPlatformaticAssigner } from './assigner.js';
import type { ConsumerPort, InputRecord } from './consumer-port.js';
import { batchesEnd, decodeRecords, FETCH_ISOLATION, rawFetchV17, recordsFrom, type RawFetchPartition, type RawFetchResponse } from './kafka-fetch.js';
import { CONSUMER_FETCH, committedOrLegacy, consumerRequestTimeoutMs, groupTimings, runCoordinator, type Runner, type RunnerOptions } from './consumer-runner.js';
import type { TopicPartition } from './sink.js';

type FetchRequestTopic = fetchV17.FetchRequestTopic;
type FetchResponse = fetchV17.FetchResponse;
type FetchError = Error & { response?: FetchResponse | RawFetchResponse };
type FetchAnswer = { r: RawFetchResponse | FetchResponse; err: null; at: number } | { r: null; err: FetchError; at: number };

/** A fetch sent: the assignment and offsets it was built from, and its answers (one per leader). */
interface Fetching {
  assignment: unknown;
  /** The fetch offset of every topic-partition it asked for. */
  from: Map<string, bigint>;
  /** Topic name by topic id. */
  names: Map<string, string>;
  answers: Promise<FetchAnswer[]>;
}

/** The group changed under a batch or a commit: the caller gives up and the next one goes ahead. */
class RebalancedError extends Error {
  constructor(what: string) {
    super(`${what}: the consumer is rejoining its group`);
    this.name = 'RebalancedError';
  }
}

export async function startPlatformaticConsumer(opts: RunnerOptions): Promise<Runner> {
  const { config, log, groupId, role } = opts;
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  const timeoutMs = consumerRequestTimeoutMs(config);
  const base = {
    ...platformaticConnection(config),
    clientId: `${config.kafkaClientId}-processor`,
    connectTimeout: 5_000,
    requestTimeout: timeoutMs,
    timeout: timeoutMs,
    retries: 3,
    retryDelay: 300,
    metadataMaxAge: 30_000,
  };
  const timings = groupTimings(config);
  const consumer = new Consumer({
    ...base,
    groupId,
    ...timings,
    protocols: [{ name: CO_PARTITIONED_PROTOCOL, version: 1 }],
    partitionAssigner: coPartitionedPlatformaticAssigner,
    autocommit: false,
    maxWaitTime: CONSUMER_FETCH.maxWaitTimeInMs,
    minBytes: CONSUMER_FETCH.minBytes,
    maxBytes: CONSUMER_FETCH.maxBytes,
    maxBytesPerPartition: CONSUMER_FETCH.maxBytesPerPartition,
  });
  const admin = new Admin(base);
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({ ...base, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false, partitioner: compatibilityPartitioner });
  /** The commits' own connections (the client's commit cannot carry metadata). */
  const commitPool = new ConnectionPool(base.clientId, base);
  /** The fetches' own connections, when the brokers answer Fetch v17 (processor/kafka-fetch.ts). */
  const fetchPool = new ConnectionPool(base.clientId, base);
  let rawFetch = false;
  const crashListeners: ((err: unknown, restart: boolean) => void)[] = [];

  /** The assignment the Coordinator was last told, with the generation and member id it came with. */
  let assignment: { seq: number; generation: number; memberId: string; tps: TopicPartition[] } = { seq: 0, generation: -1, memberId: '', tps: [] };
  /** Next offset to fetch per topic-partition of the assignment (missing: read the committed one first). */
  const positions = new Map<string, bigint>();
  let fetching = true;

  const port: ConsumerPort = {
    async fetchCommitted(missing, partition) {
      const read = async (group: string) => {
        const [answer] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: missing.map((name) => ({ name, partitionIndexes: [partition] })) }] });
        return missing.map((topic) => {
          const p = answer?.topics.find((t) => t.name === topic)?.partitions.find((x) => x.partitionIndex === partition);
          return { topic, partition, offset: p && p.committedOffset >= 0n ? p.committedOffset.toString() : null, metadata: p?.metadata ?? null };
        });
      };
      return committedOrLegacy(opts, partition, read);
    },
    async commit(list) {
      const { generation, memberId } = assignment;
      if (generation < 0 || consumer.generationId !== generation || consumer.memberId !== memberId) throw new RebalancedError('offset commit not sent');
      const coordinatorId = consumer.coordinatorId;
      const broker = coordinatorId === null ? undefined : (await consumer.metadata({ topics })).brokers.get(coordinatorId);
      if (!broker) throw new Error('offset commit not sent: the group coordinator is not known');
      const byTopic = new Map<string, offsetCommitV8.OffsetCommitRequestTopic>();
      for (const c of list) {
        let t = byTopic.get(c.topic);
        if (!t) byTopic.set(c.topic, (t = { name: c.topic, partitions: [] }));
        t.partitions.push({ partitionIndex: c.partition, committedOffset: BigInt(c.offset), committedLeaderEpoch: -1, committedMetadata: c.metadata });
      }
      const connection = await commitPool.get(broker);
      await offsetCommitV8.api.async(connection, groupId, generation, memberId, null, [...byTopic.values()]);
    },
    async logOffsets(ts) {
      const [low, high] = await Promise.all([consumer.listOffsets({ topics: ts, timestamp: ListOffsetTimestamps.EARLIEST }), consumer.listOffsets({ topics: ts, timestamp: ListOffsetTimestamps.LATEST })]);
      const out = [];
      for (const topic of ts) {
        const lows = low.get(topic) ?? [];
        const highs = high.get(topic) ?? [];
        for (let partition = 0; partition < highs.length; partition++) out.push({ topic, partition, low: String(lows[partition] ?? 0n), high: String(highs[partition]) });
      }
      return out;
    },
    async sendDeadLetters(items) {
      await producer.send({
        // Keyed by the record's topic-partition: one record's dead letters stay in order.
        messages: items.map((d) => ({
          topic: config.topicPrefix + DEAD_LETTER_TOPIC,
          key: Buffer.from(d.origin ? `${d.origin.topic}/${d.origin.partition}` : 'processor'),
          value: Buffer.from(JSON.stringify(d)),
        })),
      });
    },
  };
  const { coordinator, stopLoops } = runCoordinator(opts, topics, port);

  consumer.on('consumer:group:join', (p) => {
    const tps = (p.assignments ?? []).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
    const kept = new Set(tps.map((t) => topicPartitionKey(t.topic, t.partition)));
    for (const k of positions.keys()) if (!kept.has(k)) positions.delete(k);
    assignment = { seq: assignment.seq + 1, generation: p.generationId ?? consumer.generationId, memberId: p.memberId, tps };
    log.info({ role, assignment: Object.fromEntries((p.assignments ?? []).map((a) => [a.topic, a.partitions])) }, 'partitions assigned');
    void coordinator.assigned(tps);
  });
  consumer.on('consumer:heartbeat:error', (p) => log.info({ role, err: p.error.message }, 'heartbeat refused'));
  // A rejoin the client gave up on (after its retries) leaves this instance out of the group: join again.
  consumer.on('error', (err: Error) => {
    if (!fetching) return;
    log.warn({ role, err: err.message }, 'kafka consumer error: joining the group again');
    for (const l of crashListeners) l(err, true);
    setTimeout(() => {
      if (fetching) consumer.joinGroup({}).catch((e: Error) => log.warn({ role, err: e.message }, 'joining the group failed; retried at the next error'));
    }, 1000).unref();
  });

  /** Positions of the assigned partitions that have none: the committed offset, else the earliest. */
  async function initPositions(tps: TopicPartition[]): Promise<void> {
    const missing = tps.filter((t) => !positions.has(topicPartitionKey(t.topic, t.partition)));
    if (missing.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const t of missing) byTopic.set(t.topic, [...(byTopic.get(t.topic) ?? []), t.partition]);
    const committed = await consumer.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
    const earliest = await consumer.listOffsets({ topics: [...byTopic.keys()], partitions: Object.fromEntries(byTopic), timestamp: ListOffsetTimestamps.EARLIEST });
    for (const t of missing) {
      const c = committed.get(t.topic)?.[t.partition] ?? -1n;
      positions.set(topicPartitionKey(t.topic, t.partition), c >= 0n ? c : (earliest.get(t.topic)?.[t.partition] ?? 0n));
    }
  }

  /** The fetch of the next records, sent before the records of the last one are handed over. */
  let ahead: Fetching | null = null;

  /**
   * One fetch from every leader of the assigned partitions, each partition's records handed over
   * as a batch. The next fetch leaves as soon as this one's answers are in, from the offsets after
   * them, and is used if they were all handed over under the same assignment: the broker reads and
   * sends it while this one is processed, instead of the loop waiting for a round trip per fetch.
   */
  async function fetchOnce(): Promise<void> {
    const current = assignment;
    if (current.tps.length === 0) {
      await sleep(100);
      return;
    }
    await initPositions(current.tps);
    if (assignment !== current) return;
    const metadata = await consumer.metadata({ topics });
    let sent = ahead;
    ahead = null;
    if (!sent || sent.assignment !== current || !samePositions(sent.from, positions)) sent = startFetch(current, metadata, positions);
    const answers = await sent.answers;
    // Where the loop stands once every partition of the answers is handed over (a failed answer
    // may move positions: no fetch ahead then).
    if (answers.every((a) => a.r !== null)) {
      const after = new Map(positions);
      for (const { r } of answers) {
        for (const [key, next] of nextPositions(r!, sent.names)) {
          const from = after.get(key);
          if (from !== undefined && next > from) after.set(key, next);
        }
      }
      ahead = startFetch(current, metadata, after);
    }
    for (const { r, err, at } of answers) {
      if (err) await fetchFailed(err, sent.names);
      else if (!(await handOver(r!, sent.names, current, at))) return;
    }
  }

  /** Sends one fetch per partition leader, from the offsets `from`; its answers never reject. */
  function startFetch(current: typeof assignment, metadata: Awaited<ReturnType<typeof consumer.metadata>>, from: Map<string, bigint>): Fetching {
    const names = new Map<string, string>();
    const byNode = new Map<number, FetchRequestTopic[]>();
    const sent = new Map<string, bigint>();
    for (const { topic, partition } of current.tps) {
      const tm = metadata.topics.get(topic);
      const key = topicPartitionKey(topic, partition);
      const fetchOffset = from.get(key);
      if (!tm || fetchOffset === undefined) continue;
      sent.set(key, fetchOffset);
      names.set(tm.id, topic);
      const leader = tm.partitions[partition]?.leader ?? -1;
      const list = byNode.get(leader) ?? [];
      list.push({ topicId: tm.id, partitions: [{ partition, fetchOffset, partitionMaxBytes: CONSUMER_FETCH.maxBytesPerPartition, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] });
      byNode.set(leader, list);
    }
    const fetchFrom = async (node: number, reqTopics: FetchRequestTopic[]): Promise<RawFetchResponse | FetchResponse> => {
      if (!rawFetch) return consumer.fetch({ node, topics: reqTopics, maxWaitTime: CONSUMER_FETCH.maxWaitTimeInMs, minBytes: CONSUMER_FETCH.minBytes, maxBytes: CONSUMER_FETCH.maxBytes });
      const broker = metadata.brokers.get(node);
      if (!broker) throw new Error(`fetch not sent: broker ${node} is not known`);
      // A full fetch each time (session id 0, epoch -1): no fetch session to keep across rebalances.
      return rawFetchV17.async(await fetchPool.get(broker), CONSUMER_FETCH.maxWaitTimeInMs, CONSUMER_FETCH.minBytes, CONSUMER_FETCH.maxBytes, FETCH_ISOLATION, 0, -1, reqTopics, [], '');
    };
    const answers = Promise.all(
      [...byNode].map(([node, reqTopics]) =>
        fetchFrom(node, reqTopics).then(
          // When the answer came: the KPI trace's hand-over time (kafkajs stamps its batches alike).
          (r): FetchAnswer => ({ r, err: null, at: Date.now() }),
          (err: FetchError): FetchAnswer => ({ r: null, err, at: 0 }),
        ),
      ),
    );
    return { assignment: current, from: sent, names, answers };
  }

  /** A failed fetch: partitions whose offset left the log start again from its start; anything else is retried. */
  async function fetchFailed(err: FetchError, names: Map<string, string>): Promise<void> {
    let reset = false;
    for (const t of err.response?.responses ?? []) {
      for (const p of t.partitions) {
        const topic = names.get(t.topicId);
        // OFFSET_OUT_OF_RANGE: records removed by retention (or a topic recreated) under the position.
        if (topic && p.errorCode === 1 && p.logStartOffset >= 0n) {
          positions.set(topicPartitionKey(topic, p.partitionIndex), p.logStartOffset);
          log.warn({ role, topic, partition: p.partitionIndex, from: String(p.logStartOffset) }, 'fetch offset out of range: reading from the log start');
          reset = true;
        }
      }
    }
    if (reset) return;
    log.warn({ role, err: err.message }, 'fetch failed; retrying');
    consumer.clearMetadata();
    await sleep(300);
  }

  /** Hands each partition's records of one fetch to the Coordinator; false once the assignment changed. */
  async function handOver(r: FetchResponse | RawFetchResponse, names: Map<string, string>, current: typeof assignment, fetchedAt: number): Promise<boolean> {
    const isCurrent = () => fetching && assignment === current;
    const heartbeat = async () => {
      if (!isCurrent() || consumer.generationId !== current.generation) throw new RebalancedError('heartbeat refused');
    };
    for (const t of r.responses) {
      const topic = names.get(t.topicId);
      if (!topic) continue;
      for (const p of t.partitions) {
        const key = topicPartitionKey(topic, p.partitionIndex);
        const from = positions.get(key);
        if (from === undefined) continue;
        const { records, next } = partitionRecords(p, from);
        if (next === null) continue;
        if (records.length > 0) {
          const handed = await coordinator.batch({ topic, partition: p.partitionIndex, records, highWatermark: p.highWatermark.toString(), fetchedAt, current: isCurrent, heartbeat });
          if (!handed) return false;
        }
        if (!isCurrent()) return false;
        if (next > from) positions.set(key, next);
        // The client heartbeats on timers: a fetch of many partitions handed over in one go, all
        // microtasks, would hold them back past the session timeout on a starved CPU.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return true;
  }

  await Promise.all([consumer.metadata({ topics }), producer.metadata({ topics: [] }), admin.metadata({ topics: [] })]);
  rawFetch = (await consumer.listApis()).some((api) => api.name === 'Fetch' && api.maxVersion >= rawFetchV17.version);
  log.info({ role, fetch: rawFetch ? 'own Fetch v17' : "the client's fetch" }, 'consumer fetch');
  consumer.topics.trackAll(...topics);
  await consumer.joinGroup({});
  const loop = (async () => {
    while (fetching) {
      try {
        await fetchOnce();
      } catch (err) {
        if (!fetching) break;
        log.warn({ role, err: (err as Error).message }, 'consumer loop step failed; retrying');
        await sleep(300);
      }
    }
  })();

  return {
    coordinator,
    role,
    onCrash(listener) {
      crashListeners.push(listener);
    },
    async stop() {
      fetching = false;
      await loop;
      await stopLoops();
      await coordinator.stop();
      await consumer.close().catch((err: Error) => log.warn({ role, err: err.message }, 'leaving the group failed'));
      await Promise.all([producer.close(), admin.close(), commitPool.close(), fetchPool.close()]);
    },
  };
}

/** Whether a fetch sent from `sent` goes on from `positions` (the same offset for every partition it asked for). */
function samePositions(sent: Map<string, bigint>, positions: Map<string, bigint>): boolean {
  for (const [key, offset] of sent) if (positions.get(key) !== offset) return false;
  return true;
}

/** Per topic-partition of a fetch's answer, the offset after its last whole batch (none: no whole batch). */
function nextPositions(r: RawFetchResponse | FetchResponse, names: Map<string, string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const t of r.responses) {
    const topic = names.get(t.topicId);
    if (!topic) continue;
    for (const p of t.partitions) {
      const batches = p.records;
      if (!batches) continue;
      const next = Buffer.isBuffer(batches) ? batchesEnd(batches) : batches.length ? batches[batches.length - 1].firstOffset + BigInt(batches[batches.length - 1].lastOffsetDelta) + 1n : null;
      if (next !== null) out.set(topicPartitionKey(topic, p.partitionIndex), next);
    }
  }
  return out;
}

/** A fetched partition's records at or after `from`, and the offset after its last whole batch (null: none). */
function partitionRecords(p: RawFetchPartition | FetchResponse['responses'][number]['partitions'][number], from: bigint): { records: InputRecord[]; next: bigint | null } {
  const batches = p.records;
  if (!batches) return { records: [], next: null };
  if (Buffer.isBuffer(batches)) return decodeRecords(batches, from);
  if (batches.length === 0) return { records: [], next: null };
  const last = batches[batches.length - 1];
  return { records: recordsFrom(batches, from), next: last.firstOffset + BigInt(last.lastOffsetDelta) + 1n };
}
