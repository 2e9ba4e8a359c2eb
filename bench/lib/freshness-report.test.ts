import { describe, expect, it } from 'vitest';
import { probeHops, type Hops } from './freshness-hops.js';
import { freshnessReport } from './freshness-report.js';
import type { Freshness, SideSegment } from './processor-freshness.js';

const hops = (): Hops => ({ gateway: [], fetch: [], lock: [], emit: [], queue: [], bulk: [], refresh: [], poll: [], read: [] });
const side = (p95: number): SideSegment => ({ p50: p95 / 2, p95, p99: p95, max: p95, n: 100, missing: 0, lag: 0, hops: hops(), flushesPerS: 2, flushMeanMs: 100, get: { p50: p95 / 4, p95: p95 / 2, n: 100, missing: 0 } });
const fresh = (rates: number[], p95s: number[][]): Freshness => ({
  sides: p95s.length > 1 ? ['A: this checkout', 'B: with {}'] : ['A: this checkout'],
  segments: rates.map((rate, j) => ({ rate, load: '1 / 1%', non2xx: 0, pollCycle: [60], pollRoundTrip: [10], sides: p95s.map((s) => side(s[j])) })),
  all: p95s.map((s) => s),
  allGet: p95s.map((s) => s.map((x) => x / 2)),
  roles: [],
});
const opts = { rate: 10_000, probesPerS: 5, pollMs: 50, searches: 1, durationS: 20 };

describe('freshnessReport', () => {
  it('leaves segments where the gateway accepted under 90 % of the rate out of the verdict, and says so', () => {
    const text = freshnessReport(fresh([9_950, 3_000], [[1_500, 900]]), opts);
    expect(text).toContain('LOAD NOT MET: the gateway accepted 3,000 events/s of the 10,000 asked in 1 of 2 segments');
    expect(text).toContain('NOT met (30%)');
    // The segment at the load decides: 1,500 ms to a search, 750 ms to the dashboard's read (the short one's do not count).
    expect(text).toMatch(/freshness to the live dashboard \(real-time read by id\): .* \(of the 1 at the load: 750 ms\).*target < 2,000 ms at 10,000 events\/s \(met\)/);
    expect(text).toMatch(/freshness to a search \(Kibana; after the KPI index's refresh\): .* \(of the 1 at the load: 1500 ms\).*\(met\)/);
  });

  it('judges the dashboard\'s read and a search each against the target', () => {
    const text = freshnessReport(fresh([10_000, 10_000, 10_000], [[3_000, 3_600, 3_200]]), opts);
    expect(text).toMatch(/live dashboard \(real-time read by id\): .*median of segments 1600 ms.*\(met\)/);
    expect(text).toMatch(/to a search \(Kibana; after the KPI index's refresh\): .*median of segments 3200 ms.*\(NOT met\)/);
  });

  it('judges nothing when no segment had the load', () => {
    const text = freshnessReport(fresh([2_000, 1_000], [[500, 600]]), opts);
    expect(text).toContain('LOAD NOT MET: the gateway accepted 1,000-2,000 events/s');
    expect(text).toContain('NOT JUDGED');
    expect(text).toContain('(none at the load)');
    expect(text).not.toMatch(/\(met\)/);
  });

  it('compares the two sides segment by segment', () => {
    const text = freshnessReport(fresh([10_000, 10_000], [[2_000, 3_000], [1_000, 1_500]]), opts);
    expect(text).not.toContain('LOAD NOT MET');
    expect(text).toContain('searches: p95 per segment 2000 ms / 1000 ms, 3000 ms / 1500 ms (A / B); median of segments 2500 ms / 1250 ms = B 0.50x A');
    expect(text).toContain('the dashboard\'s read: p95 per segment 1000 ms / 500 ms, 1500 ms / 750 ms (A / B)');
  });

  it('says how raw indexing caught up after the traffic, or that it had not at the bound', () => {
    const done = freshnessReport({ ...fresh([10_000], [[1_500]]), indexCatchUp: { fromRecords: 612_345, seconds: 41.4, left: 0 } }, opts);
    expect(done).toContain('raw indexing after the traffic: 612,345 records behind at the first reading, caught up 41 s after the traffic\'s end');
    const not = freshnessReport({ ...fresh([10_000], [[1_500]]), indexCatchUp: { fromRecords: 612_345, seconds: NaN, left: 20_000 } }, opts);
    expect(not).toContain('still 20,000 behind at the bound');
    expect(freshnessReport(fresh([10_000], [[1_500]]), opts)).not.toContain('raw indexing after the traffic');
  });
});

describe('probeHops', () => {
  it('bounds the poll by the last search that missed the document, or its bulk ack if later', () => {
    const traces = new Map([
      ['p1', { fetched: 10, consumed: 11, emitted: 20, sent: 20, acked: 100 }],
      ['p2', { fetched: 10, consumed: 11, emitted: 20, sent: 20, acked: 100 }],
    ]);
    const seen = new Map([
      ['p1', { at: 300, since: 150 }],
      ['p2', { at: 300, since: 50 }],
    ]);
    const h = probeHops(['p1', 'p2'], new Map([['p1', 0], ['p2', 0]]), new Map([['p1', 5], ['p2', 5]]), traces, seen);
    expect(h.refresh).toEqual([200, 200]);
    expect(h.poll).toEqual([150, 200]);
    expect(h.bulk).toEqual([80, 80]);
    expect(h.read).toEqual([]);
    expect(probeHops(['p1'], new Map([['p1', 0]]), new Map([['p1', 5]]), traces, seen, new Map([['p1', { at: 130, since: 120 }]])).read).toEqual([30]);
  });
});
