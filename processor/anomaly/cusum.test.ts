import { describe, expect, it } from 'vitest';
import { PoissonCusum, poissonFallLlr } from './cusum.js';

describe('poissonFallLlr', () => {
  it.each([
    // [observed, expected, ratio, log-likelihood ratio of "fell to ratio x" against "as expected"]
    [0, 6, 1 / 3, 4], // nothing when 6 were expected: (1 - 1/3) x 6
    [2, 6, 1 / 3, 2 * Math.log(1 / 3) + 4], // what a third would give: evidence for the fall
    [6, 6, 1 / 3, 6 * Math.log(1 / 3) + 4], // as expected: evidence against it
    [0, 0, 1 / 3, 0], // nothing expected: no evidence either way
    [3, Number.NaN, 1 / 3, 0],
  ])('%d observed for %d expected (ratio %d)', (x, mu, ratio, llr) => {
    expect(poissonFallLlr(x, mu, ratio)).toBeCloseTo(llr, 10);
  });
});

describe('PoissonCusum', () => {
  it.each([
    // [case, (observed, expected) per window, alarm per window]
    ['counts as expected never accumulate', Array(20).fill([6, 6]), Array(20).fill(false)],
    ['purchases stopping at 12 expected: alarm on the 2nd window', [[0, 12], [0, 12]], [false, true]],
    ['purchases stopping at 4.5 expected: the 4th (each empty window is 3 nats)', Array(4).fill([0, 4.5]), [false, false, false, true]],
    ['conversion to a third at 12 expected: the 3rd window', Array(3).fill([4, 12]), [false, false, true]],
    ['one empty window among normal ones pages nobody', [[0, 12], [12, 12], [12, 12]], [false, false, false]],
  ] as [string, [number, number][], boolean[]][])('%s', (_n, windows, alarms) => {
    const c = new PoissonCusum({ ratio: 1 / 3, threshold: 10 });
    expect(windows.map(([x, mu]) => c.push(x, mu).alarm)).toEqual(alarms);
  });

  it('holds the statistic at cap x threshold, so that evidence drains soon after a long incident ends', () => {
    const c = new PoissonCusum({ ratio: 1 / 3, threshold: 10, cap: 1.5 });
    for (let i = 0; i < 30; i++) c.push(0, 12);
    expect(c.stat).toBe(15);
    // Each window as expected takes 12 (ln 3 - 2/3) = 5.2 nats away: below the threshold at once.
    expect(c.push(12, 12)).toMatchObject({ alarm: false, stat: expect.closeTo(9.82, 2) });
  });

  it('counts the windows since the statistic left 0, and reset drops the evidence', () => {
    const c = new PoissonCusum();
    expect(c.push(12, 12).run).toBe(0);
    expect(c.push(2, 12).run).toBe(1);
    expect(c.push(3, 12).run).toBe(2);
    c.reset();
    expect(c.stat).toBe(0);
    expect(c.push(12, 12).run).toBe(0);
  });

  it('refuses a ratio that is no fall and a threshold that is not positive', () => {
    expect(() => new PoissonCusum({ ratio: 1 })).toThrow(/ratio/);
    expect(() => new PoissonCusum({ threshold: 0 })).toThrow(/threshold/);
  });

  it('raises about as many false alarms as Wald bounds: at most one per e^threshold windows of Poisson counts as expected', () => {
    // Seeded Poisson(8) draws (Knuth), 200,000 windows: fewer than 200,000 / e^8 = 67 alarms at threshold 8.
    let a = 12345;
    const rand = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const draw = (mu: number) => {
      const l = Math.exp(-mu);
      let k = 0;
      for (let p = rand(); p > l; p *= rand()) k++;
      return k;
    };
    const c = new PoissonCusum({ ratio: 1 / 3, threshold: 8 });
    let alarms = 0;
    for (let i = 0; i < 200_000; i++) {
      if (c.push(draw(8), 8).alarm) {
        alarms++;
        c.reset();
      }
    }
    expect(alarms).toBeLessThan(67);
  });
});
