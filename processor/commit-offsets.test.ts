/**
 * A commit kafkajs did not send must not count as accepted: while a consumer rejoins its group
 * after a crash (a broker restart), kafkajs's commitOffsets resolves without sending anything.
 * Driven with a fake kafkajs consumer that behaves that way, the real coordinator and archive sink
 * and an in-memory object store: a processor killed after such a commit must not archive an
 * offset twice.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import {
  CommitNotSentError,
  commitOffsetsChecked,
  coordinatorLost,
  installSingleAttemptCommits,
  kafkajsRetryingCommit,
  singleAttemptCommit,
  type CommittingConsumer,
  type RunnerOffsets,
} from './commit-offsets.js';
import type { Clock } from './clock.js';
import type { ConsumerPort, InputBatch } from './consumer-port.js';
import { Coordinator } from './coordinator.js';
import { DeadLetterBuffer } from './dead-letters.js';
import { processorMetrics } from './metrics.js';
import { archiveSink } from './sinks/archive-sink.js';
import type { ObjectStore } from './archive/object-store.js';
import { decodeParquet } from './archive/parquet.js';
import { enriched } from '../test/harness/traffic.js';
import { MemoryObjectStore } from '../test/harness/memory-object-store.js';

const TOPIC = 't-add_to_cart';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Offsets as kafkajs hands them to COMMIT_OFFSETS listeners: Long objects, not strings. */
class FakeLong {
  constructor(private readonly v: string) {}
  toString() {
    return this.v;
  }
}

/** The group's committed offsets, and a consumer committing to it the way kafkajs does. */
class FakeGroup {
  readonly offsets = new Map<string, { offset: string; metadata: string }>();
  /** False while the consumer rejoins after a crash: kafkajs's runner is not running then. */
  running = true;
  private readonly emitter = new EventEmitter();

  consumer(): CommittingConsumer {
    const events = { COMMIT_OFFSETS: 'consumer.commit_offsets' } as unknown as CommittingConsumer['events'];
    return {
      events,
      on: ((name: string, listener: (e: unknown) => void) => {
        this.emitter.on(name, listener);
        return () => this.emitter.off(name, listener);
      }) as CommittingConsumer['on'],
      commitOffsets: async (list) => {
        // kafkajs runner.commitOffsets: `if (!this.running) return` (nothing sent, no error).
        if (!this.running) return;
        for (const c of list) this.offsets.set(`${c.topic}/${c.partition}`, { offset: c.offset, metadata: c.metadata ?? '' });
        const byTopic = new Map<string, { partition: number; offset: FakeLong }[]>();
        for (const c of list) byTopic.set(c.topic, [...(byTopic.get(c.topic) ?? []), { partition: c.partition, offset: new FakeLong(c.offset) }]);
        this.emitter.emit(events.COMMIT_OFFSETS, { type: 'consumer.commit_offsets', payload: { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) } });
      },
    };
  }
}

describe('commitOffsetsChecked', () => {
  test('a commit kafkajs sent resolves and is in the group', async () => {
    const g = new FakeGroup();
    await commitOffsetsChecked(g.consumer(), [{ topic: TOPIC, partition: 0, offset: '12', metadata: '{}' }]);
    expect(g.offsets.get(`${TOPIC}/0`)?.offset).toBe('12');
  });

  test('a commit kafkajs skipped while rejoining rejects', async () => {
    const g = new FakeGroup();
    g.running = false;
    await expect(commitOffsetsChecked(g.consumer(), [{ topic: TOPIC, partition: 0, offset: '12', metadata: '{}' }])).rejects.toThrow(/not sent/);
    expect(g.offsets.size).toBe(0);
  });
});

describe('archive across a commit skipped while rejoining, then a SIGKILL', () => {
  const log = Array.from({ length: 160 }, (_, i) => JSON.stringify(enriched({ event_type: 'add_to_cart', event_id: `e${i}`, timestamp: '2026-12-01T06:00:00.000Z', visitor_id: 'v', session_id: 's', url: 'https://shop.example/cart' })));
  const batch = (from: number, to: number): InputBatch => ({
    topic: TOPIC,
    partition: 0,
    records: log.slice(from, to).map((value, i) => ({ offset: String(from + i), value })),
    highWatermark: String(log.length),
    current: () => true,
    heartbeat: async () => undefined,
  });

  function processor(group: FakeGroup, store: ObjectStore, wall: { t: number }) {
    const consumer = group.consumer();
    const port: ConsumerPort = {
      fetchCommitted: async (topics, partition) =>
        topics.map((topic) => {
          const c = group.offsets.get(`${topic}/${partition}`);
          return { topic, partition, offset: c?.offset ?? null, metadata: c?.metadata ?? null };
        }),
      // What processor/consumer.ts does.
      commit: (list) => commitOffsetsChecked(consumer, list),
      logOffsets: async () => [],
      sendDeadLetters: async () => undefined,
    };
    const clock: Clock = { now: () => 0, sleep: () => new Promise((r) => setTimeout(r, 0)) };
    const c = new Coordinator({
      topics: [TOPIC],
      sinks: [archiveSink({ store, maxEvents: 400, maxAgeMs: 1000, repeatHorizon: 0, now: () => wall.t })],
      port,
      deadLetters: new DeadLetterBuffer(8192),
      metrics: processorMetrics(),
      log: quiet,
      flushIntervalMs: 1_000_000,
      batchSize: 1,
      maxRetryDelayMs: 5000,
      role: 'archive',
      deadLetterUnreadable: true,
      clock,
    });
    return c;
  }

  test('every offset is in exactly one object', async () => {
    const group = new FakeGroup();
    const store = new MemoryObjectStore();
    const wall = { t: 0 };

    const first = processor(group, store, wall);
    await first.assigned([{ topic: TOPIC, partition: 0 }]);
    await first.batch(batch(0, 40));
    await first.idle();
    expect(group.offsets.get(`${TOPIC}/0`)?.offset).toBe('0');
    // A broker restart: the consumer crashed and rejoins; commits are skipped meanwhile.
    group.running = false;
    wall.t = 2000; // the open chunk is now older than ARCHIVE_MAX_AGE_S: cut at 0..79
    await first.batch(batch(40, 80));
    await first.idle();
    expect([...store.objects.keys()].filter((k) => k.endsWith('.parquet'))).toEqual(['type=add_to_cart/date=2026-12-01/hour=06/t-add_to_cart-0-0-79.parquet']);
    await first.batch(batch(80, 100));
    await first.idle();
    // SIGKILL: a new process resumes from what the group really holds.
    const second = processor(group, store, wall);
    group.running = true;
    await second.assigned([{ topic: TOPIC, partition: 0 }]);
    await second.batch(batch(0, 130));
    await second.idle();
    wall.t = 5000;
    await second.batch(batch(130, 160));
    await second.idle();

    const seen = new Map<bigint, string>();
    for (const key of await store.list('type=')) {
      for (const r of await decodeParquet((await store.get(key))!)) {
        expect(seen.get(r.offset), `offset ${r.offset} in ${key}`).toBeUndefined();
        seen.set(r.offset, key);
      }
    }
    expect([...seen.keys()].sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 160 }, (_, i) => BigInt(i)));
  });
});

/**
 * What kafkajs's own Runner.commitOffsets does across a group coordinator's death and a rebalance,
 * and what the single attempt installed instead does. Driven through the real methods with a fake
 * consumer group: each sync of kafkajs replaces the group's offset manager with one bound to the
 * new generation, member id and coordinator.
 */
describe('kafkajs runner commits', () => {
  const require = createRequire(import.meta.url);
  const createRetry = require('kafkajs/src/retry/index.js') as (o: object) => unknown;
  const { KafkaJSConnectionError, KafkaJSProtocolError } = require('kafkajs') as {
    KafkaJSConnectionError: new (m: string) => Error;
    KafkaJSProtocolError: new (e: { message: string; type: string; code: number; retriable: boolean }) => Error;
  };
  const OFFSETS: RunnerOffsets = { topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '7', metadata: '{}' }] }] };

  /** An offset manager of one generation: `fail` decides each attempt's outcome. */
  function manager(generation: number, landed: number[], fail: () => Error | null) {
    return {
      attempts: 0,
      async commitOffsets() {
        this.attempts++;
        const e = fail();
        if (e) throw e;
        landed.push(generation);
      },
    };
  }
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: object };
  /** kafkajs's ConsumerGroup (its commitOffsets reads `this.offsetManager` at each call) with only an offset manager. */
  const group = (offsetManager: ReturnType<typeof manager>) => Object.assign(Object.create(ConsumerGroup.prototype) as object, { offsetManager });
  const runner = (offsetManager: ReturnType<typeof manager>) => ({
    running: true,
    consumerGroup: group(offsetManager) as { offsetManager: ReturnType<typeof manager> },
    // The processor's consumer retry settings, with short waits.
    retrier: createRetry({ retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 5, maxRetryTime: 20 }),
    logger: { debug() {} },
  });

  test('kafkajs retries a commit to a dead coordinator for as long as it is down, then lands it under the generation of the next sync', async () => {
    const landed: number[] = [];
    let coordinatorUp = false;
    const gen1 = manager(1, landed, () => (coordinatorUp ? new KafkaJSProtocolError({ message: 'not the coordinator', type: 'NOT_COORDINATOR_FOR_GROUP', code: 16, retriable: true }) : new KafkaJSConnectionError('connect ECONNREFUSED')));
    const r = runner(gen1);
    let settled = false;
    const commit = kafkajsRetryingCommit.call(r, OFFSETS).finally(() => (settled = true));
    await new Promise((res) => setTimeout(res, 300));
    // The flush that waits for this commit has waited all along: nothing is flushed meanwhile.
    expect(settled).toBe(false);
    expect(gen1.attempts).toBeGreaterThan(5);
    // The node returns as a follower: still refused, still retried.
    coordinatorUp = true;
    await new Promise((res) => setTimeout(res, 100));
    expect(settled).toBe(false);
    // The group rebalanced (its partitions may now be another member's): the same commit lands under generation 2.
    const gen2 = manager(2, landed, () => null);
    r.consumerGroup.offsetManager = gen2;
    await commit;
    expect(landed).toEqual([2]);
  });

  test('the single attempt rejects at once on a dead or moved coordinator, never reaches the next generation, and refuses while not running', async () => {
    const landed: number[] = [];
    for (const [err, kind] of [
      [new KafkaJSConnectionError('connect ECONNREFUSED'), 'KafkaJSConnectionError'],
      [new KafkaJSProtocolError({ message: 'not the coordinator', type: 'NOT_COORDINATOR_FOR_GROUP', code: 16, retriable: true }), 'NOT_COORDINATOR_FOR_GROUP'],
      [new KafkaJSProtocolError({ message: 'illegal generation', type: 'ILLEGAL_GENERATION', code: 22, retriable: false }), 'ILLEGAL_GENERATION'],
      [new KafkaJSProtocolError({ message: 'rebalancing', type: 'REBALANCE_IN_PROGRESS', code: 27, retriable: false }), 'REBALANCE_IN_PROGRESS'],
      [new KafkaJSProtocolError({ message: 'unknown member', type: 'UNKNOWN_MEMBER_ID', code: 25, retriable: false }), 'UNKNOWN_MEMBER_ID'],
    ] as const) {
      const gen1 = manager(1, landed, () => err);
      const r = runner(gen1);
      const commit = singleAttemptCommit.call(r, OFFSETS);
      r.consumerGroup.offsetManager = manager(2, landed, () => null);
      const e = await commit.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(CommitNotSentError);
      expect((e as CommitNotSentError).kind).toBe(kind);
      expect(gen1.attempts).toBe(1);
      expect(coordinatorLost(e)).toBe(kind === 'KafkaJSConnectionError' || kind === 'NOT_COORDINATOR_FOR_GROUP');
    }
    expect(landed).toEqual([]);
    const ok = manager(3, landed, () => null);
    await singleAttemptCommit.call(runner(ok), OFFSETS);
    expect(landed).toEqual([3]);
    const stopped = { ...runner(ok), running: false };
    await expect(singleAttemptCommit.call(stopped, OFFSETS)).rejects.toThrow(/rejoining/);
    expect(ok.attempts).toBe(1);
  });

  test('installed on the class every kafkajs consumer commits through', () => {
    const Runner = require('kafkajs/src/consumer/runner.js') as { prototype: { commitOffsets: unknown } };
    installSingleAttemptCommits();
    expect(Runner.prototype.commitOffsets).toBe(singleAttemptCommit);
    expect(kafkajsRetryingCommit).not.toBe(singleAttemptCommit);
  });
});
