/**
 * The open structures of the analytics engine (kpi-windows.ts, url-windows.ts, open-sessions.ts):
 * KPI windows and URL x country windows ("buckets" of cells, one cell per dimension value or URL
 * x country) and sessions. Each remembers, per topic, the first offset that contributed to it
 * (`minOff`): the engine never lets a commit pass it while the structure is open.
 */
import type { WindowSpec } from '../../contracts/windows.js';
import type { Dimension } from '../../contracts/documents.js';
import type { KpiAcc } from './kpi.js';
import type { SessionAcc, VisitTracker } from './session.js';
import type { UrlAcc } from './url-stats.js';

/** A cell of a window bucket: `changed` while it is in its bucket's `changed` list. */
export interface Cell {
  changed: boolean;
}

/** What every window bucket has: its cells (creation order), those changed since the last emit, and its offsets. */
export interface CellBucket<C extends Cell> {
  start: number;
  end: number;
  minOff: number[];
  cells: C[];
  changed: C[];
}

export interface KpiCell extends Cell {
  dimension: Dimension;
  value: string;
  acc: KpiAcc;
  /** Its document id, once computed. */
  id?: string;
}
export interface KpiBucket extends CellBucket<KpiCell> {
  spec: WindowSpec;
  /** `start` and `end` as written in its documents. */
  startIso: string;
  endIso: string;
  /** Position of `spec` in the engine's window kinds. */
  specIndex: number;
  /** Per dimension (index in DIMENSIONS): dimension value -> cell. */
  byValue: Map<string, KpiCell>[];
  /** Site and event id of the late events whose marker is in this window (repeats are dropped). */
  lateIds?: string[];
}
export interface SessionState {
  acc: SessionAcc;
  /** Its page views waiting for their time on page, each with its URL x country cell. */
  visits: VisitTracker<UrlCell>;
  minOff: number[];
  /** Starts of the URL windows holding this session's page views, and the last one added (most views are in it). */
  urlWindows: Set<number>;
  lastUrlWindow: number;
  /** Changed and not yet written: in its OpenSessions' `dirty` set. */
  dirty: boolean;
  /** The due slot it is filed under (open-sessions.ts), or NaN. */
  slot: number;
  /** Closed and written: forgotten by the engine. */
  closed: boolean;
}
export interface UrlCell extends Cell {
  url: string;
  country: string;
  site_id: string | null;
  acc: UrlAcc;
  /** Its document id, once computed (a hash of the window, URL, country and site). */
  id?: string;
}
export interface UrlBucket extends CellBucket<UrlCell> {
  /** URL -> country -> its cells, one per site (nearly always one: a URL is one site's). */
  byUrl: Map<string, Map<string, UrlCell[]>>;
  /** `start` and `end` as written in its documents. */
  startIso: string;
  endIso: string;
  /** Page views in this window whose time on page is not settled yet. */
  pending: number;
}

/** Lowers every entry of `into` to the matching entry of `from` where that is smaller (per-topic offsets). */
export function lowerEach(into: number[], from: readonly number[]): void {
  for (let t = 0; t < into.length; t++) if (from[t] < into[t]) into[t] = from[t];
}

/** Marks a cell changed (written at the next emit of open windows). */
export function touch<C extends Cell>(bucket: CellBucket<C>, cell: C): void {
  if (cell.changed) return;
  cell.changed = true;
  bucket.changed.push(cell);
}

/**
 * One window bucket at a drain. Sealed: every cell's final document (none when `silent`: written
 * before a restart). Open: when `emitOpen`, the documents of the cells changed since the last
 * emit, and the bucket's offsets lower the hold.
 */
export function drainBucket<C extends Cell, D>(bucket: CellBucket<C>, sealed: boolean, silent: boolean, doc: (cell: C) => D, ctx: { emitOpen: boolean; hold: number[]; out: D[] }): void {
  if (sealed || ctx.emitOpen) {
    if (!silent) for (const cell of sealed ? bucket.cells : bucket.changed) ctx.out.push(doc(cell));
    for (const cell of bucket.changed) cell.changed = false;
    bucket.changed.length = 0;
  }
  if (!sealed) lowerEach(ctx.hold, bucket.minOff);
}
