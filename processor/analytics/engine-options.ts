/**
 * What the analytics engine (engine.ts) is built with and what it hands back: its settings, the
 * documents it asks to write, and what became of each event.
 */
import type { KpiDoc, SessionDoc, UrlStatsDoc } from '../../contracts/documents.js';
import type { WindowSpec } from '../../contracts/windows.js';

export interface EngineOptions {
  partition: number;
  /** The event topics, in a fixed order; `add` takes the index into this list. */
  topics: readonly string[];
  /** KPI window kinds (tumbling and sliding). */
  windows: readonly WindowSpec[];
  /** Size of the URL x country windows. */
  urlWindowMs: number;
  latenessMs: number;
  sessionGapMs: number;
  /** Leave events with is_bot out of KPIs, sessions and URL stats. */
  excludeBots: boolean;
  /** A repeat of an event counted at most this many offsets before it in its topic-partition, by its open session, is dropped (recent-counts.ts); default 50,000. */
  repeatHorizon?: number;
}

export const DEFAULT_REPEAT_HORIZON = 50_000;

/** A document to write, with the index it goes to and its deterministic id. */
export type OutDoc = { index: 'kpis'; id: string; doc: KpiDoc } | { index: 'urlStats'; id: string; doc: UrlStatsDoc } | { index: 'sessions'; id: string; doc: SessionDoc };
export type OutIndex = OutDoc['index'];

export type AddResult = 'ok' | 'late' | 'skipped' | 'bot' | 'invalid' | 'repeat';
export type LateReason = 'behind_partition' | 'behind_watermark';

/**
 * What the drain of each kind of structure is given: the watermark, whether open structures that
 * changed are written now, the per-topic hold to lower to what its open structures still need,
 * and where the documents go.
 */
export interface DrainContext {
  watermark: number;
  emitOpen: boolean;
  hold: number[];
  out: OutDoc[];
}

export const iso = (ms: number): string => new Date(ms).toISOString();
