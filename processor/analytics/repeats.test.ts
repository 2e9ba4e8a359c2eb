/**
 * Records on Kafka twice (a send Kafka stored although the gateway answered 503, retried by the
 * client with the same event id): KPI windows, sessions and URL stats count the first offset
 * only, with and without crashes, exactly as if the repeats were not there.
 */
import { describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { TOPIC_BY_TYPE } from '../../contracts/topics.js';
import { PartitionEngine } from './engine.js';
import { generateTraffic, rng } from '../../test/harness/traffic.js';
import { referenceDocs } from '../../test/harness/reference.js';
import { logsOf, SIM_TOPICS, simEngineOptions, simulate } from '../../test/harness/engine-sim.js';

const min = 60_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const topics = SIM_TOPICS;
const options = simEngineOptions(1);

/** The same arrivals with a share of them on Kafka a second time, a few records later. */
function withRepeats(events: EnrichedEvent[], seed: number, share: number): { events: EnrichedEvent[]; repeats: number } {
  const r = rng(seed);
  const out: EnrichedEvent[] = [];
  const pending: { at: number; e: EnrichedEvent }[] = [];
  let repeats = 0;
  events.forEach((e, i) => {
    out.push(e);
    if (r() < share) {
      pending.push({ at: i + 1 + Math.floor(r() * 6), e: { ...e } });
      repeats++;
    }
    for (let k = pending.length - 1; k >= 0; k--) if (pending[k].at <= i) out.push(pending.splice(k, 1)[0].e);
  });
  for (const p of pending) out.push(p.e);
  return { events: out, repeats };
}

describe('repeated records', () => {
  test('a repeat in the open session is dropped and counted; the first one counts', () => {
    const e = new PartitionEngine(options);
    const [first] = generateTraffic({ seed: 5, visitors: 1, startMs: T0, spanMs: min, botShare: 0 }).map((g) => g.event);
    const t = topics.indexOf(TOPIC_BY_TYPE[first.event_type]);
    expect(e.add(first, t, 0)).toBe('ok');
    expect(e.add({ ...first }, t, 1)).toBe('repeat');
    // The same event id on another site is another event.
    expect(e.add({ ...first, site_id: `${first.site_id}-other` }, t, 2)).toBe('ok');
    expect(e.takeRepeats()).toBe(1);
    expect(e.takeRepeats()).toBe(0);
  });

  test.each([[61], [62], [63]])('with and without crashes, the documents equal those of the input without repeats (seed %i)', (seed) => {
    const events = generateTraffic({ seed, visitors: 80, startMs: T0, spanMs: 30 * min, maxDelayMs: 10_000, lateShare: 0.01, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const once = logsOf(events);
    const { events: twice, repeats } = withRepeats(events, seed, 0.05);
    expect(repeats).toBeGreaterThan(20);
    const logs = logsOf(twice);
    const clean = simulate(once, options, { seed, maxBatch: 10 });
    const repeated = simulate(logs, options, { seed, maxBatch: 10 });
    const crashed = simulate(logs, options, { seed: seed + 1, maxBatch: 25, crashChance: 0.06, maxCrashes: 10, otherSinkLag: 20 });
    expect(crashed.crashes).toBeGreaterThan(0);
    expect(repeated.docs).toEqual(clean.docs);
    expect(crashed.docs).toEqual(clean.docs);
    expect(referenceDocs(logs, options)).toEqual(referenceDocs(once, options));
  }, 60_000);

  test.each([
    ['a copy within the horizon: dropped', 3, 5, 'repeat'],
    ['a copy at the horizon: dropped', 5, 5, 'repeat'],
    ['a copy past the horizon: counted again', 6, 5, 'ok'],
    ['horizon 0: counted again', 1, 0, 'ok'],
  ])('%s', (_name, gap, horizon, want) => {
    const e = new PartitionEngine({ ...options, repeatHorizon: horizon });
    const evs = generateTraffic({ seed: 8, visitors: 1, startMs: T0, spanMs: min, botShare: 0, maxSessions: 1 }).map((g) => g.event);
    const first = evs[0];
    const t = topics.indexOf(TOPIC_BY_TYPE[first.event_type]);
    expect(e.add(first, t, 0)).toBe('ok');
    expect(e.add({ ...first }, t, gap)).toBe(want);
  });

  test.each([[71], [72]])('a small horizon: crashes give the documents of the uninterrupted run, and no distinct event is dropped (seed %i)', (seed) => {
    const events = generateTraffic({ seed, visitors: 80, startMs: T0, spanMs: 30 * min, maxDelayMs: 10_000, lateShare: 0.01, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const { events: twice } = withRepeats(events, seed, 0.08);
    const small = { ...options, repeatHorizon: 3 };
    const logs = logsOf(twice);
    const live = simulate(logs, small, { seed, maxBatch: 10 });
    const crashed = simulate(logs, small, { seed: seed + 1, maxBatch: 25, crashChance: 0.06, maxCrashes: 10, otherSinkLag: 20 });
    expect(crashed.crashes).toBeGreaterThan(0);
    expect(crashed.docs).toEqual(live.docs);
    // Some repeats are past the horizon and counted again: more than without repeats, never fewer.
    const clean = simulate(logsOf(events), options, { seed, maxBatch: 10 });
    const views = (docs: typeof live.docs) =>
      [...docs].reduce((n, [k, d]) => n + (k.startsWith('kpis/') && d.dimension === 'all' && d.window_kind === 'tumbling_1m' ? (d.page_views as number) : 0), 0);
    expect(views(live.docs)).toBeGreaterThan(views(clean.docs));
  }, 60_000);
});
