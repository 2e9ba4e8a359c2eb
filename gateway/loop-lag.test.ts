import { describe, expect, test } from 'vitest';
import { LoopLag, type LoopClock } from './loop-lag.js';
import { Admission, MIN_QUEUE } from './admission.js';

/** A loop under the test's control: time, idle time and timers move only when the test says. */
function fakeLoop() {
  let t = 0;
  let idle = 0;
  let cpu = 0;
  let timers: { at: number; fn: () => void }[] = [];
  let interval: { every: number; next: number; fn: () => void } | null = null;
  const clock: LoopClock = {
    now: () => t,
    idleMs: () => idle,
    cpuMs: () => cpu,
    setTimeout: (fn, ms) => timers.push({ at: t + ms, fn }),
    setInterval: (fn, ms) => (interval = { every: ms, next: t + ms, fn }),
    clearInterval: () => (interval = null),
  };
  return {
    clock,
    /** The loop works (busy) for ms. */
    busy(ms: number) {
      t += ms;
      cpu += ms;
    },
    /** The loop has work but waits ms for a core (a machine short of CPU): busy in wall time, no CPU. */
    starved(ms: number) {
      t += ms;
    },
    /** The loop waits in poll for ms. */
    idle(ms: number) {
      t += ms;
      idle += ms;
    },
    /** The loop reaches its timers phase: due timers and the interval run. */
    timers() {
      const due = timers.filter((x) => x.at <= t);
      timers = timers.filter((x) => x.at > t);
      for (const x of due) x.fn();
      while (interval && interval.next <= t) {
        interval.next += interval.every;
        interval.fn();
      }
    },
    get pendingTimers() {
      return timers.length;
    },
  };
}

/**
 * A script of one loop: each step is a turn: the loop reaches its timers, then reads `reads`
 * requests, each costing `cost` ms of work, then idles `idle` ms. Expected: the wait read() gives
 * for each request of the turn.
 */
interface Turn {
  reads: number;
  cost: number;
  idle?: number;
  waits: number[];
}

describe('LoopLag: how long a request read now has waited at least', () => {
  const cases: { name: string; turns: Turn[] }[] = [
    {
      name: 'idle loop: every request is the first of its batch, nothing waited',
      turns: [
        { reads: 1, cost: 0.3, idle: 50, waits: [0] },
        { reads: 1, cost: 0.3, idle: 50, waits: [0] },
      ],
    },
    {
      name: 'a batch of 5 requests read in one turn: each waited while the ones before it were worked on',
      turns: [{ reads: 5, cost: 10, idle: 1, waits: [0, 10, 20, 30, 40] }],
    },
    {
      name: 'the next turn starts a new batch: its first request counts from its own start',
      turns: [
        { reads: 3, cost: 20, waits: [0, 20, 40] },
        { reads: 3, cost: 20, waits: [0, 20, 40] },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const loop = fakeLoop();
      const lag = new LoopLag(250, loop.clock);
      for (const turn of c.turns) {
        loop.timers();
        const waits: number[] = [];
        for (let i = 0; i < turn.reads; i++) {
          waits.push(lag.read());
          loop.busy(turn.cost);
        }
        expect(waits).toEqual(turn.waits);
        loop.idle(turn.idle ?? 0);
      }
    });
  }

  test('one probe timer per batch, none while no request is read; the turn length is reported when it fires', () => {
    const loop = fakeLoop();
    const turns: number[] = [];
    const lag = new LoopLag(250, loop.clock, (ms) => turns.push(ms));
    expect(loop.pendingTimers).toBe(0);
    lag.read();
    loop.busy(7);
    lag.read();
    loop.busy(5);
    expect(loop.pendingTimers).toBe(1);
    loop.timers();
    expect(turns).toEqual([12]);
    expect(lag.lastTurnMs).toBe(12);
    loop.idle(1000);
    loop.timers();
    expect(loop.pendingTimers).toBe(0);
    expect(turns).toEqual([12]);
  });

  test('utilisation: the busy share of each window', () => {
    const loop = fakeLoop();
    const lag = new LoopLag(100, loop.clock);
    lag.start();
    const seen: number[] = [];
    for (const [busy, idle] of [
      [100, 0],
      [50, 50],
      [10, 90],
      [95, 5],
    ]) {
      loop.busy(busy);
      loop.idle(idle);
      loop.timers();
      seen.push(Math.round(lag.utilisation * 100) / 100);
    }
    expect(seen).toEqual([1, 0.5, 0.1, 0.95]);
    lag.stop();
  });

  test('runShare: the busy share without the time spent waiting for a core; a saturated loop still reads 1', () => {
    const loop = fakeLoop();
    const lag = new LoopLag(100, loop.clock);
    lag.start();
    const seen: { util: number; run: number }[] = [];
    for (const [busy, starved, idle] of [
      // Not starved: the same as the utilisation.
      [50, 0, 50],
      // An idle process on a starved machine: 5 ms of work took 85 ms of wall time.
      [5, 80, 15],
      // A saturated process on a starved machine: never idle, a fifth of the time on a core.
      [20, 80, 0],
      // A half-busy one, starved.
      [10, 80, 10],
    ]) {
      loop.busy(busy);
      loop.starved(starved);
      loop.idle(idle);
      loop.timers();
      seen.push({ util: Math.round(lag.utilisation * 100) / 100, run: Math.round(lag.runShare * 100) / 100 });
    }
    expect(seen).toEqual([
      { util: 0.5, run: 0.5 },
      { util: 0.85, run: 0.25 },
      { util: 1, run: 1 },
      { util: 0.9, run: 0.5 },
    ]);
    // restart(): the work before it (a start-up) is not counted.
    loop.busy(60);
    lag.restart();
    expect(lag.runShare).toBe(0);
    loop.idle(100);
    loop.timers();
    expect(lag.runShare).toBe(0);
    lag.stop();
  });
});

describe('Admission with the loop signal', () => {
  const opts = { maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5, maxLoopLagMs: 30, minLoopBusy: 0.9, maxRequests: 3 };

  /** Admission on a loop that was busy `busyShare` of its last window. */
  function admissionAt(busyShare: number) {
    const loop = fakeLoop();
    const lag = new LoopLag(100, loop.clock);
    lag.start();
    loop.busy(100 * busyShare);
    loop.idle(100 * (1 - busyShare));
    loop.timers();
    return { loop, lag, a: new Admission(opts, () => 0, loop.clock.now, lag) };
  }

  /** Drives a saturated or a mostly idle loop through one long batch, and returns each read's answer. */
  function batch(busyShare: number, reads: number, cost: number) {
    const { loop, lag, a } = admissionAt(busyShare);
    const out: (string | null)[] = [];
    for (let i = 0; i < reads; i++) {
      const r = a.check(100);
      out.push(r);
      if (!r) {
        a.hold(100);
        a.release(100);
      }
      loop.busy(cost);
    }
    lag.stop();
    return out;
  }

  const admittedThenShed = (admitted: number, total: number) => Array.from({ length: total }, (_, i) => (i < admitted ? null : 'loop_lag'));
  test.each([
    // 40 reads 1 ms apart: waits 0..39 ms; the ones past 30 ms are refused.
    { name: 'busy loop: the rest of a batch past 30 ms is shed', busy: 1, reads: 40, cost: 1, expected: admittedThenShed(31, 40) },
    { name: 'busy share at the bound (90 %) still sheds', busy: 0.9, reads: 40, cost: 1, expected: admittedThenShed(31, 40) },
    { name: 'mostly idle loop (a pause, not an overload): nothing shed', busy: 0.5, reads: 40, cost: 1, expected: admittedThenShed(40, 40) },
    // A few requests in a long turn are no queue: left to the other bounds.
    { name: `no more than ${MIN_QUEUE} requests in the batch: nothing shed, however long it takes`, busy: 1, reads: MIN_QUEUE, cost: 10, expected: admittedThenShed(MIN_QUEUE, MIN_QUEUE) },
    { name: `the ${MIN_QUEUE + 1}th request of a long batch is shed`, busy: 1, reads: MIN_QUEUE + 2, cost: 10, expected: admittedThenShed(MIN_QUEUE, MIN_QUEUE + 2) },
  ])('$name', ({ busy, reads, cost, expected }) => {
    expect(batch(busy, reads, cost)).toEqual(expected);
  });

  test.each([
    // An idle loop reads at once: the time since accept is the client's (a preconnect), not a queue.
    { name: 'accepted long ago, idle loop: not counted', busy: 0.5, exact: false, expected: null },
    { name: 'accepted long ago, busy loop: counted, refused', busy: 1, exact: false, expected: 'waited' },
    // The acceptor read the head 2 s ago: it waited in the hand-over, however idle this loop is.
    { name: 'head read by the acceptor long ago, idle loop: refused', busy: 0.5, exact: true, expected: 'waited' },
  ])('$name', ({ busy, exact, expected }) => {
    const { loop, lag, a } = admissionAt(busy);
    expect(a.check(100, loop.clock.now() - 2000, exact)).toBe(expected);
    lag.stop();
  });

  test('GATEWAY_MAX_LOOP_LAG_MS=0 disables the loop signal', () => {
    const loop = fakeLoop();
    const lag = new LoopLag(100, loop.clock);
    const a = new Admission({ ...opts, maxLoopLagMs: 0 }, () => 0, loop.clock.now, lag);
    lag.read();
    loop.busy(500);
    expect(a.check(100)).toBeNull();
  });

  test('at most maxRequests admitted and unanswered; one answered lets the next in', () => {
    const a = new Admission(opts, () => 0);
    for (let i = 0; i < 3; i++) {
      expect(a.check(10)).toBeNull();
      a.hold(10);
    }
    expect(a.requestsHeld).toBe(3);
    expect(a.check(10)).toBe('requests');
    a.release(10);
    expect(a.check(10)).toBeNull();
  });
});
