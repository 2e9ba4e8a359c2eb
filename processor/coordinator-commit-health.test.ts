/**
 * The consumer loop when commits are refused or never answer, when records are unreadable, and
 * what its health says; driven by the same fakes as coordinator.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { TOPICS, gate, events, setup, until, waitReal } from '../test/harness/coordinator-fakes.js';

describe('coordinator', () => {
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

  test('the lag gauge follows the log while consumption waits for a held flush (the offset poll waits for the lock meanwhile)', async () => {
    const { kafka, sinks, c, metrics } = setup({ batchSize: 2 });
    const lag = async () => (await metrics.lag.get()).values.find((v) => v.labels.topic === TOPICS[0] && v.labels.partition === '0')?.value;
    kafka.append(TOPICS[0], 0, events('a', 4));
    await c.assigned([{ topic: TOPICS[0], partition: 0 }]);
    const g = gate();
    sinks[0].gate = g;
    await c.batch(kafka.batch(TOPICS[0], 0, 0, 2)); // due: a flush starts and hangs in the sink
    const waiting = c.batch(kafka.batch(TOPICS[0], 0, 2, 4)); // due again: waits behind it, holding the lock
    await until(() => sinks[0].added.length === 4, 'the second batch read');
    expect(await lag()).toBe(0);
    kafka.append(TOPICS[0], 0, events('b', 1000, 4));
    const poll = c.pollOffsets(); // queued behind the lock
    let seen: number | undefined;
    for (let i = 0; i < 200 && seen !== 1000; i++) {
      await new Promise((r) => setTimeout(r, 0));
      seen = await lag();
    }
    expect(seen).toBe(1000);
    expect(sinks[0].flushes).toBe(1);
    g.open();
    await waiting;
    await poll;
    await c.idle();
    expect(await lag()).toBe(1000);
  });
});
