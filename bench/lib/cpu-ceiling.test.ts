import { describe, expect, test } from 'vitest';
import { acceptedCeiling } from './cpu-ceiling.js';

describe('acceptedCeiling', () => {
  // 2 cores; 5,000 req/s at the maximum, each 0.4 ms of gateway and broker CPU (the 2 cores full).
  const base = { cores: 2, maxReqPerS: 5000, acceptedCpuMs: 0.4 };
  test.each([
    // Nothing else costs anything: the whole offered rate up to what the cores hold (5,000 req/s).
    { rate: 25_000, loadgenUs: 0, shedUs: 0, share: 1 },
    // Offered less than the cores hold: all of it.
    { rate: 2_500, loadgenUs: 0, shedUs: 0, share: 0.5 },
    // A generator at 20 µs a request takes 0.5 core of 2: (2 - 0.5) / 0.0004 = 3,750 req/s.
    { rate: 25_000, loadgenUs: 20, shedUs: 0, share: 0.75 },
    // Sheds at 16 µs too: (2 - 25,000 × 36 µs) / (0.4 ms - 16 µs) = 1.1 / 0.000384 = 2,864.6 req/s.
    { rate: 25_000, loadgenUs: 20, shedUs: 16, share: 2864.583 / 5000 },
    // The generator alone takes more than the machine: nothing can be accepted.
    { rate: 200_000, loadgenUs: 20, shedUs: 0, share: 0 },
  ])('offered $rate req/s, generator $loadgenUs µs, sheds $shedUs µs: $share of the maximum', ({ rate, loadgenUs, shedUs, share }) => {
    expect(acceptedCeiling({ ...base, rate, loadgenUs, shedUs })).toBeCloseTo(share, 4);
  });

  test('a shed costing as much as an accepted request, or no maximum, has no ceiling', () => {
    expect(acceptedCeiling({ ...base, rate: 25_000, loadgenUs: 0, shedUs: 400 })).toBeNaN();
    expect(acceptedCeiling({ ...base, maxReqPerS: 0, rate: 25_000, loadgenUs: 0, shedUs: 0 })).toBeNaN();
  });
});
