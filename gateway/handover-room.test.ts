import { expect, test } from 'vitest';
import { handoverRoom, ROOM_FULL_BUSY, ROOM_IDLE_BUSY, ROOM_MAX } from './handover-room.js';

const base = { overloaded: false, loopBusy: 0.1, oldestAgeMs: 0, maxDelayMs: 1000 };

test('a mostly idle process takes the most; the room narrows with the loop busy share, to none near saturation', () => {
  expect(handoverRoom(base)).toBe(ROOM_MAX);
  expect(handoverRoom({ ...base, loopBusy: ROOM_IDLE_BUSY })).toBe(ROOM_MAX);
  const mid = handoverRoom({ ...base, loopBusy: (ROOM_IDLE_BUSY + ROOM_FULL_BUSY) / 2 });
  expect(mid).toBe(Math.floor(ROOM_MAX / 4));
  // Near saturation, a few connections per report.
  expect(handoverRoom({ ...base, loopBusy: 0.9 })).toBeLessThan(ROOM_MAX / 50);
  expect(handoverRoom({ ...base, loopBusy: 0.9 })).toBeGreaterThan(0);
  expect(handoverRoom({ ...base, loopBusy: ROOM_FULL_BUSY })).toBe(0);
  expect(handoverRoom({ ...base, loopBusy: 1 })).toBe(0);
});

test('no room while the process sheds, or while its oldest admitted request has waited half the bound', () => {
  expect(handoverRoom({ ...base, overloaded: true })).toBe(0);
  expect(handoverRoom({ ...base, oldestAgeMs: 501 })).toBe(0);
  expect(handoverRoom({ ...base, oldestAgeMs: 499 })).toBe(ROOM_MAX);
  // No delay bound: the age does not count.
  expect(handoverRoom({ ...base, oldestAgeMs: 5000, maxDelayMs: 0 })).toBe(ROOM_MAX);
});
