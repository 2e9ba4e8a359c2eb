import { describe, expect, it } from 'vitest';
import { IsolationForest, averagePath } from './isolation-forest.js';
import { BotSessionModel, DEFAULT_BOT_OPTIONS, type SessionEvent } from './bot-sessions.js';
import { sessionScenario } from '../../test/harness/anomaly-scenarios.js';
import { seededRandom } from './stats.js';

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
  it('finds scripted sessions that claim a browser, with few false ones', () => {
    const sc = sessionScenario({ seed: 21, hours: 8 });
    const m = new BotSessionModel(DEFAULT_BOT_OPTIONS);
    const flagged = new Set<string>();
    for (const e of sc.events) for (const f of m.add(e)) flagged.add(f.session_id);
    for (const f of m.advance(sc.to + 2 * DEFAULT_BOT_OPTIONS.sessionGapMs)) flagged.add(f.session_id);
    const tp = [...flagged].filter((id) => sc.bots.has(id)).length;
    expect(m.modelGeneration).toBeGreaterThan(1);
    expect(tp / flagged.size).toBeGreaterThanOrEqual(0.95);
    expect(tp / sc.bots.size).toBeGreaterThanOrEqual(0.85);
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
