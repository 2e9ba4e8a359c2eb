import { describe, expect, it } from 'vitest';
import { SiteDetector, DEFAULT_SITE_OPTIONS } from './site.js';
import { siteScenario, type SiteLabelKind } from '../../test/harness/anomaly-scenarios.js';
import { runSite } from '../../test/harness/anomaly-eval.js';

describe('SiteDetector on labelled scenarios', () => {
  const sc = siteScenario({ seed: 11 });
  const findings = runSite(sc.windows, sc.stepMs, DEFAULT_SITE_OPTIONS).filter((f) => f.t >= sc.evalFrom);
  const grace = 3 * sc.stepMs;

  it.each(sc.labels.map((l) => [l.kind, l] as const))('%s', (_kind, label) => {
    const inside = findings.filter((f) => f.t >= label.start && f.t < label.end + grace);
    if (label.control) expect(inside).toEqual([]);
    else expect(inside.map((f) => f.kind)).toContain(label.kind as SiteLabelKind);
  });

  it('raises nothing outside the labelled periods', () => {
    const outside = findings.filter((f) => !sc.labels.some((l) => f.t >= l.start && f.t < l.end + grace));
    expect(outside).toEqual([]);
  });

  it('raises nothing on two clean weeks', () => {
    const clean = siteScenario({ seed: 12, inject: false });
    expect(runSite(clean.windows, clean.stepMs, DEFAULT_SITE_OPTIONS).filter((f) => f.t >= clean.evalFrom)).toEqual([]);
  }, 60_000); // five simulated weeks: seconds on a loaded machine
});

describe('SiteDetector rules', () => {
  /** Two weeks of a flat site: 500 visitors and 15 purchases per window. */
  function warm(d: SiteDetector, step: number) {
    let t = 0;
    for (; t < 14 * 86_400_000; t += step) d.push({ t, visitors: 500, purchases: 15, revenue: 750 });
    return t;
  }
  const step = 3_600_000;

  it.each([
    // [case, windows (visitors, purchases), kinds raised over them]
    ['a flash sale: three times the visitors, buying as usual', [[1500, 45], [1500, 48], [1550, 44]], []],
    ['a traffic spike: three times the visitors, who do not buy', [[1500, 15], [1500, 14], [1510, 15]], ['traffic_spike']],
    // 51 purchases in 2 windows: 30 expected if the extra visitors do not buy, 90 if they do: 3.97 nats for "do not", past the 3 needed.
    ['a traffic spike whose purchases are less clear: still on its 2nd window', [[1500, 26], [1500, 25]], ['traffic_spike']],
    // 53 purchases: -1.8 nats, "they do not buy" still the likelier (30 expected then, 90 if they buy): a spike.
    ['a traffic spike that bought more than its usual visitors would: still on its 2nd window', [[1500, 27], [1500, 26]], ['traffic_spike']],
    // 60 purchases: likelier under "they buy as usual" (+5.9 nats) but 3.2 sigma short of the 90 that would be: a spike.
    ['a traffic spike whose extra visitors buy, but far fewer than usual: on its 2nd window', [[1500, 30], [1500, 30]], ['traffic_spike']],
    ['purchases stop', [[500, 0], [500, 0], [500, 0]], ['purchases_stopped']],
    ['conversion to a third', [[500, 5], [500, 4], [500, 6], [500, 5]], ['conversion_drop']],
    ['traffic -60 %', [[200, 6], [200, 6], [200, 6]], ['traffic_drop']],
    // The local level learns the +30 %: 290 visitors are 0.47 of it, but 0.58 of the usual 500.
    ['a morning 42 % below a day that ran 30 % high: no drop against the usual', [...Array(8).fill([650, 20]), [290, 9], [290, 9], [290, 9]], []],
    ['traffic -60 % on a day that ran 30 % high', [...Array(8).fill([650, 20]), [200, 6], [200, 6], [200, 6]], ['traffic_drop']],
    ['one odd window pages nobody', [[1500, 15], [500, 15], [500, 15]], []],
    ['a holiday-like dip: 28 % fewer visitors, buying as usual', [[360, 11], [360, 10], [355, 11], [360, 11]], []],
  ] as [string, [number, number][], string[]][])('%s', (_n, windows, kinds) => {
    const d = new SiteDetector({ stepMs: step });
    let t = warm(d, step);
    const raised = windows.flatMap(([visitors, purchases]) => d.push({ t: (t += step), visitors, purchases, revenue: purchases * 50 }));
    expect(raised.map((f) => f.kind)).toEqual(kinds);
    for (const f of raised) expect(f.evidence).toMatchObject({ baseline: 'week' });
  });

  it('purchases stopping after a low window at 30 purchases a window: a stop, not a conversion drop', () => {
    const d = new SiteDetector({ stepMs: step });
    let t = 0;
    for (; t < 14 * 86_400_000; t += step) d.push({ t, visitors: 1000, purchases: 30, revenue: 1500 });
    // 17 purchases leave the conversion CUSUM at 1.3 nats; the first empty window alone is 20.
    const raised = [17, 0, 0, 0].map((purchases) => d.push({ t: (t += step), visitors: 1000, purchases, revenue: purchases * 50 }));
    expect(raised.map((f) => f.map((x) => x.kind))).toEqual([[], [], ['purchases_stopped'], []]);
  });

  it.each([
    // Two low windows leave the conversion CUSUM at 4.5 nats; the empty one takes it to 11.2, an alarm
    // on a window a fall to a third leaves empty once in 28 (10 expected): it waits for the next.
    ['purchases stopping after two low windows at 10 a window: a stop, not a conversion drop', [4, 4, 0, 0, 0], [[], [], [], ['purchases_stopped'], []]],
    ['conversion to a third whose alarm comes on an empty window: raised on the next one', [4, 4, 0, 3, 4], [[], [], [], ['conversion_drop'], []]],
  ] as [string, number[], string[][]][])('%s', (_n, purchases, kinds) => {
    const d = new SiteDetector({ stepMs: step });
    let t = 0;
    for (; t < 14 * 86_400_000; t += step) d.push({ t, visitors: 1000, purchases: 10, revenue: 500 });
    const raised = purchases.map((p) => d.push({ t: (t += step), visitors: 1000, purchases: p, revenue: p * 50 }));
    expect(raised.map((f) => f.map((x) => x.kind))).toEqual(kinds);
  });

  it('conversion to a third at 6 purchases a window: no window alone says it, the CUSUM adds them up and raises it once', () => {
    const d = new SiteDetector({ stepMs: step });
    let t = 0;
    for (; t < 14 * 86_400_000; t += step) d.push({ t, visitors: 200, purchases: 6, revenue: 300 });
    // Each window of 2 purchases for 6 expected adds 2 ln(0.333) + 0.667 x 6 = 1.8 nats: 11 after 7 windows.
    const raised = Array.from({ length: 20 }, () => d.push({ t: (t += step), visitors: 200, purchases: 2, revenue: 100 }));
    expect(raised.map((f) => f.map((x) => x.kind))).toEqual([[], [], [], [], [], [], ['conversion_drop'], ...Array(13).fill([])]);
    expect(raised[6][0].evidence.conversion_cusum).toBeGreaterThanOrEqual(11);
    const after = Array.from({ length: 12 }, () => d.push({ t: (t += step), visitors: 200, purchases: 6, revenue: 300 }));
    expect(after.flat()).toEqual([]);
  });
});
