import { describe, expect, it } from 'vitest';
import { BurstDetector } from './burst.js';

/** Feeds (key, time) events in order and returns the hits. */
function run(d: BurstDetector, events: [string, number][]) {
  return events.map(([k, t]) => d.add(k, t)).filter((h) => h !== null);
}

/** n events of key spaced `gapMs` apart from t0. */
const series = (key: string, t0: number, n: number, gapMs: number): [string, number][] =>
  Array.from({ length: n }, (_, i) => [key, t0 + i * gapMs]);

describe('BurstDetector', () => {
  const spans = [
    { spanMs: 10_000, floor: 20 },
    { spanMs: 60_000, floor: 60 },
  ];

  it.each([
    // [case, events, expected hits: [key, spanMs, count, at]]
    ['19 clicks in 10 s stay under the floor', series('a', 0, 19, 500), []],
    ['20 clicks in 10 s reach it, at the 20th', series('a', 0, 25, 400), [['a', 10_000, 20, 19 * 400]]],
    ['one click a second for 2 min: the 60 s span at its 60th click', series('a', 0, 120, 1000), [['a', 60_000, 60, 59_000]]],
    ['slow clicks never burst', series('a', 0, 300, 5000), []],
  ] as [string, [string, number][], [string, number, number, number][]][])('%s', (_name, events, expected) => {
    const hits = run(new BurstDetector({ spans, k: 10, cooldownMs: 300_000 }), events);
    expect(hits.map((h) => [h.key, h.spanMs, h.count, h.at])).toEqual(expected);
  });

  it('raises once per cooldown per key, again after it', () => {
    const d = new BurstDetector({ spans, cooldownMs: 60_000 });
    // 4 clicks/s for 100 s among 20 keys clicking every 5 s (the population is not the burster).
    const background = Array.from({ length: 20 }, (_, k) => series(`bg${k}`, k, 20, 5000)).flat();
    const hits = run(d, [...series('a', 0, 400, 250), ...background].sort((x, y) => x[1] - y[1]));
    expect(hits.map((h) => h.at)).toEqual([19 * 250, 19 * 250 + 60_000]);
  });

  it('raises nothing during its warm-up (event time since its first event), as usual after it', () => {
    const d = new BurstDetector({ spans, warmupMs: 30_000 });
    const hits = run(d, [...series('early', 0, 25, 400), ...series('late', 40_000, 25, 400)].sort((x, y) => x[1] - y[1]));
    expect(hits.map((h) => [h.key, h.at])).toEqual([['late', 40_000 + 19 * 400]]);
  });

  it("a key new with its burst is judged by floor and population, not by its own first spans (its usual is unknown for 3 spans)", () => {
    const d = new BurstDetector({ spans: [{ spanMs: 10_000, floor: 15 }], selfFactor: 5 });
    // 4 clicks/s from t = 8 s: its first span [0, 10 s) holds 8 of them, which once learned as
    // its usual would put its own threshold at 5 x 8 = 40.
    const hits = run(d, series('net', 8000, 80, 250));
    expect(hits.map((h) => [h.count, h.at, h.usual])).toEqual([[15, 8000 + 14 * 250, 0]]);
  });

  it("uses a key's usual count once known: a busy key bursts only at selfFactor times it", () => {
    const d = new BurstDetector({ spans: [{ spanMs: 10_000, floor: 15 }], selfFactor: 5, cooldownMs: 1_000_000 });
    // 1 click/s for 2 minutes (usual 10 per span), then 4 clicks/s: 40 in a span never reaches 50.
    const hits = run(d, [...series('nat', 0, 120, 1000), ...series('nat', 120_000, 100, 250)]);
    expect(hits).toEqual([]);
  });

  it('keeps keys apart', () => {
    const d = new BurstDetector({ spans });
    const events = [...series('a', 0, 30, 200), ...series('b', 0, 10, 200)].sort((x, y) => x[1] - y[1]);
    expect(run(d, events).map((h) => h.key)).toEqual(['a']);
  });

  it('raises the threshold above the floor when the whole population is busy', () => {
    // 50 keys clicking ~30 times per 10 s for 10 minutes: the population median is ~30, so the
    // floor of 20 is not enough to be a burst; a key at 150 per 10 s still is.
    const d = new BurstDetector({ spans: [{ spanMs: 10_000, floor: 20 }], k: 5, cooldownMs: 1_000_000 });
    const events: [string, number][] = [];
    for (let t = 0; t < 600_000; t += 333) for (let k = 0; k < 50; k++) events.push([`k${k}`, t + k]);
    const early = run(d, events);
    // Before the population is known the floor alone decides: every key fires once.
    expect(new Set(early.map((h) => h.key)).size).toBe(50);
    const d2 = new BurstDetector({ spans: [{ spanMs: 10_000, floor: 20 }], k: 5, cooldownMs: 1 });
    run(d2, events);
    const later: [string, number][] = [];
    for (let t = 600_000; t < 620_000; t += 333) for (let k = 0; k < 50; k++) later.push([`k${k}`, t + k]);
    for (let t = 600_000; t < 620_000; t += 60) later.push(['hot', t]);
    later.sort((x, y) => x[1] - y[1]);
    const hits = run(d2, later);
    expect(new Set(hits.map((h) => h.key))).toEqual(new Set(['hot']));
    expect(hits[0].populationMedian).toBeGreaterThanOrEqual(28);
    expect(hits[0].threshold).toBeGreaterThan(30);
  });

  it('holds at most maxKeys keys whatever the number of keys, and still finds a burst among them', () => {
    const d = new BurstDetector({ spans, maxKeys: 1000 });
    const events: [string, number][] = [];
    for (let i = 0; i < 100_000; i++) events.push([`visitor-${i}`, i * 2]);
    for (let i = 0; i < 40; i++) events.push(['hot', 150_000 + i * 200]);
    events.sort((x, y) => x[1] - y[1]);
    const hits = run(d, events);
    expect(d.size).toBeLessThanOrEqual(1000);
    expect(hits.map((h) => h.key)).toEqual(['hot']);
    // 100,000 keys: a budget for a starved CI machine, not a timing.
  }, 60_000);

  it('is deterministic: the same events give the same hits', () => {
    const events: [string, number][] = [];
    let x = 7;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      events.push([`k${x % 40}`, i * 20]);
    }
    const a = run(new BurstDetector({ spans }), events);
    const b = run(new BurstDetector({ spans }), events);
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('rejects a span without a floor', () => {
    expect(() => new BurstDetector({ spans: [{ spanMs: 10_000, floor: 0 }] })).toThrow(/bad burst span/);
  });
});
