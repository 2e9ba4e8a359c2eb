import { describe, expect, it } from 'vitest';
import { cusumBound } from './cusum-bound.js';

const bound = (mu: number, windowsPerFalseAlarm: number) => cusumBound({ mu, ratio: 1 / 3, windowsPerFalseAlarm, h0Windows: 100 * windowsPerFalseAlarm, trials: 1000, seed: 7 });

describe('cusumBound (a conversion falling to a third, known usual rate)', () => {
  it('needs more than 2 windows (p95) at 5 to 12 expected purchases, even at one false alarm a day', () => {
    for (const mu of [5, 8, 12]) expect(bound(mu, 288).p95).toBeGreaterThan(2);
  }, 60_000); // millions of simulated windows: seconds on a loaded machine

  it('reaches 2 windows (p95) at 60 expected purchases, even at one false alarm per 20,000 windows', () => {
    expect(bound(60, 20_000).p95).toBeLessThanOrEqual(2);
  }, 60_000);

  it('is faster with more purchases and slower with a stricter budget', () => {
    const [few, many, strict] = [bound(5, 288), bound(20, 288), bound(5, 20_000)];
    expect(many.p95).toBeLessThan(few.p95);
    expect(strict.threshold).toBeGreaterThan(few.threshold);
    expect(strict.p95).toBeGreaterThan(few.p95);
    // Wald: e^h windows between false alarms at least, so the threshold never exceeds ln(budget) by much.
    expect(strict.threshold).toBeLessThan(Math.log(20_000) + 1);
    expect(few.drift).toBeCloseTo(5 * (2 / 3 + Math.log(1 / 3) / 3), 10);
  }, 60_000);
});
