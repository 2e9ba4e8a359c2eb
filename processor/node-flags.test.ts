import { describe, expect, test } from 'vitest';
import { parseConfig } from '../contracts/config.js';
import { heapV8Flags } from './node-flags.js';

describe('heapV8Flags', () => {
  test('by default a processor process keeps its heap within twice what is alive', () => {
    expect(heapV8Flags(parseConfig({}))).toEqual(['--heap-growing-percent=100']);
  });
  test.each([
    ['20', ['--heap-growing-percent=20']],
    ['50', ['--heap-growing-percent=50']],
    ['0', []],
  ])('PROCESSOR_HEAP_GROWING_PERCENT=%s gives %j', (value, flags) => {
    expect(heapV8Flags(parseConfig({ PROCESSOR_HEAP_GROWING_PERCENT: value }))).toEqual(flags);
  });
  test('a negative or fractional percentage is refused with the setting named', () => {
    expect(() => parseConfig({ PROCESSOR_HEAP_GROWING_PERCENT: '-5' })).toThrow(/PROCESSOR_HEAP_GROWING_PERCENT/);
    expect(() => parseConfig({ PROCESSOR_HEAP_GROWING_PERCENT: '12.5' })).toThrow(/PROCESSOR_HEAP_GROWING_PERCENT/);
  });
});
