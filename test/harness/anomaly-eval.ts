/**
 * Runs the detectors over the labelled scenarios and measures them: per kind precision and recall
 * at window level (an alert counts when it falls in its labelled window or a short grace after
 * it), entity-level precision and recall for bursts, detection latency, false alerts per simulated
 * day on clean traffic. Pure; `npm run anomaly:eval` prints it for several seeds.
 */
import { ClickBurstDetectors, type BurstOptions } from '../../processor/anomaly/burst.js';
import { SiteDetector, type SiteDetectorOptions, type SiteFinding } from '../../processor/anomaly/site.js';
import { BotSessionModel, type BotSessionOptions } from '../../processor/anomaly/bot-sessions.js';
import { quantile } from '../../processor/anomaly/stats.js';
import { DEFAULT_PEAK_VISITORS, SITE_CONTROLS, SITE_KINDS, burstScenario, sessionScenario, siteScenario, type SiteLabel } from './anomaly-scenarios.js';

export interface SiteEvalOptions {
  seeds: number[];
  site: Omit<SiteDetectorOptions, 'stepMs'>;
  /** Site-level grace after a label, in windows. */
  graceWindows?: number;
  /** The shop's traffic, as a multiple of the scenarios' default (1: 400 visitors, ~12 purchases per 5 minutes at a weekday's peak). */
  scale?: number;
}

export interface SiteEvalResult {
  site: KindResult[];
  /** Negative controls: labelled periods, and how many of them raised any alert. */
  controls: { kind: string; labelled: number; alerted: number }[];
  siteFalsePerDay: number;
}

export interface EvalOptions extends SiteEvalOptions {
  visitorBursts: BurstOptions;
  networkBursts: BurstOptions;
  bots: BotSessionOptions;
  /** Burst grace after a label, ms. */
  burstGraceMs?: number;
}

export interface KindResult {
  kind: string;
  tp: number;
  fp: number;
  /** Labelled events found / labelled events. */
  found: number;
  labelled: number;
  precision: number;
  recall: number;
  /** Site-level: windows; bursts: seconds. */
  latencyP50: number;
  latencyP95: number;
}

export interface EvalResult extends SiteEvalResult {
  bursts: (KindResult & { entityPrecision: number; entityRecall: number })[];
  burstFalsePerDay: number;
  bots: { precision: number; recall: number; sessions: number; bots: number; flagged: number; latencyP95S: number };
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);

/** The site-level detector on the site scenarios of every seed, at the given traffic scale. */
export function evaluateSite(o: SiteEvalOptions): SiteEvalResult {
  const grace = o.graceWindows ?? 3;
  const peakVisitors = DEFAULT_PEAK_VISITORS * (o.scale ?? 1);
  const perKind = new Map<string, { tp: number; fp: number; found: number; labelled: number; lat: number[] }>();
  for (const k of SITE_KINDS) perKind.set(k, { tp: 0, fp: 0, found: 0, labelled: 0, lat: [] });
  const controls = new Map<string, { labelled: number; alerted: number }>();
  for (const k of SITE_CONTROLS) controls.set(k, { labelled: 0, alerted: 0 });
  let cleanAlerts = 0;
  let cleanDays = 0;
  for (const seed of o.seeds) {
    const sc = siteScenario({ seed, peakVisitors });
    const findings = runSite(sc.windows, sc.stepMs, o.site).filter((f) => f.t >= sc.evalFrom && f.t < sc.evalTo);
    const inLabel = (f: SiteFinding, l: SiteLabel) => f.t >= l.start && f.t < l.end + grace * sc.stepMs;
    for (const f of findings) {
      const k = perKind.get(f.kind)!;
      if (sc.labels.some((l) => !l.control && l.kind === f.kind && inLabel(f, l))) k.tp++;
      else k.fp++;
    }
    for (const l of sc.labels) {
      if (l.control) {
        const c = controls.get(l.kind)!;
        c.labelled++;
        if (findings.some((f) => inLabel(f, l))) c.alerted++;
        continue;
      }
      const k = perKind.get(l.kind)!;
      k.labelled++;
      const first = findings.find((f) => f.kind === l.kind && inLabel(f, l));
      if (first) {
        k.found++;
        k.lat.push((first.t + sc.stepMs - l.start) / sc.stepMs);
      }
    }
    const clean = siteScenario({ seed, peakVisitors, inject: false });
    cleanAlerts += runSite(clean.windows, clean.stepMs, o.site).filter((f) => f.t >= clean.evalFrom && f.t < clean.evalTo).length;
    cleanDays += (clean.evalTo - clean.evalFrom) / 86_400_000;
  }
  return {
    site: [...perKind].map(([kind, k]) => result(kind, k)),
    controls: [...controls].map(([kind, c]) => ({ kind, ...c })),
    siteFalsePerDay: cleanAlerts / Math.max(1, cleanDays),
  };
}

export function evaluate(o: EvalOptions): EvalResult {
  const burstGrace = o.burstGraceMs ?? 30_000;
  const site = evaluateSite(o);

  // --- bursts
  const burstKinds = new Map<string, { tp: number; fp: number; found: number; labelled: number; lat: number[]; entTp: number; entFp: number }>();
  for (const s of ['visitor', 'network']) burstKinds.set(s, { tp: 0, fp: 0, found: 0, labelled: 0, lat: [], entTp: 0, entFp: 0 });
  let burstClean = 0;
  let burstCleanDays = 0;
  for (const seed of o.seeds) {
    const sc = burstScenario({ seed });
    const hits = runBursts(sc.clicks, o);
    for (const scope of ['visitor', 'network'] as const) {
      const k = burstKinds.get(scope)!;
      const labels = sc.labels.filter((l) => l.scope === scope);
      const mine = hits.filter((h) => h.scope === scope);
      for (const h of mine) {
        if (labels.some((l) => l.key === h.key && h.at >= l.start && h.at < l.end + burstGrace)) k.tp++;
        else k.fp++;
      }
      const alertedKeys = new Set(mine.map((h) => h.key));
      const labelledKeys = new Set(labels.map((l) => l.key));
      for (const key of alertedKeys) if (labelledKeys.has(key)) k.entTp++;
      else k.entFp++;
      for (const l of labels) {
        k.labelled++;
        const first = mine.find((h) => h.key === l.key && h.at >= l.start && h.at < l.end + burstGrace);
        if (first) {
          k.found++;
          k.lat.push((first.at - l.start) / 1000);
        }
      }
    }
    const clean = burstScenario({ seed, inject: false });
    burstClean += runBursts(clean.clicks, o).length;
    burstCleanDays += (clean.to - clean.from) / 86_400_000;
  }
  const bursts = [...burstKinds].map(([scope, k]) => ({
    ...result(`click_burst_${scope}`, k),
    entityPrecision: ratio(k.entTp, k.entTp + k.entFp),
    entityRecall: k.found / Math.max(1, k.labelled),
  }));

  // --- bot sessions
  let tp = 0;
  let fp = 0;
  let botCount = 0;
  let sessions = 0;
  const botLat: number[] = [];
  for (const seed of o.seeds) {
    const sc = sessionScenario({ seed });
    const model = new BotSessionModel(o.bots);
    const flagged = new Map<string, number>();
    for (const e of sc.events) for (const f of model.add(e)) flagged.set(f.session_id, (e.t - f.end) / 1000);
    for (const f of model.advance(sc.to + 2 * o.bots.sessionGapMs)) flagged.set(f.session_id, o.bots.sessionGapMs / 1000);
    // Sessions that closed before the first model existed cannot be judged: count only later ones.
    const ids = new Set(sc.events.map((e) => e.session_id));
    sessions += ids.size;
    botCount += sc.bots.size;
    for (const [id, lat] of flagged) {
      if (sc.bots.has(id)) {
        tp++;
        botLat.push(lat);
      } else fp++;
    }
  }
  return {
    ...site,
    bursts,
    burstFalsePerDay: burstClean / Math.max(1e-9, burstCleanDays),
    bots: { precision: ratio(tp, tp + fp), recall: tp / Math.max(1, botCount), sessions, bots: botCount, flagged: tp + fp, latencyP95S: quantile(botLat, 0.95) },
  };
}

function result(kind: string, k: { tp: number; fp: number; found: number; labelled: number; lat: number[] }): KindResult {
  return {
    kind,
    tp: k.tp,
    fp: k.fp,
    found: k.found,
    labelled: k.labelled,
    precision: ratio(k.tp, k.tp + k.fp),
    recall: k.found / Math.max(1, k.labelled),
    latencyP50: quantile(k.lat, 0.5),
    latencyP95: quantile(k.lat, 0.95),
  };
}

export function runSite(windows: { t: number; visitors: number; purchases: number; revenue: number }[], stepMs: number, options: Omit<SiteDetectorOptions, 'stepMs'>): SiteFinding[] {
  const d = new SiteDetector({ ...options, stepMs });
  return windows.flatMap((w) => d.push(w));
}

export function runBursts(clicks: { t: number; visitor: string; network: string; site: string }[], o: Pick<EvalOptions, 'visitorBursts' | 'networkBursts'>) {
  const d = new ClickBurstDetectors(o.visitorBursts, o.networkBursts);
  return clicks.flatMap((c) => d.add(c)).map((h) => ({ scope: h.scope, key: h.scope === 'network' ? `${h.site}|${h.entity}` : h.entity, at: h.at }));
}
