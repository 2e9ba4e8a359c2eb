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
  /**
   * While a topic of the partition has more than this many records beyond the engine's read
   * position in its log (as of the last `setLogOffsets`), `drain` and `openKpiDocs` write no open
   * structure (final documents only): catching up, their current values would be superseded at
   * once, and writing them took about a third of the role's CPU. 0 or absent: always written.
   */
  catchUpRecords?: number;
}

export const DEFAULT_REPEAT_HORIZON = 50_000;

/** A document to write, with the index it goes to and its deterministic id. */
export type OutDoc = { index: 'kpis'; id: string; doc: KpiDoc } | { index: 'urlStats'; id: string; doc: UrlStatsDoc } | { index: 'sessions'; id: string; doc: SessionDoc };
export type OutIndex = OutDoc['index'];

/**
 * The external version a document is written with (`external_gte`). A sealed document (a final
 * window, a closed session) outranks every provisional one, so a provisional write that lands
 * late never overwrites it: a bulk of the partition's previous owner still in flight (or retried)
 * after a rebalance, or of an instance that no longer knows it lost the partition. Equal versions
 * overwrite: a replay writes the same values again, and open documents replace each other as
 * before. Both lie far above the internal versions (one per write) of documents written before.
 */
export const OPEN_DOC_VERSION = 1e15;
export const SEALED_DOC_VERSION = 2e15;

export function docVersion(d: OutDoc): number {
  const sealed = d.index === 'sessions' ? d.doc.closed : d.doc.final;
  return sealed ? SEALED_DOC_VERSION : OPEN_DOC_VERSION;
}

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
