import { describe, expect, test } from 'vitest';
import { sliding, tumbling } from '../contracts/windows.js';
import { kpiPartialIds, openWindowStarts, overlayLiveWindows } from './live-windows.js';
import { kpiWindowsFromPartials, type KpiPartial } from './sums.js';

const MIN = 60_000;
const T = Date.UTC(2026, 11, 3, 12, 0, 0);
const iso = (t: number) => new Date(t).toISOString();
const part = (start: number, size: number, partition: number, page_views: number, final = false): KpiPartial => ({ window_start: iso(start), window_end: iso(start + size), partition, page_views, unique_visitors: page_views, final });

describe('openWindowStarts: windows ending after now - lateness, started by now, in [from, to)', () => {
  test.each([
    ['tumbling 1m, 30 s into a minute, lateness 60 s', tumbling(MIN), T + 30_000, 60_000, { from: T - 60 * MIN, to: T + MIN }, [T - MIN, T]],
    ['tumbling 1m, on a minute, lateness 60 s (the window ending now - 60 s is left)', tumbling(MIN), T, 60_000, { from: T - 60 * MIN, to: T + MIN }, [T - MIN, T]],
    ['tumbling 1m, lateness 0', tumbling(MIN), T + 30_000, 0, { from: T - 60 * MIN, to: T + MIN }, [T]],
    ['sliding 5m every 1m, lateness 60 s', sliding(5 * MIN, MIN), T + 30_000, 60_000, { from: T - 60 * MIN, to: T + MIN }, [T - 5 * MIN, T - 4 * MIN, T - 3 * MIN, T - 2 * MIN, T - MIN, T]],
    ['the range cuts them: from', tumbling(MIN), T + 30_000, 60_000, { from: T - 30_000, to: T + MIN }, [T]],
    ['the range cuts them: to (exclusive)', tumbling(MIN), T + 30_000, 60_000, { from: T - 60 * MIN, to: T }, [T - MIN]],
    ['a range in the past: none', tumbling(MIN), T + 30_000, 60_000, { from: T - 60 * MIN, to: T - 30 * MIN }, []],
  ])('%s', (_name, spec, now, openMs, range, want) => {
    expect(openWindowStarts(spec, range, now, openMs)).toEqual(want);
  });
});

test('kpiPartialIds: the processor ids of every partition of every start', () => {
  expect(kpiPartialIds('tumbling_1m', [T, T + MIN], 'site', 'shop', 2)).toEqual([
    `tumbling_1m|${iso(T)}|site|shop|0`,
    `tumbling_1m|${iso(T)}|site|shop|1`,
    `tumbling_1m|${iso(T + MIN)}|site|shop|0`,
    `tumbling_1m|${iso(T + MIN)}|site|shop|1`,
  ]);
  expect(kpiPartialIds('tumbling_1m', [T], 'all', 'all', 8, 6)).toEqual([`tumbling_1m|${iso(T)}|all|all|6`, `tumbling_1m|${iso(T)}|all|all|7`]);
});

describe('overlayLiveWindows', () => {
  const searched = kpiWindowsFromPartials([part(T - 2 * MIN, MIN, 0, 10, true), part(T - MIN, MIN, 0, 5), part(T - MIN, MIN, 1, 5)]);
  test.each([
    ['a window read with as many partials replaces the searched one', [part(T - MIN, MIN, 0, 7), part(T - MIN, MIN, 1, 6)], 10, [10, 13], 1],
    ['a window read with more partials (one written since the refresh) replaces it', [part(T - MIN, MIN, 0, 7), part(T - MIN, MIN, 1, 6), part(T - MIN, MIN, 2, 1)], 10, [10, 14], 1],
    ['a window read with fewer partials (a partition not asked for) keeps the search', [part(T - MIN, MIN, 0, 7)], 10, [10, 10], 0],
    ['a window only the read found is added, in time order', [part(T, MIN, 3, 2)], 10, [10, 10, 2], 1],
    ['the newest `limit` are kept', [part(T, MIN, 3, 2)], 2, [10, 2], 1],
    ['nothing read: the search', [], 10, [10, 10], 0],
  ])('%s', (_name, live, limit, pageViews, realtime) => {
    const o = overlayLiveWindows(searched, live, limit);
    expect(o.windows.map((w) => w.page_views)).toEqual(pageViews);
    expect(o.realtime).toBe(realtime);
    expect(o.dropped).toBe(Math.max(0, searched.length + (live.some((d) => d.window_start === iso(T)) ? 1 : 0) - limit));
    expect(o.windows.map((w) => w.window_start)).toEqual([...o.windows.map((w) => w.window_start)].sort());
  });
});
