/**
 * The open structures of the analytics engine (kpi-windows.ts, url-windows.ts, open-sessions.ts): KPI windows and
 * URL x country windows ("buckets" of cells, one cell per dimension value or URL x country) and
 * sessions. Each remembers, per topic, the first offset that contributed to it (`minOff`): the
 * engine never lets a commit pass it while the structure is open.
 */
import type { WindowSpec } from '../../contracts/windows.js';
import type { Dimension } from '../../contracts/documents.js';
import type { KpiAcc } from './kpi.js';
import type { SessionAcc, VisitTracker } from './session.js';
import type { UrlAcc } from './url-stats.js';

export interface KpiCell {
  dimension: Dimension;
  value: string;
  acc: KpiAcc;
}
export interface KpiBucket {
  spec: WindowSpec;
  start: number;
  end: number;
  minOff: number[];
  cells: Map<string, KpiCell>;
  dirty: Set<string>;
  /** Site and event id of the late events whose marker is in this window (repeats are dropped). */
  lateIds?: string[];
}
export interface SessionState {
  acc: SessionAcc;
  visits: VisitTracker;
  minOff: number[];
  /** Starts of the URL windows holding this session's page views. */
  urlWindows: Set<number>;
  dirty: boolean;
  /** Site and event id of every event counted in the session (repeats are dropped). */
  ids: Set<string>;
}
export interface UrlCell {
  url: string;
  country: string;
  acc: UrlAcc;
}
export interface UrlBucket {
  start: number;
  end: number;
  minOff: number[];
  cells: Map<string, UrlCell>;
  dirty: Set<string>;
  /** Page views in this window whose time on page is not settled yet. */
  pending: number;
}

/** Lowers every entry of `into` to the matching entry of `from` where that is smaller (per-topic offsets). */
export function lowerEach(into: number[], from: readonly number[]): void {
  for (let t = 0; t < into.length; t++) if (from[t] < into[t]) into[t] = from[t];
}

/**
 * One window bucket at a drain. Sealed: every cell's final document (none when `silent`: written
 * before a restart). Open: when `emitOpen`, the documents of the cells changed since the last
 * emit, and the bucket's offsets lower the hold.
 */
export function drainBucket<C, D>(
  bucket: { cells: Map<string, C>; dirty: Set<string>; minOff: number[] },
  sealed: boolean,
  silent: boolean,
  doc: (cell: C) => D,
  ctx: { emitOpen: boolean; hold: number[]; out: D[] },
): void {
  if (sealed || ctx.emitOpen) {
    if (!silent) for (const [key, cell] of bucket.cells) if (sealed || bucket.dirty.has(key)) ctx.out.push(doc(cell));
    bucket.dirty.clear();
  }
  if (!sealed) lowerEach(ctx.hold, bucket.minOff);
}
