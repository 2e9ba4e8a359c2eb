import { describe, expect, test } from 'vitest';
import { enriched } from '../../test/harness/traffic.js';
import { SIM_TOPICS, simEngineOptions } from '../../test/harness/engine-sim.js';
import type { OutDoc } from './engine-options.js';
import { PartitionEngine } from './engine.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const pv = SIM_TOPICS.indexOf('page_views');
const view = (n: number, sec: number) =>
  enriched({ event_id: `c${n}`, event_type: 'page_view', timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: `v${n % 3}`, session_id: `s${n % 3}`, url: `/p${n % 2}`, country: 'FR', site_id: 'shop' });

/** An engine with every topic restored empty and `events` page views (one a second) read from offset 0. */
function engineWith(catchUpRecords: number | undefined, events: number): PartitionEngine {
  const e = new PartitionEngine({ ...simEngineOptions(3), ...(catchUpRecords === undefined ? {} : { catchUpRecords }) });
  for (let t = 0; t < SIM_TOPICS.length; t++) e.restore(t, null, null);
  for (let n = 0; n < events; n++) e.add(view(n, n), pv, n);
  return e;
}

/** Sets the page-view log's end (the other topics empty) as an offset poll would. */
function logEnd(e: PartitionEngine, end: number): void {
  for (let t = 0; t < SIM_TOPICS.length; t++) e.setLogOffsets(t, 0, t === pv ? end : 0);
  e.pollDone();
}

const open = (docs: OutDoc[]) => docs.filter((d) => (d.index === 'sessions' ? !d.doc.closed : !d.doc.final));
const sealed = (docs: OutDoc[]) => docs.filter((d) => (d.index === 'sessions' ? d.doc.closed : d.doc.final));

describe('catching up (EngineOptions.catchUpRecords): only final documents while the log is far ahead', () => {
  // 10 events read (next offset 10); the log's end as the last poll saw it.
  test.each<[string, number | undefined, number | null, boolean]>([
    ['90 records behind, bound 5', 5, 100, true],
    ['5 behind, bound 5 (not more than it)', 5, 15, false],
    ['6 behind, bound 5', 5, 16, true],
    ['read to the end', 5, 10, false],
    ['90 behind, bound 0 (off)', 0, 100, false],
    ['90 behind, no bound given', undefined, 100, false],
    ['no offset poll yet', 5, null, false],
  ])('%s', (_, bound, end, catchingUp) => {
    // Two engines alike: a drain writes what changed, so the KPI timer's openKpiDocs is asked of the other.
    const [e, f] = [engineWith(bound, 10), engineWith(bound, 10)];
    if (end !== null) for (const x of [e, f]) logEnd(x, end);
    expect(e.catchingUp).toBe(catchingUp);
    const kinds = new Set(open(e.drain(true)).map((d) => d.index));
    expect([...kinds].sort()).toEqual(catchingUp ? [] : ['kpis', 'sessions', 'urlStats']);
    expect(f.openKpiDocs().length > 0).toBe(!catchingUp);
  });

  test('back within the bound, the next drain writes every open structure that changed meanwhile, with what was read while behind', () => {
    const e = engineWith(5, 10);
    logEnd(e, 1000);
    expect(open(e.drain(true))).toEqual([]);
    for (let n = 10; n < 20; n++) e.add(view(n, n), pv, n);
    expect(open(e.drain(true))).toEqual([]);
    logEnd(e, 20);
    const docs = open(e.drain(true));
    const all = docs.find((d) => d.id === `tumbling_1m|${new Date(T0).toISOString()}|all|all|3`)?.doc;
    expect(all).toMatchObject({ page_views: 20, final: false });
    expect(docs.filter((d) => d.index === 'sessions').map((d) => d.id).sort()).toEqual(['s0', 's1', 's2']);
  });

  test('the final documents are the same, written as the watermark passes, whether the engine was catching up or not', () => {
    const run = (bound: number) => {
      const e = engineWith(bound, 0);
      const finals = new Map<string, unknown>();
      // 6 minutes of views, a drain every 20 s of event time; the log always 1,000 records ahead of the bounded one.
      for (let n = 0; n < 360; n++) {
        e.add(view(n, n), pv, n);
        if (n % 20 === 19) {
          logEnd(e, n + 1000);
          for (const d of sealed(e.drain(true))) finals.set(`${d.index}/${d.id}`, d.doc);
        }
      }
      return finals;
    };
    const behind = run(5);
    const live = run(0);
    expect(behind.size).toBeGreaterThan(10);
    expect(behind).toEqual(live);
  });
});
