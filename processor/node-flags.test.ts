import { describe, expect, test } from 'vitest';
import { parseConfig } from '../contracts/config.js';
import { heapV8Flags } from './node-flags.js';

describe('heapV8Flags', () => {
  test.each([
    [['analytics'], ['--heap-growing-percent=100']],
    [['analytics', 'index', 'archive'], ['--heap-growing-percent=100']],
    [['archive'], ['--heap-growing-percent=50']],
    [['index', 'archive'], ['--heap-growing-percent=50']],
    [['index'], []],
  ])('auto (the default): roles %j set %j', (roles, flags) => {
    expect(heapV8Flags(parseConfig({}), roles)).toEqual(flags);
  });
  test.each([
    ['20', ['--heap-growing-percent=20']],
    [' 150 ', ['--heap-growing-percent=150']],
    ['0', []],
  ])('PROCESSOR_HEAP_GROWING_PERCENT=%j sets %j for any roles', (value, flags) => {
    for (const roles of [['analytics'], ['archive'], ['index']]) expect(heapV8Flags(parseConfig({ PROCESSOR_HEAP_GROWING_PERCENT: value }), roles)).toEqual(flags);
  });
  test.each(['-5', '12.5', 'half', ''])('PROCESSOR_HEAP_GROWING_PERCENT=%j is refused with the setting named', (value) => {
    expect(() => heapV8Flags(parseConfig({ PROCESSOR_HEAP_GROWING_PERCENT: value }), ['analytics'])).toThrow(/PROCESSOR_HEAP_GROWING_PERCENT must be auto or a non-negative integer/);
  });
});
