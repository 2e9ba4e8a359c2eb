/** The admission's rules on their own (admission.ts), on a clock and a queue the tests drive; the gateway's use of them is in admission.test.ts. */
import { describe, expect, test } from 'vitest';
import { Admission } from './admission.js';

describe('Admission', () => {
  const clock = () => {
    let t = 1000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  test('refuses once the oldest admitted request has waited past the bound, admits again once it is answered', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    expect(a.check(100)).toBeNull();
    const first = a.enter();
    c.advance(400);
    const second = a.enter();
    c.advance(700);
    expect(a.oldestAgeMs()).toBe(1100);
    expect(a.check(100)).toBe('queue_delay');
    expect(a.leave(first)).toBe(1100);
    // The next oldest has waited 700 ms: under the bound.
    expect(a.oldestAgeMs()).toBe(700);
    expect(a.check(100)).toBeNull();
    expect(a.leave(second)).toBe(700);
    expect(a.oldestAgeMs()).toBe(0);
  });

  test('answered out of order and many of them: the oldest is still found (the queue compacts)', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    const tokens: number[] = [];
    for (let i = 0; i < 5000; i++) {
      tokens.push(a.enter());
      c.advance(1);
    }
    // Answer all but every 1000th, newest first.
    for (const t of [...tokens].reverse()) if (t % 1000 !== 999) a.leave(t);
    expect(a.oldestAgeMs()).toBe(5000 - 999);
    a.leave(tokens[999]);
    expect(a.oldestAgeMs()).toBe(5000 - 1999);
    for (const t of [1999, 2999, 3999, 4999]) a.leave(tokens[t]);
    expect(a.oldestAgeMs()).toBe(0);
    tokens.length = 0;
    const t = a.enter();
    c.advance(5);
    expect(a.oldestAgeMs()).toBe(5);
    a.leave(t);
  });

  test('a request that waited past the bound before it was read is refused; an admitted one is timed from its arrival', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    const acceptedAt = c.now();
    c.advance(1200);
    // Its connection was accepted 1.2 s ago and its first request is read only now (no loop monitor: counted as busy).
    expect(a.check(100, acceptedAt)).toBe('waited');
    expect(a.waitedMs).toBe(1200);
    // 300 ms: let in, and its clock started at the accept.
    expect(a.check(100, c.now() - 300)).toBeNull();
    expect(a.waitedMs).toBe(300);
    const t = a.enter(a.waitedMs);
    expect(a.oldestAgeMs()).toBe(300);
    c.advance(750);
    // 1,050 ms since it arrived, though only 750 ms since it was read: the queue bound applies.
    expect(a.check(100)).toBe('queue_delay');
    expect(a.leave(t)).toBe(1050);
    // Nothing known about when a request arrived: its wait is the loop's estimate (0 without one).
    expect(a.check(100)).toBeNull();
    expect(a.waitedMs).toBe(0);
  });

  test('refuses when the events waiting for Kafka would take longer than the bound at the recent rate', () => {
    const c = clock();
    let waiting = 0;
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => waiting, c.now);
    // Kafka acknowledges 10,000 events/s for two seconds.
    for (let i = 0; i < 20; i++) {
      c.advance(100);
      a.acked(1000, 100);
    }
    waiting = 5000; // half a second of work
    expect(a.expectedDelayMs()).toBeGreaterThan(400);
    expect(a.expectedDelayMs()).toBeLessThan(600);
    expect(a.check(0)).toBeNull();
    waiting = 15_000; // a second and a half
    expect(a.check(0)).toBe('expected_delay');
  });

  /**
   * Traffic as the gateway sees it: every `stepMs`, `perStep` requests of 20 events arrive and are
   * judged; Kafka acknowledges what was sent `rttMs` earlier, up to `drainPerS` events a second
   * (nothing while `stalled`). Returns the reasons of the requests refused.
   */
  const traffic = () => {
    const c = clock();
    let waiting = 0;
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => waiting, c.now);
    const sent: { at: number; events: number }[] = [];
    let credit = 0;
    const run = (ms: number, opts: { reqPerS: number; drainPerS: number; rttMs?: number; stalled?: boolean }) => {
      const shed: string[] = [];
      const stepMs = 1;
      let arrivals = 0;
      for (let t = 0; t < ms; t += stepMs) {
        c.advance(stepMs);
        arrivals += (opts.reqPerS * stepMs) / 1000;
        for (; arrivals >= 1; arrivals--) {
          const why = a.check(0);
          if (why) shed.push(why);
          else {
            waiting += 20;
            sent.push({ at: c.now(), events: 20 });
          }
        }
        if (opts.stalled) continue;
        credit = Math.min(credit + (opts.drainPerS * stepMs) / 1000, opts.drainPerS / 100);
        while (sent.length && sent[0].at <= c.now() - (opts.rttMs ?? 3) && credit >= sent[0].events) {
          const r = sent.shift()!;
          credit -= r.events;
          a.acked(r.events, c.now() - r.at);
          waiting -= r.events;
        }
      }
      return shed;
    };
    return { a, run, waiting: () => waiting };
  };

  test('the drain rate does not collapse after an idle pause: half load resumed after 10 s idle, then a 150 ms Kafka hiccup, sheds nothing', () => {
    const t = traffic();
    // Half load: 1,250 requests/s (25,000 events/s) against a Kafka that drains 50,000.
    expect(t.run(2000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(10_000, { reqPerS: 0, drainPerS: 50_000 })).toEqual([]);
    expect(t.waiting()).toBe(0);
    // Back at half load; 20 ms later Kafka stalls for 150 ms (3,750 events pile up), then catches up.
    expect(t.run(20, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(150, { reqPerS: 1250, drainPerS: 50_000, stalled: true })).toEqual([]);
    expect(t.waiting()).toBeGreaterThanOrEqual(3000);
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    // The same right after the stall's first acknowledgement: the estimate is still that of the busy time before the pause.
    expect(t.a.expectedDelayMs()).toBeLessThan(1000);
  });

  test('light traffic, then a burst with a Kafka hiccup: the rate of a mostly idle producer does not read as a slow Kafka', () => {
    const t = traffic();
    // 5 requests/s for 5 s: Kafka busy 3 ms in every 200.
    expect(t.run(5000, { reqPerS: 5, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(10, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(120, { reqPerS: 1250, drainPerS: 50_000, stalled: true })).toEqual([]);
    expect(t.run(500, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
  });

  test('still sheds under true overload: arrivals at three times what Kafka drains', () => {
    const t = traffic();
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(2000, { reqPerS: 0, drainPerS: 50_000 })).toEqual([]);
    // 75,000 events/s offered, 25,000 drained: the backlog grows by 50,000 a second.
    const shed = t.run(3000, { reqPerS: 3750, drainPerS: 25_000 });
    expect(shed.length).toBeGreaterThan(3750);
    expect(shed).toContain('expected_delay');
    // Refused before anyone waited the bound: the backlog stays under about a second of Kafka's work.
    expect(t.waiting()).toBeLessThan(30_000);
  });

  test('a Kafka that stops answering with events waiting: the rate falls and new requests are refused', () => {
    const t = traffic();
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    const shed = t.run(3000, { reqPerS: 1250, drainPerS: 50_000, stalled: true });
    // Refused on the expected delay first, before the oldest request has waited the bound.
    expect(shed[0]).toBe('expected_delay');
    expect(shed.length).toBeGreaterThan(1250);
  });

  test('bounds the bytes held; one request alone is always let in', () => {
    const a = new Admission({ maxDelayMs: 0, maxBytes: 1000, retryAfterMaxS: 5 }, () => 0);
    expect(a.check(5000)).toBeNull();
    a.hold(600);
    expect(a.check(300)).toBeNull();
    a.hold(300);
    expect(a.check(200)).toBe('bytes');
    a.release(600);
    expect(a.check(200)).toBeNull();
    expect(a.bytesHeld).toBe(300);
  });

  test('Retry-After is spread over 1..max seconds', () => {
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0);
    const seen = new Set(Array.from({ length: 500 }, () => a.retryAfter()));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
