import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import type { DeadLetter, EnrichedEvent } from '../contracts/event-schema.js';
import { DEAD_LETTER_TOPIC, EVENT_TOPICS } from '../contracts/topics.js';
import { CoPartitionedAssigner } from './assigner.js';
import type { AssignedPartition, Sink } from './sink.js';
import type { ProcessorMetrics } from './metrics.js';

export interface RunnerOptions {
  config: Config;
  kafka: Kafka;
  sinks: Sink[];
  log: Logger;
  metrics: ProcessorMetrics;
  /** Refused records collected during a batch; sent to the dead-letter topic before the commit. */
  deadLetters: DeadLetterBuffer;
  /** How often log end offsets are read (lag, idle partitions). */
  offsetsPollMs?: number;
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
  /** Puts back records a failed flush could not send. */
  restore(items: DeadLetter[]): void {
    this.items = [...items, ...this.items];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one async section at a time: batches, flushes, rebalances and offset polls never interleave. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to hand to the sinks; null until the first event (fresh group). */
  next: bigint | null;
  committed: string | null;
  committedMeta: string | null;
  high: bigint | null;
  /** Per sink (by index): next offset that sink has not been given yet. */
  sinkNext: bigint[];
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * The processor's consumer loop.
 *
 * - The four event topics' partition p go to one instance together (CoPartitionedAssigner).
 * - Before the first event of a newly assigned partition p, every sink gets the committed
 *   offsets of the four topic-partitions and the checkpoint it stored with them.
 * - Every event goes to every sink in offset order. Every PROCESSOR_FLUSH_INTERVAL_MS (or
 *   PROCESSOR_BATCH_SIZE events) a flush starts: each sink takes what it has (synchronously) and
 *   writes it while consumption goes on; one flush at a time, so the next one due waits for it
 *   (backpressure: a failing flush is retried with backoff and consumption waits behind it).
 *   Only after every sink has flushed are offsets committed, no further than the flush covered:
 *   for each topic-partition the smallest of the offset reached when the flush began and every
 *   sink's `committableOffset`, with every sink's checkpoint in the commit's metadata.
 * - After a rebalance Kafka hands back partitions from their committed offset, which may be far
 *   behind what this instance already holds in memory: events below the partition's `next`
 *   offset are skipped, so no sink sees an event twice in one lifetime.
 */
export async function startConsumer(opts: RunnerOptions): Promise<{ consumer: Consumer; stop: () => Promise<void> }> {
  const { config, kafka, sinks, log, metrics, deadLetters } = opts;
  const consumer = kafka.consumer({
    groupId: config.processorGroupId,
    partitionAssigners: [CoPartitionedAssigner],
    sessionTimeout: config.processorSessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(config.processorSessionTimeoutMs / 5))),
    maxBytesPerPartition: 1024 * 1024,
    maxWaitTimeInMs: 100,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  const producer: Producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
  const admin: Admin = kafka.admin();
  await Promise.all([producer.connect(), consumer.connect(), admin.connect()]);
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  // A new group starts from the beginning: events produced before the first processor ran still count.
  await consumer.subscribe({ topics, fromBeginning: true });

  const mutex = new Mutex();
  const parts = new Map<string, PartitionState>();
  let owned = new Set<string>();
  let sinceFlush = 0;
  let lastFlush = performance.now();
  let stopping = false;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assignment = e.payload.memberAssignment as Record<string, number[]>;
    const next = new Set<string>();
    for (const [topic, ps] of Object.entries(assignment)) for (const p of ps) next.add(key(topic, p));
    log.info({ assignment }, 'partitions assigned');
    // At once: from now on no commit touches a partition given away.
    owned = next;
    void mutex.run(async () => {
      await awaitFlush();
      for (const [k, st] of parts) {
        if (next.has(k)) continue;
        log.info({ topic: st.topic, partition: st.partition }, 'partition revoked: state dropped');
        for (const sink of sinks) sink.revoke?.(st.topic, st.partition);
        parts.delete(k);
        metrics.lag.remove({ topic: st.topic, partition: String(st.partition) });
      }
    });
  });

  /** Hands the sinks the committed offsets and checkpoints of partition number p (all topics). */
  const initPartition = async (partition: number): Promise<void> => {
    const missing = topics.filter((t) => owned.has(key(t, partition)) && !parts.has(key(t, partition)));
    if (missing.length === 0) return;
    const fetched = await admin.fetchOffsets({ groupId: config.processorGroupId, topics: missing });
    const assigned: { topic: string; partition: number; committed: string | null; meta: string | null }[] = [];
    for (const { topic, partitions } of fetched) {
      const p = partitions.find((x) => x.partition === partition);
      const committed = p && p.offset !== '-1' ? p.offset : null;
      assigned.push({ topic, partition, committed, meta: p?.metadata ?? null });
    }
    for (const sink of sinks) {
      if (!sink.assign) continue;
      const list: AssignedPartition[] = assigned.map((a) => ({ topic: a.topic, partition: a.partition, committed: a.committed, checkpoint: checkpointOf(a.meta, sink.name) }));
      await sink.assign(list);
    }
    for (const a of assigned) {
      parts.set(key(a.topic, partition), {
        topic: a.topic,
        partition,
        next: a.committed === null ? null : BigInt(a.committed),
        committed: a.committed,
        committedMeta: a.meta,
        high: null,
        sinkNext: sinks.map(() => -1n),
      });
    }
    log.info({ partition, topics: assigned.map((a) => `${a.topic}@${a.committed ?? 'start'}`) }, 'partition state restored from the committed offsets');
  };

  /**
   * Flushes every sink side by side, and sends the dead letters. Each sink takes what it will
   * make durable when called (synchronously), so events added while the writes run belong to
   * the next flush. If any fails, the whole flush is retried (a sink that succeeded has nothing
   * left to write).
   */
  const flushSinks = async () => {
    const started = performance.now();
    const dead = deadLetters.take();
    const sendDead = async () => {
      if (!dead.length) return;
      try {
        await producer.send({
          topic: config.topicPrefix + DEAD_LETTER_TOPIC,
          acks: -1,
          messages: dead.map((d) => ({ key: 'processor', value: JSON.stringify(d) })),
        });
      } catch (err) {
        deadLetters.restore(dead);
        throw err;
      }
      metrics.deadLettered.inc(dead.length);
    };
    const results = await Promise.allSettled([...sinks.map((sink) => sink.flush()), sendDead()]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    metrics.flushSeconds.observe((performance.now() - started) / 1000);
  };

  /** Next offset per partition when a flush began: what that flush covers. */
  type Snapshot = Map<string, bigint | null>;
  const snapshot = (): Snapshot => new Map([...parts].map(([k, st]) => [k, st.next]));

  const commit = async (snap: Snapshot) => {
    const list: { topic: string; partition: number; offset: string; metadata: string }[] = [];
    for (const [k, st] of parts) {
      // Never for a partition given away (the new owner commits it now), nor past the snapshot.
      if (!owned.has(k)) continue;
      const at = snap.get(k) ?? null;
      let offset = at ?? (st.committed === null ? null : BigInt(st.committed));
      if (offset === null) continue;
      for (const sink of sinks) {
        const held = sink.committableOffset?.(st.topic, st.partition);
        if (held !== undefined && BigInt(held) < offset) offset = BigInt(held);
      }
      const meta: Record<string, string> = {};
      for (const sink of sinks) {
        const cp = sink.checkpoint?.(st.topic, st.partition, offset.toString());
        if (cp !== undefined) meta[sink.name] = cp;
      }
      const metadata = JSON.stringify(meta);
      if (offset.toString() === st.committed && metadata === st.committedMeta) continue;
      list.push({ topic: st.topic, partition: st.partition, offset: offset.toString(), metadata });
    }
    if (list.length === 0) return;
    try {
      await consumer.commitOffsets(list);
    } catch (err) {
      // A rebalance is under way: the next owner replays from the last commit, nothing is lost.
      log.warn({ err: (err as Error).message }, 'offset commit failed; will retry at the next flush');
      return;
    }
    for (const c of list) {
      const st = parts.get(key(c.topic, c.partition));
      if (!st) continue;
      st.committed = c.offset;
      st.committedMeta = c.metadata;
      for (const sink of sinks) sink.committed?.(c.topic, c.partition, c.offset);
    }
    metrics.commits.inc(list.length);
  };

  /**
   * One flush at a time runs in the background while consumption goes on: flush every sink,
   * retrying with backoff until it succeeds, then commit what it covered.
   */
  let inflight: Promise<void> | null = null;
  const runFlush = async () => {
    let delay = 200;
    for (;;) {
      const snap = snapshot();
      sinceFlush = 0;
      lastFlush = performance.now();
      try {
        await flushSinks();
      } catch (err) {
        metrics.flushErrors.inc();
        log.warn({ err: (err as Error).message, retryInMs: delay }, 'flush failed; holding consumption and retrying');
        if (stopping) return;
        metrics.backpressure.set(1);
        await sleep(delay);
        // Capped well below the session timeout (waiting batches heartbeat meanwhile).
        delay = Math.min(delay * 2, 10_000, Math.max(200, Math.floor(config.processorSessionTimeoutMs / 3)));
        continue;
      }
      metrics.backpressure.set(0);
      await commit(snap);
      return;
    }
  };
  /** Starts a flush unless one is running. Call inside the lock: the sinks take their data now. */
  const startFlush = () => {
    if (inflight) return;
    inflight = runFlush()
      .catch((err) => log.error({ err: (err as Error).message }, 'flush crashed'))
      .finally(() => {
        inflight = null;
      });
  };
  /** Waits for the flush in flight, heartbeating so a long outage does not cost the partitions. */
  const awaitFlush = async (payload?: EachBatchPayload) => {
    while (inflight) {
      const current = inflight;
      await Promise.race([current, sleep(1000)]);
      if (inflight === current && payload) await payload.heartbeat().catch(() => undefined);
    }
  };

  const due = () => sinceFlush >= config.processorBatchSize || performance.now() - lastFlush >= config.processorFlushIntervalMs;

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (batch.messages.length === 0) return;
      const processed = await mutex.run(async () => {
        const k = key(batch.topic, batch.partition);
        if (!payload.isRunning() || payload.isStale() || !owned.has(k)) {
          log.debug({ topic: batch.topic, partition: batch.partition, first: batch.firstOffset() }, 'batch of an old assignment ignored');
          return false;
        }
        if (!parts.has(k)) await initPartition(batch.partition);
        const st = parts.get(k);
        if (!st) return false;
        let added = 0;
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (st.next !== null && off < st.next) continue;
          let ev: EnrichedEvent | null = null;
          const text = m.value?.toString('utf8') ?? '';
          try {
            ev = JSON.parse(text) as EnrichedEvent;
          } catch {
            // fall through
          }
          if (!ev || typeof ev.event_id !== 'string' || typeof ev.timestamp !== 'string' || typeof ev.event_type !== 'string') {
            deadLetters.push(`processor could not read ${batch.topic}/${batch.partition}@${m.offset}`, 'PR_ERR_UNREADABLE', m.value?.toString('utf8') ?? null);
            st.next = off + 1n;
            continue;
          }
          const position = { topic: batch.topic, partition: batch.partition, offset: m.offset, raw: text };
          // If a sink throws, kafkajs delivers the batch again: sinks that already have this
          // event must not get it twice, so each sink's own position is tracked.
          for (let i = 0; i < sinks.length; i++) {
            if (st.sinkNext[i] > off) continue;
            await sinks[i].add(ev, position);
            st.sinkNext[i] = off + 1n;
          }
          st.next = off + 1n;
          added++;
        }
        sinceFlush += added;
        metrics.events.inc({ topic: batch.topic }, added);
        st.high = BigInt(batch.highWatermark);
        metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(st.high - (st.next ?? 0n))));
        if (due()) {
          // Backpressure: a second flush waits for the first (and its retries) to finish.
          await awaitFlush(payload);
          startFlush();
        }
        return true;
      });
      if (!processed) return;
      payload.resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await payload.heartbeat();
    },
  });

  // Flush on time even when no batch arrives (idle input must still reach Elasticsearch and the
  // archive, and windows sealed by a moving watermark must be written).
  let timedFlushQueued = false;
  const flushTimer = setInterval(() => {
    if (stopping || parts.size === 0 || timedFlushQueued || inflight) return;
    if (performance.now() - lastFlush < config.processorFlushIntervalMs) return;
    timedFlushQueued = true;
    void mutex
      .run(async () => {
        if (!inflight && !stopping && performance.now() - lastFlush >= config.processorFlushIntervalMs) startFlush();
      })
      .finally(() => (timedFlushQueued = false));
  }, Math.max(50, Math.floor(config.processorFlushIntervalMs / 2)));

  // Log end offsets: consumer lag for /metrics, and which partitions are caught up (an idle
  // topic-partition must not hold the watermark back).
  let lastCount = 0;
  let lastAt = performance.now();
  const pollOffsets = async () => {
    await mutex.run(async () => {
      // Read inside the lock, so the end offsets handed to the sinks are never older than the
      // events processed after them: a stale end offset could make a topic-partition look caught
      // up (and let the watermark run past events it has not read yet).
      const ends = new Map<string, { low: string; high: string }>();
      for (const topic of topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) ends.set(key(topic, p.partition), { low: p.low, high: p.high });
      }
      for (const [k, st] of parts) {
        const end = ends.get(k);
        if (!end) continue;
        st.high = BigInt(end.high);
        const position = st.next ?? BigInt(end.low);
        metrics.lag.set({ topic: st.topic, partition: String(st.partition) }, Math.max(0, Number(st.high - position)));
        for (const sink of sinks) sink.logOffsets?.(st.topic, st.partition, end.low, end.high);
      }
      for (const sink of sinks) sink.logOffsetsDone?.();
    });
    const total = (await metrics.events.get()).values.reduce((s, v) => s + v.value, 0);
    const now = performance.now();
    metrics.eventsPerSecond.set(((total - lastCount) * 1000) / Math.max(1, now - lastAt));
    lastCount = total;
    lastAt = now;
  };
  const pollMs = opts.offsetsPollMs ?? 1000;
  let polling = true;
  const pollLoop = (async () => {
    while (polling) {
      await pollOffsets().catch((err) => log.debug({ err: (err as Error).message }, 'offset poll failed'));
      await sleep(pollMs);
    }
  })();

  return {
    consumer,
    async stop() {
      stopping = true;
      clearInterval(flushTimer);
      polling = false;
      await pollLoop;
      await mutex.run(async () => {
        await awaitFlush();
        try {
          const snap = snapshot();
          await flushSinks();
          await commit(snap);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'last flush failed; the next start replays from the last commit');
        }
      });
      await consumer.disconnect();
      for (const sink of sinks) await sink.close?.();
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    },
  };
}

function checkpointOf(meta: string | null, sink: string): string | undefined {
  if (!meta) return undefined;
  try {
    const x = JSON.parse(meta) as Record<string, unknown>;
    return typeof x[sink] === 'string' ? (x[sink] as string) : undefined;
  } catch {
    return undefined;
  }
}
