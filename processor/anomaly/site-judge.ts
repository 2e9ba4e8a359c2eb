/**
 * The site-level detector over every site of a deployment, fed one step window at a time with
 * the sites' totals (summed over partitions), and the rule for which windows may be judged.
 * Pure: processor/alerts/site-monitor.ts reads the KPI index and feeds it; the unit tests feed it
 * directly.
 */
import { SiteDetector, type SiteDetectorOptions, type SiteFinding, type SiteWindow } from './site.js';

export type SiteTotals = Omit<SiteWindow, 't'>;

/**
 * The end of the last step window that may be judged now: every partition's sealed KPI windows
 * reach past it, or (an idle partition writes nothing) the wall clock is `graceMs` past it.
 * `sealedTo` holds, per partition seen in the KPI index, the end of its last sealed window
 * (-Infinity: none yet). Aligned down to a step; never in the future.
 */
export function judgeableUntil(sealedTo: readonly number[], nowMs: number, graceMs: number, stepMs: number): number {
  const all = sealedTo.length ? Math.min(...sealedTo) : -Infinity;
  const until = Math.min(Math.max(all, nowMs - graceMs), nowMs);
  return Math.floor(until / stepMs) * stepMs;
}

export interface SiteJudgement {
  site: string;
  finding: SiteFinding;
}

/**
 * One SiteDetector per site, each pushed every step window from the first one the site had
 * traffic in (a window without any is zero traffic: a site going silent is a drop). Sites are
 * visited in name order, so the same series give the same findings in the same order.
 */
export class SiteJudge {
  private readonly detectors = new Map<string, SiteDetector>();
  private next = NaN;

  constructor(readonly options: SiteDetectorOptions) {}

  /** Called once, before the first `judge`: the start of the first window (a multiple of the step). */
  startAt(t: number) {
    this.next = t;
  }

  /** Called once per step window, in time order (windows may not be skipped: pass empty totals). */
  judge(t: number, totals: ReadonlyMap<string, SiteTotals>): SiteJudgement[] {
    if (Number.isFinite(this.next) && t !== this.next) throw new Error(`site window ${new Date(t).toISOString()} is not the next one (${new Date(this.next).toISOString()})`);
    this.next = t + this.options.stepMs;
    for (const site of totals.keys()) if (!this.detectors.has(site)) this.detectors.set(site, new SiteDetector(this.options));
    const out: SiteJudgement[] = [];
    for (const site of [...this.detectors.keys()].sort()) {
      const w = totals.get(site) ?? { visitors: 0, purchases: 0, revenue: 0 };
      for (const finding of this.detectors.get(site)!.push({ t, ...w })) out.push({ site, finding });
    }
    return out;
  }

  /** The start of the next window to judge (NaN before the first). */
  get nextWindow(): number {
    return this.next;
  }

  get sites(): number {
    return this.detectors.size;
  }
}
