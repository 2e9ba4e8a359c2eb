import { describe, expect, it } from 'vitest';
import { SiteJudge, judgeableUntil, type SiteTotals } from './site-judge.js';
import { DEFAULT_SITE_OPTIONS } from './site.js';
import { siteAlert } from '../alerts/alert-docs.js';

const STEP = 60_000;

describe('judgeableUntil', () => {
  const now = 100 * STEP + 7_000;
  it('is the earliest partition\'s sealed end, aligned down to a step', () => {
    expect(judgeableUntil([50 * STEP + 30_000, 80 * STEP, 90 * STEP], now, 3_600_000, STEP)).toBe(50 * STEP);
  });
  it('waits for a partition that sealed nothing yet, until the grace has passed', () => {
    expect(judgeableUntil([80 * STEP, -Infinity], now, 3_600_000, STEP)).toBe(40 * STEP);
    expect(judgeableUntil([80 * STEP, -Infinity], now, 10 * STEP, STEP)).toBe(90 * STEP);
  });
  it('never reaches into the future', () => {
    expect(judgeableUntil([200 * STEP], now, 0, STEP)).toBe(100 * STEP);
  });
});

describe('SiteJudge', () => {
  const totals = (m: Record<string, [number, number]>) => new Map<string, SiteTotals>(Object.entries(m).map(([s, [visitors, purchases]]) => [s, { visitors, purchases, revenue: purchases * 40 }]));

  /** 40 windows of two sites, then `b` stops buying for 4 and `a` has a flash sale (x3, buying as usual). */
  function run() {
    const j = new SiteJudge({ ...DEFAULT_SITE_OPTIONS, stepMs: STEP });
    j.startAt(0);
    const out = [];
    for (let w = 0; w < 48; w++) {
      const odd = w % 3;
      const sale = w >= 40 && w < 44;
      const stop = w >= 40 && w < 44;
      out.push(...j.judge(w * STEP, totals({ a: [sale ? 300 + odd : 100 + odd, sale ? 30 : 10 - odd], b: [200 + odd, stop ? 0 : 20 + odd] })));
    }
    return out;
  }

  it('raises purchases_stopped for the site that stopped buying, once, and nothing for the flash sale', () => {
    const found = run();
    expect(found.map((f) => [f.site, f.finding.kind, f.finding.t / STEP])).toEqual([['b', 'purchases_stopped', 41]]);
    expect(run()).toEqual(found); // deterministic
  });

  it('judges a site that went silent as zero traffic', () => {
    const j = new SiteJudge({ ...DEFAULT_SITE_OPTIONS, stepMs: STEP });
    j.startAt(0);
    const kinds: string[] = [];
    for (let w = 0; w < 40; w++) kinds.push(...j.judge(w * STEP, w < 30 ? totals({ a: [400 + (w % 3), 12] }) : new Map()).map((f) => f.finding.kind));
    expect(kinds).toContain('traffic_drop');
  });

  it('refuses a skipped window', () => {
    const j = new SiteJudge({ ...DEFAULT_SITE_OPTIONS, stepMs: STEP });
    j.startAt(0);
    j.judge(0, new Map());
    expect(() => j.judge(2 * STEP, new Map())).toThrow(/not the next one/);
  });

  it('makes alert documents whose id is kind, site and window start', () => {
    const [f] = run();
    const doc = siteAlert(f.site, f.finding, STEP, 4);
    expect(doc).toMatchObject({
      alert_id: `purchases_stopped|b|${new Date(41 * STEP).toISOString()}`,
      kind: 'purchases_stopped',
      site_id: 'b',
      key: 'b',
      value: 0,
      threshold: 4,
      window_start: new Date(41 * STEP).toISOString(),
      window_end: new Date(42 * STEP).toISOString(),
      raised_at: new Date(42 * STEP).toISOString(),
    });
    expect(doc.expected).toBeGreaterThan(15);
    expect(JSON.parse(doc.evidence!)).toMatchObject({ step_s: 60, purchases: 0 });
  });
});
