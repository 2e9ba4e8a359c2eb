/**
 * Site-level anomalies on a site's KPI series (windows summed over partitions): traffic spikes
 * and drops against the seasonal baseline, and purchases against what the observed traffic should
 * have bought at the site's usual conversion rate (a binomial/Poisson expectation), so that:
 *
 * - purchases stopping (zero when many were expected) and conversion collapsing are found even
 *   when traffic is normal; a conversion falling by a Poisson CUSUM (cusum.ts), which adds up
 *   the evidence of windows each too weak alone;
 * - campaign ramps and flash sales, whose purchases scale with their traffic, raise nothing: a
 *   traffic spike is an alert only when the extra visitors do not buy as usual (or when the site
 *   has too few purchases to tell);
 * - small counts (a quiet night) are judged as counts: zero purchases when one was expected is
 *   not news;
 * - traffic is judged against the seasonal expectation times the day's local level (the last
 *   hours' ratio of observed to expected), so a day running 15 % high or low is no noise that
 *   hides a sudden -60 %: that is flagged on its second window.
 *
 * One alert per episode: a kind raised for a site stays quiet until its flag has been down for
 * `n` windows. Pure and deterministic (event time only).
 */
import { PoissonCusum } from './cusum.js';
import { DEFAULT_SCORER, DeviationScorer, localLevelHalfLife, type ScorerOptions } from './series.js';
import { poissonZ } from './stats.js';
import { SOURCE_QUALITY, SeasonalBaseline } from './seasonal-baseline.js';

export const SITE_ANOMALY_KINDS = ['traffic_spike', 'traffic_drop', 'purchases_stopped', 'conversion_drop'] as const;
export type SiteAnomalyKind = (typeof SITE_ANOMALY_KINDS)[number];

/** One closed window of a site, summed over partitions. */
export interface SiteWindow {
  /** Window start, epoch ms. */
  t: number;
  visitors: number;
  purchases: number;
  /** Revenue of the window when the site sold in one currency; NaN when in several (never a sum of currencies). */
  revenue: number;
}

export interface SiteFinding {
  kind: SiteAnomalyKind;
  /** Start of the window that raised it. */
  t: number;
  observed: number;
  expected: number;
  score: number;
  /** Windows summed by the winning score. */
  scale: number;
  evidence: Record<string, number | string>;
}

export interface SiteDetectorOptions {
  stepMs: number;
  /** |score| at which a window of traffic counts as anomalous (level noise dominates: set high). */
  trafficThreshold: number;
  /** A traffic rise counts only at this many times the expected visitors or more (relevance floor). */
  trafficMinRise: number;
  /** A traffic fall counts only at this fraction of the expected visitors or less. */
  trafficMaxFall: number;
  /** |score| at which a window of purchases counts as anomalous (Poisson noise dominates). */
  purchasesThreshold: number;
  k: number;
  n: number;
  /** Windows of history the usual conversion rate is taken from. */
  rateWindows: number;
  /** Fewest expected purchases in a window for a traffic spike to be judged by its conversions. */
  minPurchasesToJudge: number;
  /**
   * A rise of traffic is a sale (no alert) only when "its extra visitors buy as usual" is likelier
   * than "they do not buy" by more than this (log odds, over the spike so far): 0 is the likelier
   * of the two; and when its purchases are not far short of "as usual" (SALE_FIT_Z). Purchases
   * are all there is to tell them by, so each side's error is the other's price, at the spike's
   * 2nd window (its first judged): 3 times the traffic whose usual visitors
   * buy 7 a window (3.5) waits a window 1 time in 1,600 (37) so, 1 in 60 (10) with the former rule
   * (-3: 20 to 1 for "do not buy", no fit test); 2.5 times the traffic all buying as usual is
   * alerted 1 time in 80 (15) so, 1 in 430 (100) formerly; buying 30 % more than usual (the
   * scenarios' sales), 1 in 11,000 (200). Exact Poisson figures; see the README's anomaly section.
   */
  spikeEvidence: number;
  /** The fall of conversion the purchases CUSUM tests for (purchases / usual purchases of the window's visitors). */
  conversionRatio: number;
  /** Evidence (nats) at which the purchases CUSUM raises an alert: e^threshold windows between false alarms at least. */
  conversionThreshold: number;
}

export const DEFAULT_SITE_OPTIONS: Omit<SiteDetectorOptions, 'stepMs'> = {
  trafficThreshold: 5.5,
  trafficMinRise: 2,
  trafficMaxFall: 0.55,
  purchasesThreshold: 4,
  k: 2,
  n: 3,
  rateWindows: 2016,
  minPurchasesToJudge: 3,
  spikeEvidence: 0,
  conversionRatio: 0.333,
  conversionThreshold: 11,
};

export class SiteDetector {
  readonly options: SiteDetectorOptions;
  private readonly baseline: SeasonalBaseline;
  private readonly traffic: DeviationScorer;
  private readonly buying: DeviationScorer;
  private readonly conversion: PoissonCusum;
  private readonly rateHistory: { v: number; p: number; r: number }[] = [];
  private sums = { v: 0, p: 0, r: 0 };
  private readonly quietFor = new Map<string, number>();
  private zeroRun = 0;
  private sinceSpike = Infinity;
  /** Consecutive windows anomalous upwards, up to this one (the spike so far). */
  private spikeRun = 0;
  /** The last windows' visitors, expected visitors and purchases (to judge a spike's conversions). */
  private readonly recent: { v: number; ev: number; p: number }[] = [];

  constructor(options: Partial<SiteDetectorOptions> & { stepMs: number }) {
    this.options = { ...DEFAULT_SITE_OPTIONS, ...options };
    // Level noise from 4 weeks of windows (the seasonal baseline's own horizon).
    const scorer: Partial<ScorerOptions> = { k: this.options.k, n: this.options.n, counts: true, levelHistory: Math.max(12, Math.round((28 * 86_400_000) / this.options.stepMs)) };
    this.baseline = new SeasonalBaseline({ stepMs: this.options.stepMs });
    this.traffic = new DeviationScorer({ ...scorer, threshold: this.options.trafficThreshold, direction: 'both', minRise: this.options.trafficMinRise, maxFall: this.options.trafficMaxFall, levelHalfLife: localLevelHalfLife(this.options.stepMs) });
    this.buying = new DeviationScorer({ ...scorer, threshold: this.options.purchasesThreshold, direction: 'down', sumsAsWindows: true });
    this.conversion = new PoissonCusum({ ratio: this.options.conversionRatio, threshold: this.options.conversionThreshold });
  }

  /** Called once per closed window of the site, in time order; returns the alerts it raises. */
  push(w: SiteWindow): SiteFinding[] {
    const exp = this.baseline.expected(w.t);
    const t = this.traffic.push(w.visitors, exp.value, SOURCE_QUALITY[exp.source]);
    this.baseline.push(w.t, w.visitors);
    const rate = this.sums.v > 0 && this.sums.p > 0 ? this.sums.p / this.sums.v : NaN;
    const aov = this.sums.p > 0 ? this.sums.r / this.sums.p : NaN;
    const expectedPurchases = rate * w.visitors;
    const b = this.buying.push(w.purchases, expectedPurchases);
    this.zeroRun = w.purchases === 0 ? this.zeroRun + 1 : 0;
    this.recent.push({ v: w.visitors, ev: t.expected, p: w.purchases });
    if (this.recent.length > RECENT) this.recent.shift();
    this.spikeRun = t.anomalous && t.score > 0 ? Math.min(this.spikeRun + 1, RECENT) : 0;
    // Until a spike's non-buying visitors are out of every sum, purchases cannot be judged by them.
    if ((t.anomalous && t.score > 0) || this.sinceSpike <= Math.max(...DEFAULT_SCORER.scales)) this.conversion.reset();
    const c = this.conversion.push(w.purchases, expectedPurchases);
    if (!b.anomalous && !t.anomalous && !c.alarm) {
      // Revenue in several currencies has no one sum (NaN): left out of the usual order value.
      const r = Number.isFinite(w.revenue) ? w.revenue : 0;
      this.rateHistory.push({ v: w.visitors, p: w.purchases, r });
      this.sums.v += w.visitors;
      this.sums.p += w.purchases;
      this.sums.r += r;
      if (this.rateHistory.length > this.options.rateWindows) {
        const old = this.rateHistory.shift()!;
        this.sums.v -= old.v;
        this.sums.p -= old.p;
        this.sums.r -= old.r;
      }
    }

    const evidence = {
      baseline: exp.source,
      expected_visitors: round(t.expected),
      seasonal_visitors: round(exp.value),
      visitors: w.visitors,
      traffic_score: round(t.score),
      conversion_rate_usual: round(rate, 5),
      conversion_rate: w.visitors > 0 ? round(w.purchases / w.visitors, 5) : 0,
      purchases: w.purchases,
      expected_purchases: round(expectedPurchases),
      purchases_score: round(b.score),
      conversion_cusum: round(c.stat),
      revenue: round(w.revenue),
      expected_revenue: round(expectedPurchases * aov),
      level_noise: round(this.traffic.noise, 4),
    } as Record<string, number | string>;
    const raised = new Set<SiteAnomalyKind>();
    let spikeConverts = NaN;
    if (t.flag && t.score > 0) {
      // Extra visitors who buy as usual are a flash sale or a campaign, not an incident. Over every
      // window of the spike so far (a sequential test: a converting sale's evidence only grows, so
      // it gets no fresh chance to look like a spike each window): are the purchases likelier
      // under "they scale with the visitors" (rate x visitors) or "the extra visitors do not buy"
      // (rate x expected visitors)?
      const span = this.recent.slice(-Math.max(t.scale, this.spikeRun));
      const flat = rate * span.reduce((x, p) => x + p.ev, 0);
      const scaled = rate * span.reduce((x, p) => x + p.v, 0);
      const bought = span.reduce((x, p) => x + p.p, 0);
      const canJudge = Number.isFinite(flat) && flat >= this.options.minPurchasesToJudge && scaled > flat;
      spikeConverts = canJudge ? poissonLogLik(bought, scaled) - poissonLogLik(bought, flat) : NaN;
      // A sale's conversions scale with its traffic: purchases well short of that (some of the
      // extra visitors buy, fewer than usual) are a spike too, however likelier than "none buy".
      const scales = canJudge && poissonZ(bought, scaled) > SALE_FIT_Z;
      if (!(spikeConverts > this.options.spikeEvidence && scales)) raised.add('traffic_spike');
    }
    if (t.flag && t.score < 0) raised.add('traffic_drop');
    // Also a window merely anomalous upwards: the spike flags a window later than its first
    // non-buying visitors lower the conversion.
    if (raised.has('traffic_spike') || t.flag || (t.anomalous && t.score > 0)) this.sinceSpike = 0;
    else this.sinceSpike++;
    // A spike's non-buying visitors lower the conversion: that is the spike, not a second alert.
    // Purchases stopping: k windows without any, improbable on their own (the k-of-n score), found in
    // 2 windows. Conversion falling: the CUSUM's accumulated evidence; it is a stop only if the
    // empty windows alone are improbable too (a third of 4 purchases is often 0 twice running).
    const stopped = this.zeroRun >= this.options.k && b.anomalous;
    // The CUSUM's evidence must span k windows too: one window, however empty, pages nobody. A
    // first empty window that the fall tested for would seldom leave empty (under 1 chance in 10:
    // 7 or more purchases expected at a fall to a third) may start a stop: its alarm waits for the
    // next window, which tells a stop from a drop, and one episode has one alert, of the right
    // kind. A drop waits only when its alarm comes on such a window (at most 1 in 10 of them);
    // below that, an empty window says little and waiting would delay drops for nothing.
    const mayStop = w.purchases === 0 && this.zeroRun < this.options.k && Math.exp(-this.options.conversionRatio * expectedPurchases) <= EMPTY_UNDER_FALL;
    if ((stopped && b.flag) || (c.alarm && c.run >= this.options.k && !mayStop)) {
      if (this.sinceSpike > Math.max(...DEFAULT_SCORER.scales)) raised.add(stopped ? 'purchases_stopped' : 'conversion_drop');
    }

    if (Number.isFinite(spikeConverts)) evidence.spike_converts_log_likelihood = round(spikeConverts);
    const out: SiteFinding[] = [];
    const groups: [string, SiteAnomalyKind | undefined][] = [
      ['traffic_spike', raised.has('traffic_spike') ? 'traffic_spike' : undefined],
      ['traffic_drop', raised.has('traffic_drop') ? 'traffic_drop' : undefined],
      // Purchases stopping and conversion dropping are one episode of the same series.
      ['purchases', raised.has('purchases_stopped') ? 'purchases_stopped' : raised.has('conversion_drop') ? 'conversion_drop' : undefined],
    ];
    for (const [group, kind] of groups) {
      const quiet = this.quietFor.get(group) ?? Infinity;
      this.quietFor.set(group, kind ? 0 : quiet + 1);
      if (!kind || quiet < this.options.n) continue;
      const traffic = group !== 'purchases';
      out.push({
        kind,
        t: w.t,
        observed: traffic ? w.visitors : w.purchases,
        expected: round(traffic ? t.expected : expectedPurchases),
        score: round(traffic ? t.score : b.score),
        scale: traffic ? t.scale : b.scale,
        evidence,
      });
    }
    return out;
  }
}

/** A first empty window holds a conversion alarm (a stop?) when a fall would leave it empty this seldom or less. */
const EMPTY_UNDER_FALL = 0.1;

/** A rise's purchases this far below "its visitors buy as usual" (one-sided, 1 in 100) make it a spike, not a sale. */
const SALE_FIT_Z = -2.33;

/** Windows of visitors and purchases kept to judge a spike's conversions. */
const RECENT = 64;

/** Poisson log-likelihood of x given mean m, without the x! term (it cancels in comparisons). */
function poissonLogLik(x: number, m: number): number {
  return m > 0 ? x * Math.log(m) - m : x === 0 ? 0 : -Infinity;
}

function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return 0;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
