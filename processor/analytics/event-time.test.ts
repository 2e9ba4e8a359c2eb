import { expect, test } from 'vitest';
import { eventTimeMs, receivedTimeMs } from './event-time.js';

test('eventTimeMs gives Date.parse\'s time for every string, repeated, alternating or invalid', () => {
  const a = '2026-12-01T17:33:20.278Z';
  const b = '2026-12-01T17:33:20.279Z';
  const seq = [a, a, b, a, 'not a time', 'not a time', '+010000-01-01T00:00:00.000Z', b, '', a, `${a.slice(0, 10)}${a.slice(10)}`];
  for (const s of seq) {
    if (Number.isNaN(Date.parse(s))) expect(eventTimeMs(s)).toBeNaN();
    else expect(eventTimeMs(s)).toBe(Date.parse(s));
  }
  // Two memos, interleaved as the readability check calls them: neither gives the other's time.
  for (let i = 0; i < seq.length; i++) {
    const [e, r] = [seq[i], seq[seq.length - 1 - i]];
    expect([eventTimeMs(e), receivedTimeMs(r)]).toEqual([Date.parse(e), Date.parse(r)]);
  }
});
