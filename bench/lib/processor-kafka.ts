/**
 * bench:processor's Kafka side: topics, loading the generated events, the bare kafkajs loop
 * (one of the two Kafka limits; Kafka's own ConsumerPerformance is lib/kafka-tools.ts), and how
 * far a consumer group committed.
 */
import { CompressionTypes, type Kafka, Partitioners } from 'kafkajs';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { EVENT_TOPICS, topicFor } from '../../contracts/topics.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { sleep } from '../../common/wait.js';
import { CONSUMER_FETCH } from '../../processor/consumer.js';

/** A kafkajs client of the bench's own (with the broker's TLS and SASL settings), by client id. */
export type BenchKafka = (clientId: string) => Kafka;

/** Kafka's perf tool reads one topic: it gets a copy of all N records in a topic of its own. */
export const PERF_TOPIC = 'all_events_copy';

/**
 * ensureTopics, again when it fails with UNKNOWN_TOPIC_OR_PARTITION: kafkajs's createTopics
 * (waitForLeaders) can read the metadata of a just-created topic before the broker has it,
 * which infra/setup-topics.ts does not count as retriable. Creating topics is idempotent.
 */
export async function createTopics(kafka: BenchKafka, brokers: string[], prefix: string, partitions: number, topics?: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(brokers, { prefix, partitions, replication: 1, topics, log: () => {}, kafka: kafka('bench-topics') });
      return;
    } catch (err) {
      if (attempt >= 5 || !/UNKNOWN_TOPIC_OR_PARTITION/.test(String((err as Error).message))) throw err;
      await sleep(500 * attempt);
    }
  }
}

/** The batch compressions the loader writes (GATEWAY_KAFKA_COMPRESSION's default, snappy, among them). */
export const LOAD_COMPRESSIONS = { none: CompressionTypes.None, lz4: CompressionTypes.LZ4, snappy: CompressionTypes.Snappy } as const;
export type LoadCompression = keyof typeof LOAD_COMPRESSIONS;

/** How the loader writes: record batches compressed as the gateway's GATEWAY_KAFKA_COMPRESSION would, and records per send. */
export interface LoadOptions {
  compression?: LoadCompression;
  /** Records a send (split over the topics' partitions): a gateway's send under load carries a few hundred, the default 2,000. */
  perSend?: number;
}

/** Produces every event to its type's topic, keyed by visitor like the gateway (and a copy of each to `copyTo`). */
export async function produceAll(kafka: BenchKafka, prefix: string, docs: EnrichedEvent[], copyTo?: string, load: LoadOptions = {}): Promise<{ seconds: number }> {
  const perSend = load.perSend ?? 2000;
  const compression = LOAD_COMPRESSIONS[load.compression ?? 'none'];
  const producer = kafka('bench-loader').producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = performance.now();
  try {
    // 2,000 records a send: a partition's record batch stays well under the broker's 1 MB message.max.bytes.
    for (let i = 0; i < docs.length; i += perSend) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      const push = (topic: string, m: { key: string; value: string }) => {
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(m);
      };
      for (const d of docs.slice(i, i + perSend)) {
        const m = { key: d.visitor_id, value: JSON.stringify(d) };
        push(topicFor(d.event_type, prefix), m);
        if (copyTo) push(copyTo, m);
      }
      await producer.sendBatch({ acks: -1, compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  } finally {
    await producer.disconnect();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/** A bare kafkajs consumer: fetch and JSON.parse every record of the four topics, nothing else; records/s. */
export async function kafkajsLoop(kafka: BenchKafka, prefix: string, n: number, group: string): Promise<number> {
  const consumer = kafka('bench-kafkajs').consumer({ groupId: group, ...CONSUMER_FETCH });
  await consumer.connect();
  let seen = 0;
  let first = 0;
  let last = 0;
  let ids = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kafkajs loop: ${seen} of ${n} records after 300 s`)), 300_000);
    void consumer.subscribe({ topics: EVENT_TOPICS.map((t) => prefix + t), fromBeginning: true }).then(() =>
      consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!first) first = performance.now();
          for (const m of batch.messages) {
            const v = JSON.parse(m.value!.toString('utf8')) as EnrichedEvent;
            if (v.event_id) ids++;
          }
          seen += batch.messages.length;
          if (seen >= n) {
            last = performance.now();
            clearTimeout(timer);
            resolve();
          }
        },
      }),
    );
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  if (ids < n) throw new Error(`kafkajs loop: ${ids} readable events of ${n}`);
  return n / ((last - first) / 1000);
}

/**
 * Records the archive role made durable, summed over the four topics: the checkpoint its sink
 * stores in each commit's metadata is the first offset not archived (the committed offset itself
 * stays ARCHIVE_REPEAT_HORIZON behind it, so a restart can tell repeats).
 */
export async function archivedTotal(kafka: BenchKafka, group: string, prefix: string): Promise<number> {
  const admin = kafka('bench-offsets').admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId: group, topics: EVENT_TOPICS.map((t) => prefix + t) });
    let sum = 0;
    for (const t of res) {
      for (const p of t.partitions) {
        let meta: { archive?: string } = {};
        try {
          meta = JSON.parse(p.metadata ?? '{}') as { archive?: string };
        } catch {
          // not a commit of ours
        }
        if (meta.archive !== undefined) sum += Number(meta.archive);
      }
    }
    return sum;
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topics of one repetition (leaves the next one a quiet broker). */
export async function deleteTopics(kafka: BenchKafka, topics: string[]): Promise<void> {
  const admin = kafka('bench-admin').admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
}
