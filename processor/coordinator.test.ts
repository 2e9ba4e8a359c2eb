/**
 * The consumer loop's decisions, driven by a fake consumer (committed offsets, logs, commits and
 * dead letters in memory), a fake clock and recording sinks: what is committed when, with which
 * metadata, across rebalances, failing flushes and crashes.
 */
import { describe, expect, test } from 'vitest';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { Clock } from './clock.js';
import type { ConsumerPort, InputBatch, OffsetCommit } from './consumer-port.js';
import { Coordinator } from './coordinator.js';
import { DeadLetterBuffer } from './dead-letters.js';
import { processorMetrics } from './metrics.js';
import type { AssignedPartition, PartitionedSink, SourcePosition } from './sink.js';
import { enriched } from '../test/harness/traffic.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';

const TOPICS = ['t-page_views', 't-clicks'];
const k = (topic: string, partition: number) => `${topic}/${partition}`;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A released-on-demand promise. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

class FakeKafka {
  committed = new Map<string, { offset: string; metadata: string }>();
  logs = new Map<string, (string | null)[]>();
  commits: OffsetCommit[][] = [];
  failCommits = 0;
  /** While set, a commit never completes (the process dies before the broker answers). */
  hangCommits = false;
  dead: DeadLetter[] = [];
  failDead = 0;

  append(topic: string, partition: number, values: (string | null)[]): void {
    const log = this.logs.get(k(topic, partition)) ?? [];
    log.push(...values);
    this.logs.set(k(topic, partition), log);
  }

  port(): ConsumerPort {
    return {
      fetchCommitted: async (topics, partition) =>
        topics.map((topic) => {
          const c = this.committed.get(k(topic, partition));
          return { topic, partition, offset: c?.offset ?? null, metadata: c?.metadata ?? null };
        }),
      commit: async (list) => {
        if (this.hangCommits) return new Promise<void>(() => undefined);
        if (this.failCommits > 0) {
          this.failCommits--;
          throw new Error('The group is rebalancing, so a rejoin is needed');
        }
        this.commits.push(list);
        for (const c of list) this.committed.set(k(c.topic, c.partition), { offset: c.offset, metadata: c.metadata });
      },
      logOffsets: async (topics) =>
        [...this.logs].filter(([key]) => topics.some((t) => key.startsWith(`${t}/`))).map(([key, log]) => {
          const [topic, p] = key.split('/');
          return { topic, partition: Number(p), low: '0', high: String(log.length) };
        }),
      sendDeadLetters: async (items) => {
        if (this.failDead > 0) {
          this.failDead--;
          throw new Error('dead-letter topic unavailable');
        }
        this.dead.push(...items);
      },
    };
  }

  /** Records [from, to) of a topic-partition as one batch. */
  batch(topic: string, partition: number, from: number, to?: number, opts: { current?: () => boolean; heartbeats?: { n: number } } = {}): InputBatch {
    const log = this.logs.get(k(topic, partition)) ?? [];
    const end = Math.min(to ?? log.length, log.length);
    return {
      topic,
      partition,
      records: log.slice(from, end).map((value, i) => ({ offset: String(from + i), value })),
      highWatermark: String(log.length),
      current: opts.current ?? (() => true),
      heartbeat: async () => {
        if (opts.heartbeats) opts.heartbeats.n++;
      },
    };
  }
}

/**
 * Writes the event ids it was given to `durable` on flush; its checkpoint is the next offset not
 * yet durable per topic-partition; it never holds commits back.
 */
class RecordingSink implements PartitionedSink {
  readonly name: string;
  added: string[] = [];
  assigned: AssignedPartition[][] = [];
  revoked: string[] = [];
  committedAt: string[] = [];
  durable: Map<string, number>;
  gate: { p: Promise<void> } | null = null;
  failNext = 0;
  flushes = 0;
  private buffer: string[] = [];
  private seen = new Map<string, bigint>();
  private upTo = new Map<string, bigint>();

  constructor(name: string, durable: Map<string, number>) {
    this.name = name;
    this.durable = durable;
  }
  assign(parts: AssignedPartition[]) {
    this.assigned.push(parts);
  }
  add(event: EnrichedEvent, pos: SourcePosition) {
    this.added.push(`${k(pos.topic, pos.partition)}@${pos.offset}`);
    this.buffer.push(event.event_id);
    this.seen.set(k(pos.topic, pos.partition), BigInt(pos.offset) + 1n);
  }
  async flush() {
    this.flushes++;
    const docs = this.buffer;
    this.buffer = [];
    const upTo = new Map(this.seen);
    if (this.gate) await this.gate.p;
    if (this.failNext > 0) {
      this.failNext--;
      this.buffer = docs.concat(this.buffer);
      throw new Error(`${this.name} unavailable`);
    }
    for (const id of docs) this.durable.set(id, (this.durable.get(id) ?? 0) + 1);
    for (const [tp, v] of upTo) this.upTo.set(tp, v);
  }
  committableOffset() {
    return undefined;
  }
  checkpoint(topic: string, partition: number) {
    return this.upTo.get(k(topic, partition))?.toString();
  }
  committed(topic: string, partition: number, offset: string) {
    this.committedAt.push(`${k(topic, partition)}@${offset}`);
  }
  revoke(topic: string, partition: number) {
    this.revoked.push(k(topic, partition));
  }
}

/** A clock that moves only when slept on; a sleep yields to the event loop. */
function fakeClock(): Clock & { t: number } {
  return {
    t: 0,
    now() {
      return this.t;
    },
    sleep(ms: number) {
      this.t += ms;
      return new Promise((r) => setTimeout(r, 0));
    },
  };
}

function events(prefix: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify(
      enriched({
        event_id: `${prefix}-${from + i}`,
        event_type: 'page_view',
        timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString(),
        visitor_id: 'v',
        session_id: 's',
        url: '/',
      }),
    ),
  );
}

function setup(o: { batchSize?: number; sinks?: number; deadLetterUnreadable?: boolean; kafka?: FakeKafka; durable?: Map<string, number>; commitTimeoutMs?: number } = {}) {
  const kafka = o.kafka ?? new FakeKafka();
  const durable = o.durable ?? new Map<string, number>();
  const sinks = Array.from({ length: o.sinks ?? 1 }, (_, i) => new RecordingSink(`rec${i}`, durable));
  const clock = fakeClock();
  const metrics = processorMetrics();
  const c = new Coordinator({
    topics: TOPICS,
    sinks,
    port: kafka.port(),
    deadLetters: new DeadLetterBuffer(8192),
    metrics,
    log: quiet,
    flushIntervalMs: 1000,
    batchSize: o.batchSize ?? 1_000_000,
    maxRetryDelayMs: 5000,
    commitTimeoutMs: o.commitTimeoutMs,
    role: 'test',
    deadLetterUnreadable: o.deadLetterUnreadable ?? true,
    clock,
  });
  const metric = async (name: string) => {
    const m = (await metrics.registry.getSingleMetricAsString(name)).match(/ (\d+(?:\.\d+)?)$/m);
    return m ? Number(m[1]) : 0;
  };
  return { kafka, durable, sinks, clock, metrics, metric, c };
}

/** Waits until the condition holds, yielding to the event loop (bounded). */
async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 0));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

describe('coordinator', () => {
  test('every sink gets every event once in offset order; a flush commits what it covered, with every sink\'s checkpoint', async () => {
    const { kafka, sinks, c, clock } = setup({ sinks: 2 });
    kafka.append(TOPICS[0], 0, events('a', 5));
    kafka.append(TOPICS[1], 0, events('b', 3));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }, { topic: TOPICS[1], partition: 0 }]);
    expect(await c.batch(kafka.batch(TOPICS[0], 0, 0, 3))).toBe(true);
    // Delivered again from an older offset (after a rebalance): nothing is given twice.
    expect(await c.batch(kafka.batch(TOPICS[0], 0, 1))).toBe(true);
    expect(await c.batch(kafka.batch(TOPICS[1], 0, 0))).toBe(true);
    for (const s of sinks) expect(s.added).toEqual([...[0, 1, 2, 3, 4].map((o) => `${TOPICS[0]}/0@${o}`), ...[0, 1, 2].map((o) => `${TOPICS[1]}/0@${o}`)]);
    // Both topics of partition 0 were handed over together, before the first event, from no commit.
    expect(sinks[0].assigned).toEqual([TOPICS.map((topic) => ({ topic, partition: 0, committed: null, checkpoint: undefined }))]);
    expect(kafka.commits).toEqual([]);
    clock.t += 1000;
    c.tick();
    await until(() => kafka.commits.length === 1, 'a commit');
    await c.idle();
    const meta = JSON.stringify({ rec0: '5', rec1: '5' });
    expect(kafka.commits[0]).toEqual([
      { topic: TOPICS[0], partition: 0, offset: '5', metadata: meta },
      { topic: TOPICS[1], partition: 0, offset: '3', metadata: JSON.stringify({ rec0: '3', rec1: '3' }) },
    ]);
    expect(sinks[1].committedAt).toEqual([`${TOPICS[0]}/0@5`, `${TOPICS[1]}/0@3`]);
    // Nothing new: the next timed flush commits nothing again.
    clock.t += 1000;
    c.tick();
    await c.idle();
    expect(kafka.commits.length).toBe(1);
  });

  test('rebalance during a flush: the revoked partition is never committed, its state dropped after the flush', async () => {
    const { kafka, sinks, c, clock } = setup({ batchSize: 5 });
    kafka.append(TOPICS[0], 0, events('a', 4));
    kafka.append(TOPICS[0], 1, events('b', 4));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }, { topic: TOPICS[0], partition: 1 }]);
    await c.batch(kafka.batch(TOPICS[0], 1, 0));
    const g = gate();
    sinks[0].gate = g;
    // Batch size reached: a flush starts in the background and hangs in the sink.
    await c.batch(kafka.batch(TOPICS[0], 0, 0));
    expect(sinks[0].flushes).toBe(1);
    // Partition 1 goes to another instance while the flush is running.
    const rebalanced = c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    await new Promise((r) => setTimeout(r, 5));
    expect(sinks[0].revoked).toEqual([]); // waits for the flush
    clock.t += 1;
    g.open();
    await rebalanced;
    expect(sinks[0].revoked).toEqual([`${TOPICS[0]}/1`]);
    await c.idle();
    expect(kafka.commits.flat().map((x) => `${x.topic}/${x.partition}@${x.offset}`)).toEqual([`${TOPICS[0]}/0@4`]);
    // A late batch of the partition given away is refused, and no later flush commits it.
    expect(await c.batch(kafka.batch(TOPICS[0], 1, 0))).toBe(false);
    clock.t += 1000;
    c.tick();
    await c.idle();
    expect(kafka.commits.flat().some((x) => x.partition === 1)).toBe(false);
  });

  test('a failing flush is retried with backoff while consumption waits (heartbeating); nothing is committed before it succeeds', async () => {
    const { kafka, sinks, c, clock, metric } = setup({ batchSize: 2 });
    kafka.append(TOPICS[0], 0, events('a', 6));
    sinks[0].failNext = 3;
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    await c.batch(kafka.batch(TOPICS[0], 0, 0, 2)); // flush 1 starts and fails, retried
    await until(() => sinks[0].flushes >= 2, 'a retry');
    expect(await metric('processor_backpressure')).toBe(1);
    expect(kafka.commits).toEqual([]);
    const heartbeats = { n: 0 };
    // The next batch is due a flush too: it waits behind the failing one, heartbeating.
    await c.batch(kafka.batch(TOPICS[0], 0, 2, 4, { heartbeats }));
    expect(sinks[0].flushes).toBeGreaterThanOrEqual(4);
    expect(heartbeats.n).toBeGreaterThan(0);
    await c.idle();
    expect(await metric('processor_flush_errors_total')).toBe(3);
    expect(await metric('processor_backpressure')).toBe(0);
    // Backoff doubled: 200 + 400 + 800 ms of sleeps at least.
    expect(clock.t).toBeGreaterThanOrEqual(1400);
    // A retry takes what was added meanwhile too (the sink's flush does): one commit covers all.
    expect(kafka.commits.map((l) => l[0].offset)).toEqual(['4']);
    expect(kafka.committed.get(`${TOPICS[0]}/0`)?.metadata).toBe(JSON.stringify({ rec0: '4' }));
  });

  test('a role that flushes by time only consumes on while a healthy flush runs, starts the next when it ends, and waits behind a failing one', async () => {
    const { kafka, sinks, c, clock } = setup({ batchSize: Infinity });
    kafka.append(TOPICS[0], 0, events('a', 6));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    await c.batch(kafka.batch(TOPICS[0], 0, 0, 2));
    const g = gate();
    sinks[0].gate = g;
    clock.t += 1000;
    c.tick();
    await until(() => sinks[0].flushes === 1, 'the first flush');
    // Due again while that flush hangs: the batch is consumed without waiting for it.
    clock.t += 1000;
    expect(await c.batch(kafka.batch(TOPICS[0], 0, 2, 4))).toBe(true);
    expect(sinks[0].added.length).toBe(4);
    expect(sinks[0].flushes).toBe(1);
    sinks[0].gate = null;
    g.open();
    // The flush that came due meanwhile starts as soon as the first one ends, and commits the rest.
    await until(() => kafka.commits.length === 2, 'two commits');
    await c.idle();
    expect(kafka.commits.map((l) => l[0].offset)).toEqual(['2', '4']);
    // A failing flush: the next batch due waits behind it (backpressure), as for every role.
    sinks[0].failNext = 2;
    clock.t += 1000;
    c.tick();
    await until(() => sinks[0].flushes >= 4, 'a failed flush retried');
    clock.t += 1000;
    await c.batch(kafka.batch(TOPICS[0], 0, 4, 6));
    expect(sinks[0].flushes).toBeGreaterThanOrEqual(5);
    await c.idle();
    expect(kafka.committed.get(`${TOPICS[0]}/0`)?.offset).toBe('6');
  });

  test('a batch waiting for a flush returns as soon as its heartbeat is refused (the group is rebalancing), so the instance rejoins at once', async () => {
    const { kafka, sinks, c } = setup({ batchSize: 2 });
    kafka.append(TOPICS[0], 0, events('a', 4));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    const g = gate();
    sinks[0].gate = g;
    await c.batch(kafka.batch(TOPICS[0], 0, 0, 2)); // a flush starts and hangs
    const b = kafka.batch(TOPICS[0], 0, 2, 4);
    b.heartbeat = async () => {
      throw new Error('The group is rebalancing, so a rejoin is needed');
    };
    expect(await c.batch(b)).toBe(true);
    expect(sinks[0].flushes).toBe(1); // still the first one, in flight
    expect(sinks[0].added.length).toBe(4);
    g.open();
    await c.idle();
    expect(kafka.commits.map((l) => l[0].offset)).toEqual(['2']);
  });

  test('a batch from a revoked partition, or of an assignment that ended, reaches no sink', async () => {
    const { kafka, sinks, c } = setup();
    kafka.append(TOPICS[0], 0, events('a', 3));
    kafka.append(TOPICS[0], 1, events('b', 3));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    expect(await c.batch(kafka.batch(TOPICS[0], 1, 0))).toBe(false);
    expect(await c.batch(kafka.batch(TOPICS[0], 0, 0, 3, { current: () => false }))).toBe(false);
    expect(sinks[0].added).toEqual([]);
    expect(sinks[0].assigned).toEqual([]);
  });

  test('crash between flush and commit: the restart replays from the last commit and the outputs are the same', async () => {
    const kafka = new FakeKafka();
    kafka.append(TOPICS[0], 0, events('a', 10));
    kafka.append(TOPICS[1], 0, events('b', 6));
    const durable = new Map<string, number>();
    const all = TOPICS.map((topic) => ({ topic, partition: 0 }));

    // First life: commits offsets 4 / 3, then flushes more but dies before that commit lands.
    const first = setup({ kafka, durable });
    await first.c.assigned(all);
    await first.c.batch(kafka.batch(TOPICS[0], 0, 0, 4));
    await first.c.batch(kafka.batch(TOPICS[1], 0, 0, 3));
    first.clock.t += 1000;
    first.c.tick();
    await until(() => kafka.commits.length === 1, 'first commit');
    await first.c.idle();
    kafka.hangCommits = true;
    await first.c.batch(kafka.batch(TOPICS[0], 0, 4, 8));
    first.clock.t += 1000;
    first.c.tick();
    await until(() => durable.has('a-7'), 'second flush written');
    // ... SIGKILL here: the second commit never reached the broker.
    kafka.hangCommits = false;
    expect(kafka.committed.get(`${TOPICS[0]}/0`)).toEqual({ offset: '4', metadata: JSON.stringify({ rec0: '4' }) });

    // Second life: new memory, same broker and the same durable outputs.
    const second = setup({ kafka, durable });
    await second.c.assigned(all);
    await second.c.batch(kafka.batch(TOPICS[0], 0, 0)); // the broker hands out from 4; older records skipped anyway
    await second.c.batch(kafka.batch(TOPICS[1], 0, 3));
    expect(second.sinks[0].assigned[0]).toEqual([
      { topic: TOPICS[0], partition: 0, committed: '4', checkpoint: '4' },
      { topic: TOPICS[1], partition: 0, committed: '3', checkpoint: '3' },
    ]);
    // Replayed from the committed offsets only.
    expect(second.sinks[0].added[0]).toBe(`${TOPICS[0]}/0@4`);
    second.clock.t += 1000;
    second.c.tick();
    await second.c.idle();
    await second.c.stop();

    // Every event exactly once in the outputs' key space; the ones between the two commits were
    // written twice with the same id (an overwrite), none missing.
    const ids = [...events('a', 10), ...events('b', 6)].map((v) => (JSON.parse(v) as EnrichedEvent).event_id);
    expect([...durable.keys()].sort()).toEqual(ids.sort());
    expect([4, 5, 6, 7].map((i) => durable.get(`a-${i}`))).toEqual([2, 2, 2, 2]);
    expect(kafka.committed.get(`${TOPICS[0]}/0`)?.offset).toBe('10');
    expect(kafka.committed.get(`${TOPICS[1]}/0`)?.offset).toBe('6');
  });

  test('a refused commit (rebalance under way) is retried at the next flush', async () => {
    const { kafka, c, clock } = setup();
    kafka.append(TOPICS[0], 0, events('a', 3));
    kafka.failCommits = 1;
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    await c.batch(kafka.batch(TOPICS[0], 0, 0));
    clock.t += 1000;
    c.tick();
    await c.idle();
    expect(kafka.commits).toEqual([]);
    clock.t += 1000;
    c.tick();
    await until(() => kafka.commits.length === 1, 'the retried commit');
    expect(kafka.committed.get(`${TOPICS[0]}/0`)?.offset).toBe('3');
  });

  test('unreadable records: dead-lettered before the commit by the role that owns them, skipped by the others', async () => {
    for (const owns of [true, false]) {
      const { kafka, sinks, c, clock, metric } = setup({ deadLetterUnreadable: owns });
      kafka.append(TOPICS[0], 0, [...events('a', 1), 'not json', null, ...events('a', 1, 1)]);
      kafka.failDead = owns ? 1 : 0;
      await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
      await c.batch(kafka.batch(TOPICS[0], 0, 0));
      expect(sinks[0].added).toEqual([`${TOPICS[0]}/0@0`, `${TOPICS[0]}/0@3`]);
      clock.t += 1000;
      c.tick();
      await until(() => kafka.commits.length === 1, 'a commit');
      // A tombstone has no bytes: nothing parsed, nothing received.
      expect(kafka.dead.map((d) => [d.code, d.raw, d.received, d.origin?.offset])).toEqual(
        owns
          ? [
              ['PR_ERR_UNREADABLE', 'not json', 'not json', '1'],
              ['PR_ERR_UNREADABLE', '', null, '2'],
            ]
          : [],
      );
      expect(await metric('processor_unreadable_records_total')).toBe(2);
      expect(await metric('processor_flush_errors_total')).toBe(owns ? 1 : 0);
      expect(kafka.committed.get(`${TOPICS[0]}/0`)?.offset).toBe('4');
    }
  });

  test('health: not ready without partitions, nor when behind the log end without progress for the stall time', async () => {
    const { kafka, c, clock } = setup();
    expect(c.health(10_000)).toEqual({ ok: false, reason: 'no partitions assigned' });
    kafka.append(TOPICS[0], 0, events('a', 3));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    await c.batch(kafka.batch(TOPICS[0], 0, 0));
    await c.pollOffsets();
    expect(c.health(10_000).ok).toBe(true);
    clock.t += 60_000;
    expect(c.health(10_000).ok).toBe(true); // caught up: quiet is fine
    kafka.append(TOPICS[0], 0, events('a', 2, 3));
    await c.pollOffsets();
    expect(c.health(10_000)).toEqual({ ok: false, reason: 'no progress while the log grows' });
    await c.batch(kafka.batch(TOPICS[0], 0, 3));
    await c.idle(); // written: consumed alone is not progress
    expect(c.health(10_000).ok).toBe(true);
  });

  test('a commit that never answers (its group coordinator died) holds back no later flush and no rebalance; health says offsets are not committed', async () => {
    const { kafka, c, clock, durable } = setup({ commitTimeoutMs: 20 });
    const all = [{ topic: TOPICS[0], partition: 0 }];
    kafka.append(TOPICS[0], 0, events('a', 2));
    await c.assigned(all);
    kafka.hangCommits = true;
    await c.batch(kafka.batch(TOPICS[0], 0, 0));
    clock.t += 1000;
    c.tick();
    await until(() => durable.has('a-1'), 'first flush written');
    kafka.append(TOPICS[0], 0, events('a', 2, 2));
    await c.batch(kafka.batch(TOPICS[0], 0, 2));
    // Before the commit timeout, a second flush waited for ever behind the first one's commit.
    await waitReal(() => { clock.t += 1000; c.tick(); return durable.has('a-3'); }, 'second flush written although the first commit never answered');
    // A rebalance (the GROUP_JOIN after the coordinator moved) waits for the flush in flight: it returns.
    await c.assigned(all);
    clock.t += 20_000;
    await c.pollOffsets();
    expect(c.health(10_000)).toEqual({ ok: false, reason: expect.stringMatching(/^offsets not committed for \d+ s$/) });
    kafka.hangCommits = false;
    kafka.append(TOPICS[0], 0, events('a', 1, 4));
    await c.batch(kafka.batch(TOPICS[0], 0, 4));
    await waitReal(() => { clock.t += 1000; c.tick(); return kafka.committed.get(`${TOPICS[0]}/0`)?.offset === '5'; }, 'a commit accepted again');
    expect(c.health(10_000)).toEqual({ ok: true, reason: null });
    expect([...durable.values()]).toEqual([1, 1, 1, 1, 1]);
  });

  test('a refused commit of partitions given away since is not reported as pending', async () => {
    const { kafka, c, clock } = setup();
    kafka.append(TOPICS[0], 0, events('a', 2));
    kafka.append(TOPICS[0], 1, events('b', 2));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }, { topic: TOPICS[0], partition: 1 }]);
    await c.batch(kafka.batch(TOPICS[0], 0, 0));
    await c.batch(kafka.batch(TOPICS[0], 1, 0));
    clock.t += 1000;
    c.tick();
    await c.idle();
    expect(kafka.commits.flat().map((x) => `${x.partition}@${x.offset}`)).toEqual(['0@2', '1@2']);
    // More on partition 0 only; its commit is refused, then partition 0 is given away.
    kafka.append(TOPICS[0], 0, events('a', 1, 2));
    await c.batch(kafka.batch(TOPICS[0], 0, 2));
    kafka.failCommits = 1;
    clock.t += 1000;
    c.tick();
    await c.idle();
    await c.assigned([{ topic: TOPICS[0], partition: 1 }]);
    clock.t += 20_000;
    c.tick();
    await c.idle();
    await c.pollOffsets();
    expect(kafka.commits.length).toBe(1); // partition 1 has nothing new: nothing to commit
    expect(c.health(10_000)).toEqual({ ok: true, reason: null });
  });

  test('health: a loop stuck in one step (a batch waiting for a flush that never ends) is not ready, although what it consumed reached the log end', async () => {
    const { kafka, c, clock, sinks } = setup();
    kafka.append(TOPICS[0], 0, events('a', 3));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    const g = gate();
    sinks[0].gate = g;
    await c.batch(kafka.batch(TOPICS[0], 0, 0, 1));
    clock.t += 1000;
    c.tick();
    await until(() => sinks[0].flushes === 1, 'flush started');
    clock.t += 1000;
    const pending = c.batch(kafka.batch(TOPICS[0], 0, 1)); // due for a flush: waits for the first (heartbeating)
    await until(() => clock.t > 15_000, 'waiting');
    expect(c.health(10_000)).toEqual({ ok: false, reason: expect.stringMatching(/^consumer loop blocked in one step for \d+ s$/) });
    g.open();
    await pending;
    await c.idle();
    expect(c.health(10_000)).toEqual({ ok: true, reason: null });
  });
});

/** Polls `step` on real time (a commit timeout is a real timer), up to 5 s. */
async function waitReal(step: () => boolean, what: string) {
  const end = Date.now() + 5000;
  while (!step()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
