/**
 * KPI window kinds: their names are written into documents and ids by the processor and
 * filtered on by the dashboards, so both derive them here from the same settings.
 *
 * A window kind has a size and a step. Tumbling windows have step = size; sliding windows
 * overlap (size 5 min every 1 min: each event belongs to five windows). Window starts are
 * multiples of the step since the epoch, so every instance and every replay cuts the same
 * windows (processor/analytics/windows.ts).
 */
import type { Config } from './config.js';

export interface WindowSpec {
  /** Name written into documents and ids: `tumbling_1m`, `sliding_5m_1m`. */
  kind: string;
  sizeMs: number;
  stepMs: number;
}

function span(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function tumbling(sizeMs: number): WindowSpec {
  if (!(sizeMs > 0)) throw new Error('window size must be positive');
  return { kind: `tumbling_${span(sizeMs)}`, sizeMs, stepMs: sizeMs };
}

export function sliding(sizeMs: number, stepMs: number): WindowSpec {
  if (!(sizeMs > 0) || !(stepMs > 0)) throw new Error('window size and step must be positive');
  if (sizeMs % stepMs !== 0) throw new Error(`sliding window size ${sizeMs} ms must be a multiple of its step ${stepMs} ms`);
  if (sizeMs === stepMs) return tumbling(sizeMs);
  return { kind: `sliding_${span(sizeMs)}_${span(stepMs)}`, sizeMs, stepMs };
}

export type WindowSettings = Pick<Config, 'kpiTumblingS' | 'kpiSlidingSizeS' | 'kpiSlidingStepS'>;

/** The KPI window kinds the processor computes with these settings: one tumbling, and one sliding unless its size is 0. */
export function windowSpecs(cfg: WindowSettings): WindowSpec[] {
  const specs = [tumbling(cfg.kpiTumblingS * 1000)];
  if (cfg.kpiSlidingSizeS > 0) {
    const s = sliding(cfg.kpiSlidingSizeS * 1000, cfg.kpiSlidingStepS * 1000);
    if (s.kind !== specs[0].kind) specs.push(s);
  }
  return specs;
}

/** The names of `windowSpecs(cfg)`, tumbling first. */
export const windowKinds = (cfg: WindowSettings): string[] => windowSpecs(cfg).map((s) => s.kind);
