import { expect, test } from 'vitest';
import { halfLoadVerdict, maximumVerdict } from './gateway-report.js';

test.each([
  [99_757, '99.8% (MISSED)'],
  [99_999, '100.0% (MISSED)'],
  [100_000, '100.0% (met)'],
  [107_245, '107.2% (met)'],
])('a maximum of %d events/s against 100,000: %s', (events, verdict) => {
  expect(maximumVerdict(events).split(/: +/)[1]).toBe(verdict);
});

test('a better configuration is named with its own verdict', () => {
  expect(maximumVerdict(97_291, 100_412)).toMatch(/97\.3% \(MISSED\); best configuration 100\.4% \(met\)$/);
});

test.each([
  [24.9, 'met'],
  [25, 'met'],
  [25.1, 'MISSED'],
])('a half-load p99 of %d ms: %s', (p99, verdict) => {
  expect(halfLoadVerdict(p99)).toMatch(new RegExp(`\\(${verdict}\\)$`));
});
