import { describe, expect, it } from 'vitest';
import { LanedClickBursts } from './burst-lanes.js';
import { ClickBurstDetectors, type BurstClick, type ClickBurst } from './burst.js';
import { anomalyOptionsFromConfig } from './options.js';
import { parseConfig } from '../../contracts/config.js';
import { burstAlert } from '../alerts/alert-docs.js';
import { scenarioVisits } from '../../scripts/demo-scenarios.js';
import { makeVisit, rng } from '../../scripts/traffic-generator.js';
import { seededRandom } from './stats.js';

const LANES = 3;
const IDLE_MS = 5_000;
const o = anomalyOptionsFromConfig(parseConfig({}));

/** A visitor's partition, as the gateway keys events by visitor. */
function laneOf(visitor: string): number {
  let h = 7;
  for (let i = 0; i < visitor.length; i++) h = (h * 31 + visitor.charCodeAt(i)) >>> 0;
  return h % LANES;
}

/**
 * Fifteen minutes of demo shoppers, a visitor burst at minute 9 and a network burst at minute 11
 * (30 visitors of one network, so spread over the partitions): each partition's clicks in the
 * order the gateway appended them (by event time, as produced).
 */
function partitions(): BurstClick[][] {
  const r = rng(5);
  const t0 = Date.UTC(2026, 0, 5, 10);
  const visits = Array.from({ length: 3600 }, (_, i) => makeVisit(r, t0 + i * 250));
  visits.push(...scenarioVisits('click-burst', t0 + 540_000, 0), ...scenarioVisits('network-burst', t0 + 660_000, 0));
  const clicks = visits.flatMap((v) => v.events.filter((e) => e.type === 'click').map((e) => ({ t: e.ts, visitor: e.visitor_id, network: v.ip.replace(/\.\d+$/, '.0'), site: 'demo' })));
  // At minute 13, 16 clicks in 4 s from 8 visitors of one network, spread over the partitions:
  // above the 10 s floor (15) but under the networks' population threshold (median + k x MAD).
  for (let k = 0; k < 8; k++) for (let i = 0; i < 2; i++) clicks.push({ t: t0 + 780_000 + k * 500 + i * 200, visitor: `v-spread-${k}`, network: '198.51.100.0', site: 'demo' });
  clicks.sort((a, b) => a.t - b.t);
  const lanes: BurstClick[][] = Array.from({ length: LANES }, () => []);
  for (const c of clicks) lanes[laneOf(c.visitor)].push(c);
  return lanes;
}

interface Read {
  lane: number;
  c: BurstClick;
}

/** All partitions read evenly: the clicks in event-time order. */
function even(lanes: BurstClick[][]): Read[] {
  return lanes.flatMap((cs, lane) => cs.map((c) => ({ lane, c }))).sort((a, b) => a.c.t - b.c.t || a.lane - b.lane);
}

/**
 * The partitions read unevenly: fetches of 1-100 clicks (up to 20 s of traffic) from a partition picked at random, the
 * `behind` partition kept 1 to 5 minutes of event time behind the others (the lag drawn again at
 * every fetch), the others' order of reading shuffled. Returns the reads and the largest lag.
 */
function uneven(lanes: BurstClick[][], seed: number, behind: number): { reads: Read[]; maxLag: number } {
  const r = seededRandom(seed);
  const next = lanes.map(() => 0);
  const reads: Read[] = [];
  let ahead = -Infinity;
  let maxLag = 0;
  while (next.some((n, l) => n < lanes[l].length)) {
    const others = next.every((n, l) => l === behind || n >= lanes[l].length);
    const lane = !others && r() < 0.5 ? behind : Math.floor(r() * LANES);
    const lag = 60_000 + r() * 240_000;
    const size = 1 + Math.floor(r() * 100);
    for (let i = 0; next[lane] < lanes[lane].length && (lane === behind || i < size); i++) {
      const c = lanes[lane][next[lane]];
      if (lane === behind && c.t > ahead - lag && !others) break;
      reads.push({ lane, c });
      next[lane]++;
      if (lane !== behind) ahead = Math.max(ahead, c.t);
      else if (!others) maxLag = Math.max(maxLag, ahead - c.t);
    }
  }
  return { reads, maxLag };
}

/** What the alerts index receives: each alert's id, key and window, in the order raised. */
const alerts = (bursts: ClickBurst[]) => bursts.map(burstAlert).map((a) => [a.alert_id, a.kind, a.key, a.window_start, a.window_end]);

/** Feeds the clicks as the alerts sink does (wall clock: one ms per click read, so no partition idles), then releases everything. */
function laned(reads: Read[]) {
  const d = new LanedClickBursts(o.visitorBursts, o.networkBursts, IDLE_MS);
  for (let l = 0; l < LANES; l++) d.open(l, 0);
  const out: ClickBurst[] = [];
  reads.forEach(({ lane, c }, i) => out.push(...d.add(c, lane, i)));
  out.push(...d.release(reads.length + IDLE_MS));
  expect(d.pending).toBe(0);
  return alerts(out);
}

describe('LanedClickBursts', () => {
  const lanes = partitions();
  const reference = laned(even(lanes));

  it('raises the injected bursts when partitions are read evenly', () => {
    expect(reference.map((a) => [a[1], a[2]])).toEqual([
      ['click_burst', 'v-demo-burst-0-1767607740000'],
      ['network_burst', '203.0.113.0'],
    ]);
    expect(lanes.map((cs) => cs.filter((c) => c.network === '198.51.100.0').length).every((n) => n > 0)).toBe(true);
  });

  it.each([
    [1, 0],
    [2, 1],
    [3, 2],
    [4, 1],
  ])('raises the same alerts (ids, keys, windows) when partition %#+1 is read 1-5 minutes behind the others (seed %i, partition %i behind)', (seed, behind) => {
    const { reads, maxLag } = uneven(lanes, seed, behind);
    expect(reads).toHaveLength(lanes.flat().length);
    expect(maxLag).toBeGreaterThan(60_000);
    expect(maxLag).toBeLessThan(330_000);
    expect(laned(reads)).toEqual(reference);
  });

  it('without the lanes, the same uneven reading raises other alerts (what the lanes fix)', () => {
    // Read in that order, a network's clicks from the partition behind miss its spans and the
    // networks' population counts come out lower (median 4 instead of 10): the spread clicks of
    // 198.51.100.0 pass the lowered threshold.
    const d = new ClickBurstDetectors(o.visitorBursts, o.networkBursts);
    const raw = alerts(uneven(lanes, 1, 0).reads.flatMap(({ c }) => d.add(c)));
    expect(raw.map((a) => a[2]).sort()).toEqual(['198.51.100.0', '203.0.113.0', 'v-demo-burst-0-1767607740000']);
    expect(raw).not.toEqual(reference);
  });

  it('a partition that delivers nothing for the idle time no longer holds the others back', () => {
    const d = new LanedClickBursts(o.visitorBursts, o.networkBursts, IDLE_MS);
    d.open(0, 0);
    d.open(1, 0);
    const burst = Array.from({ length: 20 }, (_, i) => ({ t: 1_000_000 + i * 100, visitor: 'hammer', network: '10.0.0.0', site: 's' }));
    const early = burst.flatMap((c, i) => d.add(c, 0, i, String(i)));
    // Partition 1 has not delivered yet: the burst is held, and the commit must not pass it.
    expect(early).toEqual([]);
    expect(d.pending).toBe(20);
    expect(d.firstHeld(0)).toBe('0');
    expect(d.release(IDLE_MS - 1)).toEqual([]);
    const late = d.release(IDLE_MS);
    expect(late.map((b) => [b.scope, b.entity, b.count])).toEqual([['visitor', 'hammer', 8]]);
    expect(d.pending).toBe(0);
    expect(d.firstHeld(0)).toBeUndefined();
  });

  it('a partition dropped (revoked) releases what waited for it', () => {
    const d = new LanedClickBursts(o.visitorBursts, o.networkBursts, IDLE_MS);
    d.open(0, 0);
    d.open(1, 0);
    for (let i = 0; i < 20; i++) d.add({ t: i * 100, visitor: 'hammer', network: null, site: 's' }, 0, 1);
    expect(d.drop(1, 2).map((b) => b.entity)).toEqual(['hammer']);
  });
});
