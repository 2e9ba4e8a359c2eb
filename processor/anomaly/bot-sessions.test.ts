import { describe, expect, it } from 'vitest';
import { IsolationForest, averagePath } from './isolation-forest.js';
import { BotSessionModel, DEFAULT_BOT_OPTIONS, type SessionEvent } from './bot-sessions.js';
import { sessionScenario } from '../../test/harness/anomaly-scenarios.js';
import { seededRandom } from './stats.js';
import { PartitionClock } from '../analytics/partition-clock.js';

describe('IsolationForest', () => {
  const r = seededRandom(5);
  const rows = Array.from({ length: 500 }, () => [r(), r(), r()]);

  it.each([
    ['a point in the middle of the data', [0.5, 0.5, 0.5], false],
    ['a point far outside it', [5, -3, 0.5], true],
  ])('%s', (_n, row, anomalous) => {
    const f = new IsolationForest(rows, { seed: 1 });
    expect(f.score(row) > 0.6).toBe(anomalous);
  });

  it('is the same forest for the same seed', () => {
    const a = new IsolationForest(rows, { seed: 3 });
    const b = new IsolationForest(rows, { seed: 3 });
    expect(rows.slice(0, 20).map((x) => a.score(x))).toEqual(rows.slice(0, 20).map((x) => b.score(x)));
  });

  it('c(n) of the paper', () => {
    expect(averagePath(1)).toBe(0);
    expect(averagePath(256)).toBeCloseTo(10.24, 1);
  });
});

describe('BotSessionModel', () => {
  it('finds scripted sessions that claim a browser, with few false ones (three 8-hour days)', () => {
    let tp = 0;
    let flaggedCount = 0;
    let bots = 0;
    for (const seed of [21, 22, 23]) {
      const sc = sessionScenario({ seed, hours: 8 });
      const m = new BotSessionModel(DEFAULT_BOT_OPTIONS);
      const flagged = new Set<string>();
      for (const e of sc.events) for (const f of m.add(e)) flagged.add(f.session_id);
      for (const f of m.advance(sc.to + 2 * DEFAULT_BOT_OPTIONS.sessionGapMs)) flagged.add(f.session_id);
      expect(m.modelGeneration).toBeGreaterThan(1);
      tp += [...flagged].filter((id) => sc.bots.has(id)).length;
      flaggedCount += flagged.size;
      bots += sc.bots.size;
    }
    expect(tp / flaggedCount).toBeGreaterThanOrEqual(0.95);
    expect(tp / bots).toBeGreaterThanOrEqual(0.85);
  }, 60_000);

  it('finds the same sessions with the same scores whatever order the partitions and their topics are read in', () => {
    const sc = sessionScenario({ seed: 4, hours: 3 });
    const options = { ...DEFAULT_BOT_OPTIONS, sessionGapMs: 300_000, minTraining: 100, refreshMs: 1_800_000 };
    // Three partitions (by visitor) of two topics (views, clicks): six logs in event-time order.
    const logs: SessionEvent[][] = Array.from({ length: 6 }, () => []);
    for (const e of sc.events) {
      const lane = Number(e.visitor_id.replace(/\D/g, '').slice(-3)) % 3;
      logs[lane * 2 + (e.event_type === 'click' ? 1 : 0)].push({ ...e, lane });
    }
    const run = (orderSeed: number, maxBatch: number) => {
      const m = new BotSessionModel(options);
      const clocks = [0, 1, 2].map(() => new PartitionClock(2, 0, false));
      for (const lane of [0, 1, 2]) m.openLane(lane);
      const next = logs.map(() => 0);
      const r = seededRandom(orderSeed);
      const found: string[] = [];
      const take = (fs: readonly { session_id: string; score: number; events: number }[]) => fs.forEach((f) => found.push(`${f.session_id} ${f.events} ${f.score}`));
      for (;;) {
        const left = logs.map((l, i) => i).filter((i) => next[i] < logs[i].length);
        if (left.length === 0) break;
        // One fetch: a batch of one topic-partition.
        const log = left[Math.floor(r() * left.length)];
        const lane = log >> 1;
        for (let k = 1 + Math.floor(r() * maxBatch); k > 0 && next[log] < logs[log].length; k--) {
          const offset = next[log]++;
          const e = logs[log][offset];
          clocks[lane].accept(log & 1, offset);
          clocks[lane].observe(log & 1, offset, e.t);
          take(m.add(e, clocks[lane].watermark));
        }
      }
      // Everything read: each partition's topics are at their end.
      for (const lane of [0, 1, 2]) {
        for (const topic of [0, 1]) clocks[lane].setLogOffsets(topic, 0, logs[lane * 2 + topic].length);
        clocks[lane].pollDone();
        take(m.advance(clocks[lane].watermark, lane, clocks[lane].quiet));
      }
      return found;
    };
    const reference = run(1, 1);
    expect(reference.length).toBeGreaterThan(10);
    // Each session whole: the flagged scripted sessions have all their events.
    for (const f of reference) {
      const [id, events] = f.split(' ');
      if (sc.bots.has(id)) expect(Number(events)).toBe(sc.events.filter((e) => e.session_id === id).length);
    }
    for (const [seed, batch] of [[2, 50], [3, 5000], [4, 1]]) expect(run(seed, batch)).toEqual(reference);
  }, 60_000);

  it('scores no closed session while an assigned partition has delivered nothing and is not idle', () => {
    const m = new BotSessionModel({ minTraining: 2, refreshMs: 0, sessionGapMs: 1000, minEvents: 1, threshold: 0 });
    const ev = (id: string, t: number, lane: number): SessionEvent => ({ session_id: id, visitor_id: 'v' + id, site_id: 's', event_type: 'click', t, url: '/a', browser: 'Chrome', is_bot: false, lane });
    m.openLane(1);
    for (const [i, t] of [0, 2000, 4000, 6000, 8000].entries()) expect(m.add(ev(`a${i}`, t, 0))).toEqual([]);
    // Lane 1 read to its end: lane 0's closed sessions are scored, the first two by the model trained on them.
    const scored = m.advance(-Infinity, 1, true);
    expect(scored.map((f) => f.session_id)).toEqual(['a0', 'a1', 'a2', 'a3']);
  });

  it('scores a session when it closes, with its features, and never before a model exists', () => {
    const m = new BotSessionModel({ minTraining: 3, refreshMs: 0, sessionGapMs: 1000, minEvents: 2 });
    const ev = (id: string, t: number, type = 'page_view', url = '/a'): SessionEvent => ({ session_id: id, visitor_id: 'v' + id, site_id: 's', event_type: type, t, url, browser: 'Chrome', is_bot: false });
    expect(m.add(ev('a', 0))).toEqual([]);
    m.add(ev('a', 500));
    expect(m.openSessions).toBe(1);
    m.add(ev('b', 2000)); // closes a (no model yet: nothing raised)
    expect(m.openSessions).toBe(1);
    expect(m.modelGeneration).toBe(0);
  });

  it('each lane (partition) closes its sessions by its own event time: one read ahead closes none of another', () => {
    const m = new BotSessionModel({ minTraining: 1000, sessionGapMs: 1000, minEvents: 2 });
    const ev = (id: string, t: number, lane: number): SessionEvent => ({ session_id: id, visitor_id: 'v' + id, site_id: 's', event_type: 'click', t, url: '/a', browser: 'Chrome', is_bot: false, lane });
    m.add(ev('slow', 0, 1));
    m.add(ev('fast', 0, 0));
    m.add(ev('fast', 60_000, 0)); // lane 0 is a minute ahead: lane 1's session is still open
    expect(m.openSessions).toBe(2);
    m.add(ev('slow', 500, 1)); // its next event: the same session
    m.add(ev('other', 1600, 1)); // lane 1's own time passes its gap: now it closes
    expect(m.openSessions).toBe(2); // fast and other
    m.add(ev('fast2', 70_000, 0));
    expect(m.openSessions).toBe(2); // fast closed by its lane, other open
  });
});
