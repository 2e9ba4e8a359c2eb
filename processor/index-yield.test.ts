import { describe, expect, test } from 'vitest';
import { CpuPressure, parsePressure } from './cpu-pressure.js';
import { indexYield, type IndexYieldOptions } from './index-yield.js';

const PSI = (avg10: number) => `some avg10=${avg10.toFixed(2)} avg60=80.00 avg300=40.00 total=5703777661\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;

describe('CPU pressure', () => {
  test.each([
    [PSI(91.2), 0.912],
    ['some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n', 0],
    ['', null],
    ['full avg10=12.00 avg60=0.00 avg300=0.00 total=12\n', null],
  ])('the "some" 10 s average of %j is %j', (text, share) => {
    expect(parsePressure(text)).toBe(share);
  });

  test('the sampler gives the last reading, and null without PSI', () => {
    let avg = 91.2;
    const p = new CpuPressure(() => PSI(avg));
    expect(p.sample()).toBe(true);
    expect(p.share).toBeCloseTo(0.912, 9);
    avg = 12.5;
    p.sample();
    expect(p.share).toBeCloseTo(0.125, 9);
    const none = new CpuPressure(() => {
      throw new Error('ENOENT');
    });
    expect(none.start(250)).toBe(false);
    expect(none.share).toBeNull();
  });
});

/** A gate on a fake clock: `pressures` are the readings in turn (the last one repeats). */
function gateWith(o: Partial<IndexYieldOptions>, pressures: (number | null)[], wallNow = 1_000_000) {
  let t = 0;
  let i = 0;
  const sleeps: number[] = [];
  const gate = indexYield(
    { pressurePct: 70, maxWaitMs: 5000, maxLagMs: 900_000, pollMs: 250, ...o },
    {
      pressure: () => pressures[Math.min(i++, pressures.length - 1)],
      now: () => t,
      wallNow: () => wallNow + t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    },
  );
  return { gate, sleeps };
}

describe('raw indexing yields to the KPIs under CPU pressure', () => {
  test.each([
    ['below the bound: sent at once', {}, [0.5], 0],
    ['at the bound: held until it falls', {}, [0.7, 0.9, 0.95, 0.4], 750],
    ['without PSI: never held', {}, [null], 0],
    ['setting 0: never held', { pressurePct: 0 }, [1], 0],
    ['sustained pressure: sent after the longest hold', {}, [0.99], 5000],
    ['a shorter longest hold', { maxWaitMs: 600 }, [0.99], 600],
  ] as const)('%s', async (_what, o, pressures, held) => {
    const { gate } = gateWith(o, [...pressures]);
    expect(await gate(1_000_000)).toBe(held);
  });

  test('a bulk whose oldest event is older than the lag bound is never held; a younger one is held at most until it reaches it', async () => {
    const old = gateWith({}, [0.99], 1_000_000);
    expect(await old.gate(1_000_000 - 900_000)).toBe(0);
    const young = gateWith({}, [0.99], 1_000_000);
    expect(await young.gate(1_000_000 - 899_500)).toBe(500);
    expect(young.sleeps).toEqual([250, 250]);
  });
});
