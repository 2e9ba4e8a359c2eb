import { describe, expect, test } from 'vitest';
import { Handles } from './handles.js';

describe('Handles', () => {
  test('one handle per id while held, the first copy of its text kept', () => {
    const h = new Handles();
    const first = ['visitor', '-1'].join('');
    const a = h.of(first);
    expect(h.of(['visitor', '-1'].join(''))).toBe(a);
    expect(h.text(a)).toBe(first);
    expect(h.of('visitor-2')).not.toBe(a);
    expect(h.size).toBe(2);
  });

  test('free once every set holding it let go, then given to another id', () => {
    const h = new Handles();
    const a = h.of('a');
    h.ref(a);
    h.ref(a);
    h.unref(a);
    expect(h.of('a')).toBe(a);
    expect(h.size).toBe(1);
    h.unref(a);
    expect(h.size).toBe(0);
    expect(() => h.text(a)).toThrow(/free/);
    expect(() => h.unref(a)).toThrow(/more often than held/);
    const b = h.of('b');
    expect(b).toBe(a);
    h.ref(b);
    const c = h.of('c');
    expect(c).not.toBe(b);
    expect(h.text(b)).toBe('b');
  });
});
