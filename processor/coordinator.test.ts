/**
 * The consumer loop's decisions, driven by a fake consumer (committed offsets, logs, commits and
 * dead letters in memory), a fake clock and recording sinks: what is committed when, with which
 * metadata, across rebalances, failing flushes and crashes.
 * (Commits that fail or never answer, unreadable records and health: coordinator-commit-health.test.ts.)
 */
import { describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { TOPICS, gate, FakeKafka, events, setup, until } from '../test/harness/coordinator-fakes.js';

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

});
