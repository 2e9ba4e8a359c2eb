import { describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { TOPIC_BY_TYPE } from '../../contracts/topics.js';
import { PartitionEngine } from './engine.js';
import { enriched, generateTraffic } from '../../test/harness/traffic.js';
import { referenceDocs } from '../../test/harness/reference.js';
import { logsOf, SIM_TOPICS, simEngineOptions, simulate } from '../../test/harness/engine-sim.js';

const min = 60_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const topics = SIM_TOPICS;
const options = simEngineOptions(3);

/** Documents without the flags that only say how far the watermark got. */
const strip = (docs: Map<string, Record<string, unknown>>, keepFlags = true) =>
  new Map(
    [...docs].map(([k, d]) => {
      if (keepFlags && !k.startsWith('urlStats/')) return [k, d];
      const { final: _f, ...rest } = d;
      return [k, rest];
    }),
  );

describe('PartitionEngine', () => {
  test('a small session: provisional documents while open, final ones once the watermark passes', () => {
    const e = new PartitionEngine(options);
    for (let t = 0; t < 4; t++) e.restore(t, null, null);
    const ev = (type: 'page_view' | 'click' | 'purchase', sec: number, over: Partial<EnrichedEvent> = {}) =>
      enriched({ event_id: `x${sec}`, event_type: type, timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: 'v', session_id: 's', url: '/a', country: 'FR', site_id: 'shop', ...over });
    const pv = topics.indexOf('page_views');
    const cl = topics.indexOf('clicks');
    const pu = topics.indexOf('purchases');
    expect(e.add(ev('page_view', 0), pv, 0)).toBe('ok');
    expect(e.add(ev('click', 10), cl, 0)).toBe('ok');
    expect(e.add(ev('page_view', 20, { url: '/b' }), pv, 1)).toBe('ok');
    expect(e.add(ev('purchase', 30, { revenue: 42, currency: 'EUR' }), pu, 0)).toBe('ok');
    const first = e.drain(true);
    const tumblingAll = first.find((d) => d.index === 'kpis' && d.id === `tumbling_1m|${new Date(T0).toISOString()}|all|all|3`);
    expect(tumblingAll?.doc).toMatchObject({ page_views: 2, clicks: 1, purchases: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 42 }], unique_visitors: 1, conversion_rate: 1, final: false });
    expect(first.find((d) => d.index === 'sessions')?.doc).toMatchObject({ session_id: 's', pages: 2, events: 4, purchased: true, closed: false });
    // Nothing committed past the first offset of open state.
    expect(e.commitPoint(pv)?.offset).toBe(0);
    // Every topic caught up: the watermark follows the latest event (T0+30s) minus lateness.
    for (let t = 0; t < 4; t++) e.setLogOffsets(t, 0, t === pv ? 2 : t === cl || t === pu ? 1 : 0);
    e.pollDone();
    expect(e.watermark).toBe(T0);
    // A page view 2 h later closes everything before it.
    e.add(ev('page_view', 7200, { session_id: 's2', visitor_id: 'w', event_id: 'late-visitor' }), pv, 2);
    // Until the end offsets are read again, the idle topics hold the watermark.
    expect(e.watermark).toBe(T0);
    e.setLogOffsets(pv, 0, 3);
    e.pollDone();
    const second = e.drain(true);
    expect(second.find((d) => d.id === tumblingAll!.id)?.doc).toMatchObject({ final: true, page_views: 2 });
    expect(second.find((d) => d.index === 'sessions' && d.id === 's')?.doc).toMatchObject({ closed: true, exit_page: '/b' });
    const urlA = second.find((d) => d.index === 'urlStats' && d.doc.url === '/a');
    expect(urlA?.doc).toMatchObject({ time_spent_ms: 20_000, time_spent_samples: 1, avg_time_spent_ms: 20_000, unique_users: 1, clicks: 1, page_views: 1, final: true });
    const urlB = second.find((d) => d.index === 'urlStats' && d.doc.url === '/b');
    expect(urlB?.doc).toMatchObject({ time_spent_samples: 0, views_without_time: 1 });
    // Only the 2-hours-later session still holds offsets back.
    expect(e.commitPoint(pv)?.offset).toBe(2);
    expect(e.commitPoint(cl)?.offset).toBe(1);
  });

  test("drain('kpis'): the open KPI windows alone; sessions wait for the next full emit and lose nothing, and the commit point holds as with a full one", () => {
    const run = (kpisFirst: boolean) => {
      const e = new PartitionEngine(options);
      for (let t = 0; t < 4; t++) e.restore(t, null, null);
      const ev = (type: 'page_view' | 'click', sec: number, over: Partial<EnrichedEvent> = {}) =>
        enriched({ event_id: `k${sec}`, event_type: type, timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: 'v', session_id: 's', url: '/a', country: 'FR', site_id: 'shop', ...over });
      const pv = topics.indexOf('page_views');
      const cl = topics.indexOf('clicks');
      e.add(ev('page_view', 0), pv, 0);
      e.add(ev('click', 10), cl, 0);
      const early = kpisFirst ? e.drain('kpis') : [];
      e.add(ev('page_view', 20, { url: '/b' }), pv, 1);
      return { early, full: e.drain(true), commit: e.commitPoint(pv)?.offset };
    };
    const { early, full, commit } = run(true);
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((d) => d.index === 'kpis')).toBe(true);
    const id = `tumbling_1m|${new Date(T0).toISOString()}|all|all|3`;
    expect(early.find((d) => d.id === id)?.doc).toMatchObject({ page_views: 1, clicks: 1, final: false });
    // The full emit after it writes the session with every event, and the KPI window's newer value.
    expect(full.find((d) => d.index === 'sessions')?.doc).toMatchObject({ session_id: 's', pages: 2, events: 3, closed: false });
    expect(full.find((d) => d.id === id)?.doc).toMatchObject({ page_views: 2, clicks: 1, final: false });
    // The same documents as without the KPI-only emit before it, except the KPI cells unchanged since.
    const plain = run(false);
    const byId = (docs: typeof full) => new Map(docs.map((d) => [`${d.index}/${d.id}`, d.doc]));
    const a = byId(full);
    for (const [k, d] of byId(plain.full)) if (!k.startsWith('kpis/') || a.has(k)) expect(a.get(k), k).toEqual(d);
    expect(commit).toBe(plain.commit);
    expect(commit).toBe(0);
  });

  test("drain('others'): open sessions and URL windows but no open KPI window, which openKpiDocs still gives; sealed KPI windows still final", () => {
    const e = new PartitionEngine(options);
    for (let t = 0; t < 4; t++) e.restore(t, null, null);
    const pv = topics.indexOf('page_views');
    const ev = (sec: number, session: string) =>
      enriched({ event_id: `o${sec}`, event_type: 'page_view', timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: session, session_id: session, url: '/a', country: 'FR', site_id: 'shop' });
    e.add(ev(0, 's'), pv, 0);
    const first = e.drain('others');
    expect(first.some((d) => d.index === 'kpis')).toBe(false);
    expect(first.find((d) => d.index === 'sessions')?.doc).toMatchObject({ session_id: 's', closed: false });
    const id = `tumbling_1m|${new Date(T0).toISOString()}|all|all|3`;
    expect(e.openKpiDocs().find((d) => d.id === id)?.doc).toMatchObject({ page_views: 1, final: false });
    expect(e.commitPoint(pv)?.offset).toBe(0);
    // Two minutes later, every topic read to its end: the first minute is sealed and written final.
    e.add(ev(180, 't'), pv, 1);
    for (let t = 0; t < 4; t++) e.setLogOffsets(t, 0, t === pv ? 2 : 0);
    e.pollDone();
    const second = e.drain('others');
    expect(second.find((d) => d.id === id)?.doc).toMatchObject({ page_views: 1, final: true });
    expect(second.filter((d) => d.index === 'kpis').every((d) => d.doc.final)).toBe(true);
  });

  test('revenue per currency: every cut keeps each currency apart, the currency cut holds each currency\'s purchases, buyers and revenue, never a sum', () => {
    const e = new PartitionEngine(options);
    for (let t = 0; t < 4; t++) e.restore(t, null, null);
    const pu = topics.indexOf('purchases');
    const buy = (id: string, visitor: string, revenue: number, currency: string) =>
      enriched({ event_id: id, event_type: 'purchase', timestamp: new Date(T0 + 1000).toISOString(), visitor_id: visitor, session_id: visitor, url: '/c', revenue, currency });
    e.add(buy('p1', 'a', 100, 'EUR'), pu, 0);
    e.add(buy('p2', 'b', 100, 'JPY'), pu, 1);
    e.add(buy('p3', 'a', 0.1, 'EUR'), pu, 2);
    const docs = e.drain(true).filter((d) => d.index === 'kpis' && String(d.id).startsWith('tumbling_1m|'));
    const cut = (value: string) => docs.find((d) => d.id === `tumbling_1m|${new Date(T0).toISOString()}|currency|${value}|3`)?.doc;
    expect(cut('EUR')).toMatchObject({ purchases: 2, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 100.1 }], visitors_purchased: 1, unique_visitors: 1, page_views: 0 });
    expect(cut('JPY')).toMatchObject({ purchases: 1, revenue_by_currency: [{ currency: 'JPY', purchases: 1, revenue: 100 }], visitors_purchased: 1 });
    const all = docs.find((d) => d.id === `tumbling_1m|${new Date(T0).toISOString()}|all|all|3`)?.doc;
    expect(all).toMatchObject({ purchases: 3, revenue_by_currency: [{ currency: 'EUR', purchases: 2, revenue: 100.1 }, { currency: 'JPY', purchases: 1, revenue: 100 }] });
    expect(docs.filter((d) => String(d.id).includes('|currency|'))).toHaveLength(2);
  });

  test('late events are counted in the window of their partition\'s current time, never added', () => {
    const e = new PartitionEngine(options);
    for (let t = 0; t < 4; t++) e.restore(t, null, null);
    const pv = topics.indexOf('page_views');
    const mk = (id: string, sec: number) => enriched({ event_id: id, event_type: 'page_view', timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: 'v', session_id: 's', url: '/a' });
    e.add(mk('a', 600), pv, 0);
    expect(e.add(mk('b', 0), pv, 1)).toBe('late');
    expect(e.add(mk('c', 590), pv, 2)).toBe('ok'); // within 30 s of the partition's latest
    expect(e.takeLate()).toEqual({ behind_partition: 1, behind_watermark: 0 });
    const docs = e.drain(true);
    const w = docs.find((d) => d.id === `tumbling_1m|${new Date(T0 + 10 * min).toISOString()}|all|all|3`);
    expect(w?.doc).toMatchObject({ page_views: 1, late_events: 1 });
    expect(docs.find((d) => d.id.startsWith(`tumbling_1m|${new Date(T0).toISOString()}|`))).toBeUndefined();
  });

  test.each([
    ['small', 1, 40, 2],
    ['with late events and bots', 2, 60, 5],
    ['many visitors', 3, 150, 25],
  ])('matches the independent computation (%s)', (_name, seed, visitors, maxBatch) => {
    const events = generateTraffic({ seed, visitors, startMs: T0, spanMs: 20 * min, maxDelayMs: 10_000, lateShare: seed === 2 ? 0.03 : 0, botShare: seed === 2 ? 0.1 : 0 }).map((g) => g.event);
    const logs = logsOf(events);
    const run = simulate(logs, options, { seed, maxBatch });
    const expected = referenceDocs(logs, options);
    expect(strip(run.docs, false)).toEqual(strip(expected, false));
    // The flags agree too for windows and sessions.
    expect(strip(run.docs)).toEqual(strip(expected));
    if (seed === 2) expect(run.late).toBeGreaterThan(0);
  }, 60_000);

  test.each(Array.from({ length: 12 }, (_, i) => [i + 10]))('crashes at random moments leave the same documents as an uninterrupted run (seed %i)', (seed) => {
    const events = generateTraffic({ seed, visitors: 60, startMs: T0, spanMs: 40 * min, maxDelayMs: 20_000, lateShare: 0.02, botShare: 0.05, maxSessions: 3 }).map((g) => g.event);
    const logs = logsOf(events);
    const clean = simulate(logs, options, { seed, maxBatch: 8 });
    const crashed = simulate(logs, options, { seed: seed * 7 + 1, maxBatch: 30, crashChance: 0.08, maxCrashes: 15, otherSinkLag: seed % 2 ? 25 : 0 });
    expect(crashed.crashes).toBeGreaterThan(0);
    expect(crashed.docs).toEqual(clean.docs);
    expect(strip(clean.docs)).toEqual(strip(referenceDocs(logs, options)));
  }, 60_000);

  test.each([[31], [32], [33], [34]])('dense traffic, crashes between commits: same documents as the independent computation (seed %i)', (seed) => {
    const events = generateTraffic({ seed, visitors: 400, startMs: T0, spanMs: 60 * min, maxDelayMs: 10_000, lateShare: 0.005, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const logs = logsOf(events);
    const crashed = simulate(logs, options, { seed, maxBatch: 150, crashChance: 0.03, maxCrashes: 8, otherSinkLag: 40 });
    expect(crashed.crashes).toBeGreaterThan(2);
    expect(strip(crashed.docs)).toEqual(strip(referenceDocs(logs, options)));
  }, 60_000);

  test.each([
    [35, 'mixed'],
    [36, 'mixed'],
    [37, 'timer'],
    [38, 'timer'],
  ] as const)('KPI windows emitted more often than sessions and URL stats (seed %i, %s: drains of every kind, KPIs only or none at random; or the open KPI windows between drains that write only sealed ones and the other open structures), crashes: same documents as the independent computation', (seed, provisional) => {
    const events = generateTraffic({ seed, visitors: 300, startMs: T0, spanMs: 45 * min, maxDelayMs: 10_000, lateShare: 0.005, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const logs = logsOf(events);
    const crashed = simulate(logs, options, { seed, maxBatch: 120, crashChance: 0.03, maxCrashes: 8, otherSinkLag: 40, provisional });
    expect(crashed.crashes).toBeGreaterThan(2);
    expect(strip(crashed.docs)).toEqual(strip(referenceDocs(logs, options)));
  }, 60_000);

  test.each([
    [41, 0],
    [42, 1],
    [43, 2],
  ])('live input with caught-up partitions and slightly stale end offsets, crashes: same documents (seed %i, staleness %i)', (seed, staleSteps) => {
    // Staleness stays well under the allowed lateness in event time (2 steps of at most 12
    // arrivals is about 20 s here, lateness 30 s): the consumer reads end offsets at most ~1 s
    // before using them, and the default lateness is 60 s.
    const generated = generateTraffic({ seed, visitors: 150, startMs: T0, spanMs: 40 * min, maxDelayMs: 10_000, botShare: 0.05, maxSessions: 2 });
    const events = generated.map((g) => g.event);
    const logs = logsOf(events);
    const arrival = events.map((e) => topics.indexOf(TOPIC_BY_TYPE[e.event_type]));
    const live = { arrival, appendPerStep: 12, staleSteps };
    const clean = simulate(logs, options, { seed, maxBatch: 20, live });
    const crashed = simulate(logs, options, { seed: seed + 100, maxBatch: 40, crashChance: 0.03, maxCrashes: 8, live });
    expect(crashed.crashes).toBeGreaterThan(0);
    expect(clean.late).toBe(0);
    expect(strip(clean.docs)).toEqual(strip(referenceDocs(logs, options)));
    expect(crashed.docs).toEqual(clean.docs);
  }, 60_000);

  test.each([[51], [52]])('input produced in bursts spanning minutes of event time while partitions are idle: same documents (seed %i)', (seed) => {
    // Each burst appends up to 300 arrivals (several minutes of event time) right after a poll
    // found every topic-partition read to its end: the burst's first batch must not let the
    // watermark pass the rest of the burst in the other topics.
    const events = generateTraffic({ seed, visitors: 150, startMs: T0, spanMs: 40 * min, maxDelayMs: 10_000, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const logs = logsOf(events);
    const arrival = events.map((e) => topics.indexOf(TOPIC_BY_TYPE[e.event_type]));
    const live = { arrival, appendPerStep: 300, staleSteps: 1, burstEvery: 60 };
    const run = simulate(logs, options, { seed, maxBatch: 60, live, crashChance: 0.02, maxCrashes: 4 });
    expect(run.late).toBe(0);
    expect(strip(run.docs)).toEqual(strip(referenceDocs(logs, options)));
  }, 60_000);

  test.each([[61], [62], [63]])('a flush in flight while the next batches are added: same documents after crashes (seed %i)', (seed) => {
    const events = generateTraffic({ seed, visitors: 300, startMs: T0, spanMs: 60 * min, maxDelayMs: 10_000, lateShare: 0.01, botShare: 0.05, maxSessions: 2 }).map((g) => g.event);
    const logs = logsOf(events);
    const run = simulate(logs, options, { seed, maxBatch: 120, crashChance: 0.03, maxCrashes: 8, otherSinkLag: 30, overlap: true });
    expect(run.crashes).toBeGreaterThan(1);
    expect(strip(run.docs)).toEqual(strip(referenceDocs(logs, options)));
  }, 60_000);

  test('a checkpoint restores lateness: an event late before the crash is late after it', () => {
    const pv = topics.indexOf('page_views');
    const mk = (id: string, sec: number) => enriched({ event_id: id, event_type: 'page_view', timestamp: new Date(T0 + sec * 1000).toISOString(), visitor_id: id, session_id: id, url: '/a' });
    const a = new PartitionEngine(options);
    for (let t = 0; t < 4; t++) a.restore(t, null, null);
    a.add(mk('a', 600), pv, 0);
    a.add(mk('b', 610), pv, 1);
    a.drain(false);
    const cp = a.commitPoint(pv)!;
    expect(cp.checkpoint.m).toBeNull(); // nothing before offset 0
    // Pretend offset 0's state was sealed: commit at 1 with the max before it.
    const b = new PartitionEngine(options);
    b.restore(pv, 1, { v: 1, m: T0 + 600_000, E: null, U: null, P: 2 });
    for (let t = 0; t < 4; t++) if (t !== pv) b.restore(t, null, null);
    b.add(mk('b', 610), pv, 1);
    expect(b.add(mk('c', 0), pv, 2)).toBe('late');
  });
});
