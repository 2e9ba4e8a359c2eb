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

  test('freed only by the release of its last holder, then given to another id', () => {
    const h = new Handles();
    const a = h.of('a');
    h.hold(a, 100);
    h.hold(a, 300);
    h.hold(a, 200);
    h.release(a, 100);
    h.release(a, 200);
    expect(h.of('a')).toBe(a);
    h.release(a, 300);
    expect(h.size).toBe(0);
    expect(() => h.text(a)).toThrow(/free/);
    // A second release of the same holder frees nothing twice.
    h.release(a, 300);
    const b = h.of('b');
    expect(b).toBe(a);
    const c = h.of('c');
    expect(c).not.toBe(b);
    expect(h.text(b)).toBe('b');
  });
});
