import { describe, expect, test } from 'vitest';
import { AcceptorWaits, HALF_LIFE_MS, MIN_WAITS, PROBE_EVERY } from './acceptor-waits.js';

describe('whether the acceptor keeps a request for a process that may take it soon', () => {
  test('waits while recent waits end in a hand-over, or are too few to judge', () => {
    let t = 0;
    const w = new AcceptorWaits(() => t);
    for (let i = 0; i < MIN_WAITS - 1; i++) w.ended(false);
    expect(w.paysOff()).toBe(true);
    for (let i = 0; i < 100; i++) {
      w.ended(i % 2 === 0);
      t += 1;
    }
    // Half of the waits paid off (a busy channel at half load): every request still waits.
    expect(w.paysOff()).toBe(true);
    expect(Array.from({ length: 20 }, () => w.worthWaiting()).every(Boolean)).toBe(true);
  });

  test('under sustained overload (waits end in a 503 anyway) sheds at once, but for one probe in PROBE_EVERY', () => {
    let t = 0;
    const w = new AcceptorWaits(() => t);
    for (let i = 0; i < 50; i++) {
      w.ended(false);
      t += 2;
    }
    expect(w.paysOff()).toBe(false);
    const asked = Array.from({ length: PROBE_EVERY * 4 }, () => w.worthWaiting());
    expect(asked.filter(Boolean)).toHaveLength(4);
  });

  test('probes that are handed over again bring the waits back; old outcomes fade', () => {
    let t = 0;
    const w = new AcceptorWaits(() => t);
    for (let i = 0; i < 40; i++) w.ended(false);
    expect(w.paysOff()).toBe(false);
    // The overload is over: the probes are handed over.
    for (let i = 0; i < 30 && !w.paysOff(); i++) {
      t += 50;
      w.ended(true);
    }
    expect(w.paysOff()).toBe(true);
    // Without any wait for a while, the shed outcomes fade below what is judged.
    const w2 = new AcceptorWaits(() => t);
    for (let i = 0; i < 40; i++) w2.ended(false);
    t += HALF_LIFE_MS * 4;
    expect(w2.paysOff()).toBe(true);
    expect(w2.recent.shed).toBeCloseTo(2.5, 1);
  });
});
