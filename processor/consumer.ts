import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import type { DeadLetter, EnrichedEvent } from '../contracts/event-schema.js';
import { DEAD_LETTER_TOPIC, EVENT_TOPICS } from '../contracts/topics.js';
import type { Sink } from './sink.js';
import type { ProcessorMetrics } from './metrics.js';

export interface RunnerOptions {
  config: Config;
  kafka: Kafka;
  sinks: Sink[];
  log: Logger;
  metrics: ProcessorMetrics;
  /** Refused records collected during a batch; sent to the dead-letter topic before the commit. */
  deadLetters: DeadLetterBuffer;
}

export class DeadLetterBuffer {
  private items: DeadLetter[] = [];
  push(reason: string, code: string, raw: unknown): void {
    let text: string;
    try {
      text = typeof raw === 'string' ? raw : JSON.stringify(raw);
    } catch {
      text = String(raw);
    }
    this.items.push({ reason, code, raw: text.slice(0, 8192), site_id: null, received_at: new Date().toISOString(), index: null });
  }
  take(): DeadLetter[] {
    const out = this.items;
    this.items = [];
    return out;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The processor's consumer loop: for each fetched batch of one partition, every event goes to
 * every sink, then every sink is flushed, and only then is the offset committed. A flush that
 * fails is retried with backoff while the partition stays paused behind it, so nothing is
 * skipped and nothing is committed before it is durable.
 */
export async function startConsumer(opts: RunnerOptions): Promise<{ consumer: Consumer; stop: () => Promise<void> }> {
  const { config, kafka, sinks, log, metrics, deadLetters } = opts;
  const consumer = kafka.consumer({
    groupId: config.processorGroupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 2 * 1024 * 1024,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  const producer: Producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
  await producer.connect();
  await consumer.connect();
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  // A new group starts from the beginning: events produced before the first processor ran still count.
  await consumer.subscribe({ topics, fromBeginning: true });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    log.info({ assignment: e.payload.memberAssignment }, 'partitions assigned');
  });

  const flushAll = async (payload: EachBatchPayload): Promise<boolean> => {
    let delay = 200;
    for (;;) {
      try {
        const started = performance.now();
        for (const sink of sinks) await sink.flush();
        const dead = deadLetters.take();
        if (dead.length) {
          await producer.send({
            topic: config.topicPrefix + DEAD_LETTER_TOPIC,
            acks: -1,
            messages: dead.map((d) => ({ key: 'processor', value: JSON.stringify(d) })),
          });
          metrics.deadLettered.inc(dead.length);
        }
        metrics.flushSeconds.observe((performance.now() - started) / 1000);
        return true;
      } catch (err) {
        metrics.flushErrors.inc();
        log.warn({ err: (err as Error).message, retryInMs: delay }, 'flush failed; holding this partition and retrying');
        if (!payload.isRunning() || payload.isStale()) return false;
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
        await payload.heartbeat().catch(() => undefined);
      }
    }
  };

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (batch.messages.length === 0) return;
      for (const m of batch.messages) {
        let ev: EnrichedEvent | null = null;
        try {
          ev = JSON.parse(m.value?.toString('utf8') ?? '') as EnrichedEvent;
        } catch {
          // fall through
        }
        if (!ev || typeof ev.event_id !== 'string' || typeof ev.timestamp !== 'string') {
          deadLetters.push(`processor could not read ${batch.topic}/${batch.partition}@${m.offset}`, 'PR_ERR_UNREADABLE', m.value?.toString('utf8') ?? null);
          continue;
        }
        const position = { topic: batch.topic, partition: batch.partition, offset: m.offset };
        for (const sink of sinks) await sink.add(ev, position);
      }
      if (!(await flushAll(payload))) return;

      const last = batch.messages[batch.messages.length - 1].offset;
      let commit = BigInt(last) + 1n;
      for (const sink of sinks) {
        const held = sink.committableOffset?.(batch.topic, batch.partition);
        if (held !== undefined && BigInt(held) < commit) commit = BigInt(held);
      }
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: commit.toString() }]);
      payload.resolveOffset(last);
      metrics.events.inc({ topic: batch.topic }, batch.messages.length);
      const lag = Number(BigInt(batch.highWatermark) - BigInt(last) - 1n);
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, lag));
      await payload.heartbeat();
    },
  });

  return {
    consumer,
    async stop() {
      await consumer.disconnect();
      for (const sink of sinks) await sink.close?.();
      await producer.disconnect();
    },
  };
}
