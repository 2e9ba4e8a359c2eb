/**
 * Alert documents (contracts/documents.ts ALERT_FIELDS) from what the detectors found. The id is
 * a function of what raised the alert only (kind, site, key, event time of the raising event), so
 * a replay that raises it again writes the same document, and webhook receivers can deduplicate.
 */
import type { AlertDoc } from '../../contracts/documents.js';
import type { ClickBurst } from '../anomaly/burst.js';
import type { BotFinding } from '../anomaly/bot-sessions.js';
import type { SiteFinding } from '../anomaly/site.js';

const iso = (ms: number) => new Date(ms).toISOString();
const evidenceJson = (x: object) => JSON.stringify(x).slice(0, 2000);

export function burstAlert(b: ClickBurst): AlertDoc {
  const kind = b.scope === 'visitor' ? 'click_burst' : 'network_burst';
  const at = iso(b.at);
  const ratio = b.count / b.threshold;
  return {
    alert_id: `${kind}|${b.site ?? ''}|${b.entity}|${at}`,
    kind,
    severity: ratio >= 3 ? 'critical' : 'warning',
    visitor_id: b.scope === 'visitor' ? b.entity : null,
    site_id: b.site,
    key: b.entity,
    message: `${b.count} clicks in ${b.spanMs / 1000} s from ${b.scope === 'visitor' ? 'visitor' : 'network'} ${b.entity} (threshold ${Math.round(b.threshold * 10) / 10})`,
    value: b.count,
    threshold: Math.round(b.threshold * 100) / 100,
    expected: Number.isFinite(b.populationMedian) ? b.populationMedian : null,
    score: Math.round(ratio * 100) / 100,
    evidence: evidenceJson({ span_s: b.spanMs / 1000, floor: b.floor, population_median: b.populationMedian, population_mad: b.populationMad, usual: Math.round(b.usual * 100) / 100 }),
    window_start: iso(b.at - b.spanMs),
    window_end: at,
    event_time: at,
    raised_at: at,
  };
}

export function botAlert(f: BotFinding, threshold: number): AlertDoc {
  const end = iso(f.end);
  return {
    alert_id: `bot_session|${f.site_id ?? ''}|${f.session_id}`,
    kind: 'bot_session',
    severity: f.score >= threshold + 0.1 ? 'critical' : 'warning',
    visitor_id: f.visitor_id,
    site_id: f.site_id,
    key: f.session_id,
    message: `session ${f.session_id} looks scripted (isolation score ${f.score.toFixed(3)}, ${f.events} events)`,
    value: Math.round(f.score * 1000) / 1000,
    threshold,
    expected: null,
    score: Math.round(f.score * 1000) / 1000,
    evidence: evidenceJson({ features: f.features, events: f.events }),
    window_start: iso(f.start),
    window_end: end,
    event_time: end,
    raised_at: end,
  };
}

const SITE_MESSAGE: Record<SiteFinding['kind'], string> = {
  traffic_spike: 'traffic far above its usual level, without the purchases that usually come with it',
  traffic_drop: 'traffic far below its usual level',
  purchases_stopped: 'purchases stopped while visitors kept coming',
  conversion_drop: 'conversion far below its usual rate',
};

/**
 * A site-level alert: raised by the window `f.t` .. `f.t + stepMs` of the site's KPI series, so
 * its id and times are the window's (the detector judges each window once every partition sealed it).
 */
export function siteAlert(site: string, f: SiteFinding, stepMs: number, threshold: number): AlertDoc {
  const start = iso(f.t);
  const end = iso(f.t + stepMs);
  return {
    alert_id: `${f.kind}|${site}|${start}`,
    kind: f.kind,
    severity: Math.abs(f.score) >= 2 * threshold ? 'critical' : 'warning',
    visitor_id: null,
    site_id: site,
    key: site,
    message: `${site}: ${SITE_MESSAGE[f.kind]} (${f.observed} observed, ${f.expected} expected in the ${stepMs / 1000} s window from ${start})`,
    value: f.observed,
    threshold,
    expected: f.expected,
    score: f.score,
    evidence: evidenceJson({ ...f.evidence, windows_summed: f.scale, step_s: stepMs / 1000 }),
    window_start: start,
    window_end: end,
    event_time: end,
    raised_at: end,
  };
}
