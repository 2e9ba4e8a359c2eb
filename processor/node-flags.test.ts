import { describe, expect, test } from 'vitest';
import { BACKGROUND_V8_FLAGS, backgroundV8Flags } from './node-flags.js';

describe('backgroundV8Flags', () => {
  test('a process running the archive without analytics keeps its heap closer to what is alive', () => {
    expect(BACKGROUND_V8_FLAGS).toEqual(['--heap-growing-percent=50']);
    expect(backgroundV8Flags(['archive'])).toEqual(['--heap-growing-percent=50']);
    expect(backgroundV8Flags(['index', 'archive'])).toEqual(['--heap-growing-percent=50']);
  });
  test('a process running analytics, alone or with other roles, the index alone, or no role, keeps V8\'s own growth', () => {
    expect(backgroundV8Flags(['analytics'])).toEqual([]);
    expect(backgroundV8Flags(['index'])).toEqual([]);
    expect(backgroundV8Flags(['analytics', 'index', 'archive'])).toEqual([]);
    expect(backgroundV8Flags([])).toEqual([]);
  });
});
