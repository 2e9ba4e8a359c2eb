import { expect, test } from 'vitest';
import { warmBroker } from './broker-warmup.js';

/** A broker whose JIT threads take `shares[k]` of its CPU in round k (1 s of CPU a round). */
function broker(shares: number[]) {
  let k = 0;
  let jit = 0;
  let all = 0;
  return {
    cpu: { jit: () => jit, all: () => all },
    round: async () => {
      jit += shares[Math.min(k, shares.length - 1)];
      all += 1;
      k++;
    },
    rounds: () => k,
  };
}

test.each([
  ['quiet from the start', [0.01, 0.02, 0.5], 2],
  ['one quiet round between bursts is not enough', [0.4, 0.05, 0.3, 0.06, 0.04, 0.5], 5],
  ['exactly at the threshold counts as compiling', [0.1, 0.1, 0.09, 0.09], 4],
  ['never quiet: stops at the cap', [0.5], 6],
])('%s', async (_name, shares, rounds) => {
  const b = broker(shares as number[]);
  const loadS = await warmBroker(1, 12, 2, b.round, b.cpu);
  expect(b.rounds()).toBe(rounds);
  expect(loadS).toBe(rounds * 2);
});

test('no warm-up asked: no round', async () => {
  const b = broker([0.5]);
  expect(await warmBroker(1, 0, 2, b.round, b.cpu)).toBe(0);
  expect(b.rounds()).toBe(0);
});
