import type { Kafka } from 'kafkajs';
import { kafkaFromConfig } from '../common/kafka-client.js';
import { loadConfig } from '../common/config.js';
import { ALL_TOPICS } from '../contracts/topics.js';

export interface EnsureTopicsOptions {
  /** Prepended to every topic name; TOPIC_PREFIX by default. */
  prefix?: string;
  /** Partitions of a topic that has to be created; TOPIC_PARTITIONS by default. */
  partitions?: number;
  /** Replication factor of a topic that has to be created; TOPIC_REPLICATION by default. */
  replication?: number;
  /** Unprefixed topic names; every topic of the pipeline (ALL_TOPICS) by default. */
  topics?: readonly string[];
  /** How long to keep retrying while a just-started broker cannot host partitions yet. */
  timeoutMs?: number;
  /** A kafkajs client to use instead of one built from the environment's KAFKA_* settings (TLS, SASL). */
  kafka?: Kafka;
  log?: (msg: string) => void;
}

export interface EnsureTopicsResult {
  /** Full names of the topics this call created. */
  created: string[];
  /** Every wanted topic with its actual partition count, created now or before. */
  topics: { topic: string; partitions: number }[];
}

const RETRIABLE = /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic|INVALID_REPLICATION_FACTOR|replication factor|broker|LEADER_NOT_AVAILABLE|NOT_CONTROLLER|timed? ?out|ECONNREFUSED|Connection/i;

/**
 * Creates the pipeline's topics that do not exist yet; idempotent, and safe when several callers
 * race. An existing topic is left as it is, even with another partition count: adding partitions
 * would move visitors to other partitions and break per-visitor state, so that is reported, not done.
 * min.insync.replicas is 2 when the replication factor is 3 or more (acks=all then survives one
 * broker down without losing an acknowledged write), else 1.
 */
export async function ensureTopics(brokers: string[], opts: EnsureTopicsOptions = {}): Promise<EnsureTopicsResult> {
  const cfg = loadConfig({ kafkaBrokers: brokers });
  const prefix = opts.prefix ?? cfg.topicPrefix;
  const partitions = opts.partitions ?? cfg.topicPartitions;
  const replication = opts.replication ?? cfg.topicReplication;
  const wanted = (opts.topics ?? ALL_TOPICS).map((t) => prefix + t);
  const log = opts.log ?? (() => {});
  const kafka = opts.kafka ?? kafkaFromConfig(cfg, 'infra');
  const admin = kafka.admin({ retry: { retries: 3 } });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const created: string[] = [];
  await admin.connect();
  try {
    for (;;) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = wanted.filter((t) => !existing.has(t));
        if (missing.length === 0) break;
        await admin.createTopics({
          waitForLeaders: true,
          timeout: 10_000,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: replication,
            configEntries: [{ name: 'min.insync.replicas', value: String(replication >= 3 ? 2 : 1) }],
          })),
        });
        created.push(...missing);
      } catch (err) {
        const msg = errorText(err);
        if (Date.now() >= deadline || !RETRIABLE.test(msg)) throw new Error(`creating topics on ${brokers.join(',')} failed: ${msg}`, { cause: err });
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // A topic just created on a cluster of several nodes can be unknown to the node answering the
    // metadata request for a moment, and its partitions leaderless: wait until every partition has
    // a leader, so the caller's first produce or join does not meet that gap.
    let meta: Awaited<ReturnType<typeof admin.fetchTopicMetadata>>;
    for (;;) {
      try {
        meta = await admin.fetchTopicMetadata({ topics: wanted });
        const leaderless = meta.topics.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}-${p.partitionId}`));
        if (leaderless.length === 0) break;
        if (Date.now() >= deadline) throw new Error(`partitions without a leader on ${brokers.join(',')}: ${leaderless.join(', ')}`);
      } catch (err) {
        const msg = errorText(err);
        if (Date.now() >= deadline || !RETRIABLE.test(msg)) throw new Error(`reading the metadata of topics on ${brokers.join(',')} failed: ${msg}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const topics = meta.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length }));
    for (const t of topics) {
      if (!created.includes(t.topic) && t.partitions !== partitions) {
        log(`topic ${t.topic} exists with ${t.partitions} partitions (asked for ${partitions}); left as it is`);
      }
    }
    if (created.length) log(`created topics ${created.join(', ')} (${partitions} partitions, replication ${replication})`);
    return { created: [...new Set(created)], topics };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = (err as { errors?: unknown[] }).errors;
  const parts = [err.message, ...(Array.isArray(inner) ? inner.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))) : [])];
  const type = (err as { type?: string }).type;
  return [type, ...parts].filter(Boolean).join('; ');
}
