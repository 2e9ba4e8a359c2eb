import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { capacityTables, DOC, docTables, MEASURED, perCore, plan, RATES } from '../../scripts/capacity.js';

const bench = readFileSync(new URL('../../bench/README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

test('every measured input is the figure bench/README.md prints (rerun the plan when the benches change)', () => {
  for (const [name, input] of Object.entries(MEASURED)) {
    expect(
      bench.includes(input.cited.replace(/\s+/g, ' ')),
      `${name}: "${input.cited}" is no longer in bench/README.md: update MEASURED in scripts/capacity.ts and run npm run capacity:doc -- --write`,
    ).toBe(true);
  }
});

test('docs/capacity.md holds the current tables (npm run capacity:doc -- --write)', () => {
  expect(docTables(readFileSync(DOC, 'utf8'))).toBe(capacityTables());
});

test('the arithmetic: per-core rates from the inputs, plans growing with the rate, roles within partitions', () => {
  // 0.365 ms per 20-event request at 70 %: 1000 / 0.365 * 20 * 0.7.
  expect(perCore().gateway).toBeCloseTo((1000 / 0.365) * 20 * 0.7, 6);
  // The analytics role at 18.9 µs per event at 70 %.
  expect(perCore().processor.analytics).toBeCloseTo((1e6 / 18.9) * 0.7, 6);
  const plans = RATES.map(plan);
  for (let i = 1; i < plans.length; i++) {
    expect(plans[i].gateways).toBeGreaterThanOrEqual(plans[i - 1].gateways);
    expect(plans[i].esNodes).toBeGreaterThanOrEqual(plans[i - 1].esNodes);
    expect(plans[i].partitions).toBeGreaterThanOrEqual(plans[i - 1].partitions);
  }
  for (const p of plans) {
    for (const n of Object.values(p.processors)) expect(n).toBeLessThanOrEqual(p.partitions);
    expect(p.tbPerDay.parquet).toBeLessThan(p.tbPerDay.esRaw);
  }
  // 1,000,000 events/s x 86,400 s x 54 bytes = 4.67 TB of Parquet a day.
  expect(plan(1_000_000).tbPerDay.parquet).toBeCloseTo(4.6656, 3);
});
