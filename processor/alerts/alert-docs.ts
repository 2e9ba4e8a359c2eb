/**
 * Alert documents (contracts/documents.ts ALERT_FIELDS) from what the detectors found. The id is
 * a function of what raised the alert only (kind, site, key, event time of the raising event), so
 * a replay that raises it again writes the same document, and webhook receivers can deduplicate.
 */
import type { AlertDoc } from '../../contracts/documents.js';
import type { ClickBurst } from '../anomaly/burst.js';
import type { BotFinding } from '../anomaly/bot-sessions.js';

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
