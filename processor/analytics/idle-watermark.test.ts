/**
 * A quiet partition's watermark moved by the clock (WATERMARK_IDLE_S): the last window becomes
 * final and sessions close, only when every topic is read up to its log end with no event since
 * the poll, and never backwards.
 */
import { describe, expect, test } from 'vitest';
import { PartitionEngine } from './engine.js';
import { tumbling } from '../../contracts/windows.js';
import { enriched } from '../../test/harness/traffic.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const TOPICS = ['page_views', 'clicks'];

function engine() {
  return new PartitionEngine({ partition: 0, topics: TOPICS, windows: [tumbling(60_000)], urlWindowMs: 60_000, latenessMs: 10_000, sessionGapMs: 120_000, excludeBots: true });
}

const view = (i: number, ms: number) => enriched({ event_id: `e${i}`, event_type: 'page_view', timestamp: new Date(ms).toISOString(), visitor_id: 'v1', session_id: 's1', url: '/a', country: 'FR' });

describe('idle watermark', () => {
  test('quiet only when every topic is read to its end at the last poll and nothing arrived since', () => {
    const e = engine();
    e.add(view(0, T0 + 5_000), 0, 0);
    expect(e.quiet).toBe(false);
    e.setLogOffsets(0, 0, 1);
    e.setLogOffsets(1, 0, 3); // clicks not read yet
    e.pollDone();
    expect(e.quiet).toBe(false);
    e.setLogOffsets(1, 0, 0);
    e.pollDone();
    expect(e.quiet).toBe(true);
    e.add(view(1, T0 + 6_000), 0, 1);
    expect(e.quiet).toBe(false);
  });

  test('moving it seals the last window (final) and closes the session; never backwards', () => {
    const e = engine();
    e.add(view(0, T0 + 5_000), 0, 0);
    e.add(view(1, T0 + 50_000), 0, 1);
    e.setLogOffsets(0, 0, 2);
    e.setLogOffsets(1, 0, 0);
    e.pollDone();
    const open = e.drain(true);
    expect(open.filter((d) => d.index === 'kpis').every((d) => d.doc.final === false)).toBe(true);
    expect(open.find((d) => d.index === 'sessions')?.doc.closed).toBe(false);
    const before = e.watermark;
    e.advanceWatermark(before - 1);
    expect(e.watermark).toBe(before);
    // Past the window's end and the session gap.
    e.advanceWatermark(T0 + 50_000 + 120_001);
    const docs = e.drain(false);
    const kpis = docs.filter((d) => d.index === 'kpis');
    expect(kpis.length).toBeGreaterThan(0);
    expect(kpis.every((d) => d.doc.final === true && d.doc.window_start === new Date(T0).toISOString())).toBe(true);
    expect(kpis.find((d) => d.doc.dimension === 'all')?.doc.page_views).toBe(2);
    expect(docs.find((d) => d.index === 'sessions')?.doc.closed).toBe(true);
    expect(docs.filter((d) => d.index === 'urlStats').every((d) => d.doc.final === true)).toBe(true);
    expect(e.openWindows).toBe(0);
    expect(e.openSessions).toBe(0);
    // Everything is written: the commit point is past the last event.
    expect(e.commitPoint(0)?.offset).toBe(2);
    // An event behind the moved watermark is counted late, not lost.
    expect(e.add(view(2, T0 + 55_000), 0, 2)).toBe('late');
  });
});
