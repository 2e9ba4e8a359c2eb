/**
 * The detectors' options from the processor's settings (contracts/config.ts), so that the
 * processor, `npm run anomaly:score` and `npm run anomaly:eval` run the same detectors.
 */
import type { Config } from '../../contracts/config.js';
import { DEFAULT_BURST_OPTIONS, type BurstOptions, type BurstSpan } from './burst.js';
import { DEFAULT_SITE_OPTIONS, type SiteDetectorOptions } from './site.js';
import { DEFAULT_BOT_OPTIONS, type BotSessionOptions } from './bot-sessions.js';

export class AnomalyConfigError extends Error {}

export type AnomalyConfig = Pick<
  Config,
  | 'anomalyBurstSpans'
  | 'anomalyNetworkSpans'
  | 'anomalyBurstK'
  | 'anomalyNetworkSelfFactor'
  | 'anomalyBurstCooldownS'
  | 'anomalyBurstMaxKeys'
  | 'anomalyBotThreshold'
  | 'anomalyBotRefreshS'
  | 'anomalyBotMinTraining'
  | 'anomalyBotSessionGapS'
  | 'anomalySiteStepS'
  | 'anomalySiteTrafficThreshold'
  | 'anomalySitePurchasesThreshold'
  | 'anomalySiteKOfN'
  | 'anomalySiteConversionFall'
  | 'anomalySiteConversionEvidence'
  | 'anomalySiteTrafficMinRise'
  | 'anomalySiteTrafficMaxFall'
>;

export interface AnomalyOptions {
  visitorBursts: BurstOptions;
  networkBursts: BurstOptions;
  bots: BotSessionOptions;
  site: SiteDetectorOptions;
}

function number(name: string, raw: string, min: number, max: number): number {
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || x < min || x > max) throw new AnomalyConfigError(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return x;
}

/** "10:8,60:25" -> spans of 10 s (floor 8) and 60 s (floor 25). */
export function parseSpans(name: string, raw: string): BurstSpan[] {
  const spans = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^(\d+):(\d+)$/.exec(part);
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new AnomalyConfigError(`${name}: "${part}" is not SECONDS:MIN_CLICKS (both at least 1)`);
      return { spanMs: Number(m[1]) * 1000, floor: Number(m[2]) };
    });
  if (spans.length === 0) throw new AnomalyConfigError(`${name} needs at least one SECONDS:MIN_CLICKS span`);
  return spans;
}

/** Network bursts wait for five of their longest spans after a start, until networks' usual counts are known. */
function networkBursts(burst: BurstOptions, spans: BurstSpan[], selfFactor: number): BurstOptions {
  return { ...burst, spans, selfFactor, warmupMs: 5 * Math.max(...spans.map((s) => s.spanMs)) };
}

export function anomalyOptionsFromConfig(c: AnomalyConfig): AnomalyOptions {
  const k = number('ANOMALY_BURST_K', c.anomalyBurstK, 0, 1000);
  const burst = { ...DEFAULT_BURST_OPTIONS, k, cooldownMs: c.anomalyBurstCooldownS * 1000, maxKeys: Math.max(1, c.anomalyBurstMaxKeys) };
  const kn = /^(\d+)\/(\d+)$/.exec(c.anomalySiteKOfN.trim());
  if (!kn || Number(kn[1]) < 1 || Number(kn[1]) > Number(kn[2])) throw new AnomalyConfigError(`ANOMALY_SITE_K_OF_N must be K/N with 1 <= K <= N, got "${c.anomalySiteKOfN}"`);
  if (c.anomalySiteStepS < 1) throw new AnomalyConfigError('ANOMALY_SITE_STEP_S must be at least 1');
  return {
    visitorBursts: { ...burst, spans: parseSpans('ANOMALY_BURST_SPANS', c.anomalyBurstSpans) },
    networkBursts: networkBursts(burst, parseSpans('ANOMALY_NETWORK_SPANS', c.anomalyNetworkSpans), number('ANOMALY_NETWORK_SELF_FACTOR', c.anomalyNetworkSelfFactor, 0, 1000)),
    bots: {
      ...DEFAULT_BOT_OPTIONS,
      threshold: number('ANOMALY_BOT_THRESHOLD', c.anomalyBotThreshold, 0, 1),
      refreshMs: c.anomalyBotRefreshS * 1000,
      minTraining: Math.max(2, c.anomalyBotMinTraining),
      sessionGapMs: c.anomalyBotSessionGapS * 1000,
    },
    site: {
      ...DEFAULT_SITE_OPTIONS,
      stepMs: c.anomalySiteStepS * 1000,
      trafficThreshold: number('ANOMALY_SITE_TRAFFIC_THRESHOLD', c.anomalySiteTrafficThreshold, 0, 1000),
      purchasesThreshold: number('ANOMALY_SITE_PURCHASES_THRESHOLD', c.anomalySitePurchasesThreshold, 0, 1000),
      trafficMinRise: number('ANOMALY_SITE_TRAFFIC_MIN_RISE', c.anomalySiteTrafficMinRise, 1, 1000),
      trafficMaxFall: number('ANOMALY_SITE_TRAFFIC_MAX_FALL', c.anomalySiteTrafficMaxFall, 0, 1),
      conversionRatio: number('ANOMALY_SITE_CONVERSION_FALL', c.anomalySiteConversionFall, 0.001, 0.999),
      conversionThreshold: number('ANOMALY_SITE_CONVERSION_EVIDENCE', c.anomalySiteConversionEvidence, 0.1, 1000),
      k: Number(kn[1]),
      n: Number(kn[2]),
    },
  };
}
