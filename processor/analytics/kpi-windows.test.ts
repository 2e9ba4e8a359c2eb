import { describe, expect, test } from 'vitest';
import { sliding, tumbling } from '../../contracts/windows.js';
import { enriched } from '../../test/harness/traffic.js';
import type { DrainContext, OutDoc } from './engine-options.js';
import { Handles } from './handles.js';
import { KpiWindows } from './kpi-windows.js';

const min = 60_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

describe('KpiWindows', () => {
  test('a handle goes with the last window holding it; given to another visitor, it counts for that one only', () => {
    const visitors = new Handles();
    const sessions = new Handles();
    const kpis = new KpiWindows(0, 1, [tumbling(min), sliding(5 * min, min)], visitors, sessions);
    let offset = 0;
    const add = (visitor: string, at: number) => {
      const e = enriched({ event_id: `e${offset}`, event_type: 'page_view', timestamp: new Date(at).toISOString(), visitor_id: visitor, session_id: `s-${visitor}`, url: '/a' });
      kpis.add(e, 0, offset++, at, visitors.of(visitor), sessions.of(`s-${visitor}`));
    };
    const drain = (watermark: number): OutDoc[] => {
      const ctx: DrainContext = { watermark, emitOpen: false, hold: [Infinity], out: [] };
      kpis.drain(ctx, -Infinity);
      return ctx.out;
    };
    add('a', T0 + 1000);
    add('a', T0 + 2 * min);
    // The tumbling window of T0 is sealed, the sliding ones holding T0 + 2 min are open: 'a' is still held.
    drain(T0 + 3 * min);
    expect(visitors.size).toBe(1);
    // The last window holding T0 + 2 min ends at T0 + 7 min.
    drain(T0 + 7 * min);
    expect(visitors.size).toBe(0);
    expect(sessions.size).toBe(0);
    add('b', T0 + 8 * min);
    add('b', T0 + 8 * min + 1);
    expect(visitors.of('b')).toBe(0);
    const docs = drain(Infinity).filter((d) => d.index === 'kpis' && d.doc.dimension === 'all' && d.doc.window_start === new Date(T0 + 8 * min).toISOString());
    expect(docs.map((d) => d.doc)).toEqual([
      expect.objectContaining({ window_kind: 'tumbling_1m', unique_visitors: 1, sessions: 1, page_views: 2 }),
      expect.objectContaining({ window_kind: 'sliding_5m_1m', unique_visitors: 1, sessions: 1, page_views: 2 }),
    ]);
    expect(visitors.size).toBe(0);
  });
});
