import { expect, test } from 'vitest';
import { hourPrefixes, mergeByReceived, replayMarginMs } from './replay.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';

const rec = (offset: number, received: number) => ({ event: {} as EnrichedEvent, offset, received });

test('reads every event type folder of every hour the range touches', () => {
  const p = hourPrefixes(Date.UTC(2026, 10, 22, 23, 30), Date.UTC(2026, 10, 23, 1, 0));
  expect(p).toHaveLength(8);
  expect(p).toContain('type=page_view/date=2026-11-22/hour=23/');
  expect(p).toContain('type=purchase/date=2026-11-23/hour=00/');
  expect(p.some((x) => x.includes('hour=01'))).toBe(false);
});

test('the margin covers a session gap, the largest window and the lateness', () => {
  expect(replayMarginMs({ sessionGapS: 1800, kpiTumblingS: 60, kpiSlidingSizeS: 300, kpiAllowedLatenessS: 60 })).toBe(2160_000);
});

test('topics merge by receive time, each topic staying in offset order', () => {
  const merged = mergeByReceived([[rec(0, 5), rec(1, 1)], [rec(0, 2), rec(1, 3)], []]);
  // Topic 0's offset 1 arrived "earlier" by its clock but stays after its offset 0.
  expect(merged.map((m) => `${m.t}:${m.rec.offset}`)).toEqual(['1:0', '1:1', '0:0', '0:1']);
  // Ties go to the first topic.
  expect(mergeByReceived([[rec(0, 1)], [rec(0, 1)]]).map((m) => m.t)).toEqual([0, 1]);
});
