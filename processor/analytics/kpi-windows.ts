/**
 * The open KPI windows of one partition (every window kind, start, dimension and value) and the
 * late markers they hold; sealed when the watermark passes their end. Part of the analytics
 * engine (engine.ts).
 *
 * Speed: an event is in every window holding its time (1 tumbling + 5 sliding by default) in 4
 * or 5 dimensions. Every window is a run of panes (the gcd of the kinds' steps: 1 minute by
 * default), and the distinct sets (visitors, sessions, carting and buying visitors) are kept per
 * pane only, as sets of handles (handles.ts, int-set.ts); a window keeps the sizes of the unions
 * of its panes' sets. An event looks its dimension values up once (a row per dimension value,
 * which finds the pane's cell, which links the cells of every window holding the pane) and
 * touches the sets of its pane only; only a visitor or session new to the pane is looked up in
 * the neighbouring panes, to tell which of the windows it is new to. A sliding window thus holds
 * no set of its own, and a pane's sets go when the last window holding them is sealed.
 */
import { DIMENSIONS, kpiDocId, type KpiDoc } from '../../contracts/documents.js';
import type { AnalyticsEvent } from './analytics-event.js';
import type { WindowSpec } from '../../contracts/windows.js';
import * as kpi from './kpi.js';
import { drainBucket, touch, type KpiBucket, type KpiCell } from './buckets.js';
import { iso, type DrainContext, type OutDoc } from './engine-options.js';
import type { Handles } from './handles.js';
import { repeatKey } from './repeat-key.js';
import { windowStarts } from './windows.js';

/** One pane of time, while some window holding it is open. */
interface Pane {
  start: number;
  /** start / paneMs: a small integer, so a Map keyed by it hashes without boxing a number (a start in ms does not fit). */
  index: number;
  /** Start of the first window holding it, and end of the last one (the pane goes when the watermark passes it). */
  lo: number;
  maxEnd: number;
  /** Every window holding it: kinds in order, starts ascending. */
  windows: KpiBucket[];
  cells: PaneCell[];
}
/** One dimension value's cell of a pane: its distinct members, and its cell in each window of the pane. */
interface PaneCell {
  pane: Pane;
  row: Row;
  members: kpi.KpiMembers;
  /** Parallel to `pane.windows`. */
  windows: KpiCell[];
}
/** One dimension value: its cells in the open panes (by pane index), and the one used last. */
interface Row {
  d: number;
  value: string;
  cells: Map<number, PaneCell>;
  last: PaneCell | null;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export class KpiWindows {
  private readonly partition: number;
  private readonly topicCount: number;
  private readonly specs: readonly WindowSpec[];
  private readonly visitorIds: Handles;
  private readonly sessionIds: Handles;
  /** Pane length: every window kind's step (and so its size) is a multiple of it. */
  private readonly paneMs: number;
  /** Per window kind: start -> bucket. */
  private readonly buckets: Map<number, KpiBucket>[];
  private readonly panes = new Map<number, Pane>();
  private lastPane: Pane | null = null;
  /** Per dimension (index in DIMENSIONS): value -> row. */
  private readonly rows: Map<string, Row>[];
  /** Late events by site and event id -> the open window holding their marker. */
  private readonly lateSeen = new Map<string, KpiBucket>();
  /** Scratch: the event's dimension values; per pane from a pane's `lo`, the NEW_* bits of the sets holding the event's members. */
  private readonly values: string[] = [];
  private readonly near: number[] = [];
  /** Scratch for `emitOpen`: the hold it lowers is not the engine's (only `drain` moves the commit point). */
  private readonly scratchHold: number[];

  constructor(partition: number, topicCount: number, specs: readonly WindowSpec[], visitorIds: Handles, sessionIds: Handles) {
    this.partition = partition;
    this.topicCount = topicCount;
    this.specs = specs;
    this.visitorIds = visitorIds;
    this.sessionIds = sessionIds;
    this.paneMs = specs.reduce((g, s) => gcd(s.stepMs, g), 0);
    this.buckets = specs.map(() => new Map());
    this.rows = DIMENSIONS.map(() => new Map());
    this.scratchHold = new Array<number>(topicCount).fill(Infinity);
  }

  get size(): number {
    let n = 0;
    for (const m of this.buckets) n += m.size;
    return n;
  }

  /** An on-time event at event time `ts`, of the visitor and session with these handles: counted in every window holding it. */
  add(e: AnalyticsEvent, t: number, offset: number, ts: number, visitor: number, session: number): void {
    const pane = this.pane(ts - (((ts % this.paneMs) + this.paneMs) % this.paneMs));
    const ws = pane.windows;
    for (let i = 0; i < ws.length; i++) if (offset < ws[i].minOff[t]) ws[i].minOff[t] = offset;
    const values = this.values;
    const dims = kpi.dimensionValuesInto(e, values);
    for (let d = 0; d < dims; d++) {
      const c = this.cell(pane, d, values[d]);
      const bits = kpi.addMembers(c.members, e, visitor, session);
      if (bits !== 0) {
        // The pane's cell of dimension `all` holds every member of the pane: its sets count the handles.
        if (d === 0 && (bits & kpi.NEW_VISITOR) !== 0) this.visitorIds.ref(visitor);
        if (d === 0 && (bits & kpi.NEW_SESSION) !== 0) this.sessionIds.ref(session);
        this.nearMembers(c, visitor, session);
      }
      for (let i = 0; i < ws.length; i++) {
        const w = c.windows[i];
        kpi.addCounts(w.acc, e);
        if (bits !== 0) this.gain(w, ws[i], c, bits, visitor);
        touch(ws[i], w);
      }
    }
  }

  /** A late event: counted in `late_events` of the windows holding `at` (at or after the watermark, so still open). */
  addLate(e: AnalyticsEvent, t: number, offset: number, at: number): void {
    const pane = this.pane(at - (((at % this.paneMs) + this.paneMs) % this.paneMs));
    const ws = pane.windows;
    for (let i = 0; i < ws.length; i++) if (offset < ws[i].minOff[t]) ws[i].minOff[t] = offset;
    const values = this.values;
    const dims = kpi.dimensionValuesInto(e, values);
    for (let d = 0; d < dims; d++) {
      const c = this.cell(pane, d, values[d]);
      for (let i = 0; i < ws.length; i++) {
        kpi.addLate(c.windows[i].acc);
        touch(ws[i], c.windows[i]);
      }
    }
    // Remembered while the first window holding it is open (it holds the commit at or below this offset).
    const id = repeatKey(e);
    if (!this.lateSeen.has(id)) {
      this.lateSeen.set(id, ws[0]);
      (ws[0].lateIds ??= []).push(id);
    }
  }

  /** A late event with this repeat key is counted in a window still open. */
  holdsLate(id: string): boolean {
    const b = this.lateSeen.get(id);
    return b !== undefined && this.buckets[b.specIndex].get(b.start) === b;
  }

  /**
   * Seals the windows the watermark has passed (final documents, unless they end at or before
   * `restoredWatermark`: written before a restart) and emits the changed open ones when asked;
   * drops the panes no open window holds.
   */
  drain(ctx: DrainContext, restoredWatermark: number): void {
    for (const buckets of this.buckets) {
      for (const [start, b] of buckets) {
        const sealed = ctx.watermark >= b.end;
        drainBucket(b, sealed, b.end <= restoredWatermark, (cell) => this.doc(b, cell, sealed), ctx);
        if (!sealed) continue;
        buckets.delete(start);
        for (const id of b.lateIds ?? []) if (this.lateSeen.get(id) === b) this.lateSeen.delete(id);
      }
    }
    for (const pane of this.panes.values()) if (ctx.watermark >= pane.maxEnd) this.dropPane(pane);
  }

  /**
   * The current documents of the open KPI windows changed since they were last written, without
   * sealing anything (the next `drain` seals and holds the commit as before); none for windows
   * ending at or before `restoredWatermark` (written before a restart).
   */
  emitOpen(out: OutDoc[], restoredWatermark: number): void {
    const ctx = { emitOpen: true, hold: this.scratchHold, out };
    for (const buckets of this.buckets) for (const b of buckets.values()) drainBucket(b, false, b.end <= restoredWatermark, (cell) => this.doc(b, cell, false), ctx);
  }

  /**
   * Window `b` holds pane cell `c`, whose sets just took the event's members of `bits`: the
   * members new to the whole window count in `w`. A window of one pane gains what the pane
   * gained; a longer one what no other pane of it holds (`near`, from `nearMembers`).
   */
  private gain(w: KpiCell, b: KpiBucket, c: PaneCell, bits: number, visitor: number): void {
    let others = 0;
    if (b.spec.sizeMs !== this.paneMs) {
      const from = (b.start - c.pane.lo) / this.paneMs;
      const self = (c.pane.start - c.pane.lo) / this.paneMs;
      for (let j = from, to = from + b.spec.sizeMs / this.paneMs; j < to; j++) if (j !== self) others |= this.near[j];
    }
    const gained = bits & ~others;
    if (gained === 0) return;
    const m = c.members;
    const both = ((gained & kpi.NEW_CARTER) !== 0 && ((others & kpi.NEW_BUYER) !== 0 || m[kpi.BUYERS].has(visitor))) || ((gained & kpi.NEW_BUYER) !== 0 && ((others & kpi.NEW_CARTER) !== 0 || m[kpi.CARTERS].has(visitor)));
    kpi.addDistinct(w.acc, gained, both);
  }

  /** Fills `near` with, per pane from `c`'s pane's `lo`, which of that pane's sets in `c`'s row hold the visitor and session. */
  private nearMembers(c: PaneCell, visitor: number, session: number): void {
    const { lo, maxEnd, index } = c.pane;
    // Pane starts, and so `lo`, are multiples of paneMs: the quotients are exact integers.
    for (let k = lo / this.paneMs, j = 0, to = maxEnd / this.paneMs; k < to; k++, j++) {
      const n = k === index ? undefined : c.row.cells.get(k);
      if (n === undefined) {
        this.near[j] = 0;
        continue;
      }
      const m = n.members;
      this.near[j] =
        (m[kpi.VISITORS].has(visitor) ? kpi.NEW_VISITOR : 0) |
        (m[kpi.SESSIONS].has(session) ? kpi.NEW_SESSION : 0) |
        (m[kpi.CARTERS].has(visitor) ? kpi.NEW_CARTER : 0) |
        (m[kpi.BUYERS].has(visitor) ? kpi.NEW_BUYER : 0);
    }
  }

  /** The pane starting at `start`, with every window holding it (created as needed). */
  private pane(start: number): Pane {
    const last = this.lastPane;
    if (last !== null && last.start === start) return last;
    let p = this.panes.get(start);
    if (!p) {
      const windows: KpiBucket[] = [];
      for (let k = 0; k < this.specs.length; k++) for (const s of windowStarts(start, this.specs[k])) windows.push(this.bucket(k, s));
      let lo = Infinity;
      let maxEnd = -Infinity;
      for (const b of windows) {
        if (b.start < lo) lo = b.start;
        if (b.end > maxEnd) maxEnd = b.end;
      }
      p = { start, index: start / this.paneMs, lo, maxEnd, windows, cells: [] };
      this.panes.set(start, p);
    }
    this.lastPane = p;
    return p;
  }

  /** The pane's cell of dimension `d`'s `value` (created, with its cells in the pane's windows, as needed). */
  private cell(pane: Pane, d: number, value: string): PaneCell {
    let row = this.rows[d].get(value);
    if (!row) {
      row = { d, value, cells: new Map(), last: null };
      this.rows[d].set(value, row);
    }
    const last = row.last;
    if (last !== null && last.pane === pane) return last;
    let c = row.cells.get(pane.index);
    if (!c) {
      c = { pane, row, members: kpi.initMembers(), windows: pane.windows.map((b) => this.windowCell(b, d, row.value)) };
      row.cells.set(pane.index, c);
      pane.cells.push(c);
    }
    row.last = c;
    return c;
  }

  /** Every window holding the pane is sealed: its cells go, and the handles only they held. */
  private dropPane(pane: Pane): void {
    this.panes.delete(pane.start);
    if (this.lastPane === pane) this.lastPane = null;
    for (const c of pane.cells) {
      const row = c.row;
      row.cells.delete(pane.index);
      if (row.last === c) row.last = null;
      if (row.cells.size === 0) this.rows[row.d].delete(row.value);
      if (row.d !== 0) continue;
      c.members[kpi.VISITORS].forEach((h) => this.visitorIds.unref(h));
      c.members[kpi.SESSIONS].forEach((h) => this.sessionIds.unref(h));
    }
  }

  private bucket(k: number, start: number): KpiBucket {
    let b = this.buckets[k].get(start);
    if (!b) {
      const spec = this.specs[k];
      b = {
        spec,
        specIndex: k,
        start,
        end: start + spec.sizeMs,
        startIso: iso(start),
        endIso: iso(start + spec.sizeMs),
        minOff: new Array<number>(this.topicCount).fill(Infinity),
        cells: [],
        changed: [],
        byValue: DIMENSIONS.map(() => new Map()),
      };
      this.buckets[k].set(start, b);
    }
    return b;
  }

  private windowCell(b: KpiBucket, d: number, value: string): KpiCell {
    let cell = b.byValue[d].get(value);
    if (!cell) {
      cell = { dimension: DIMENSIONS[d], value, acc: kpi.init(), changed: false };
      b.byValue[d].set(value, cell);
      b.cells.push(cell);
    }
    return cell;
  }

  private doc(b: KpiBucket, cell: KpiCell, final: boolean): OutDoc {
    const doc: KpiDoc = {
      window_kind: b.spec.kind,
      window_start: b.startIso,
      window_end: b.endIso,
      dimension: cell.dimension,
      dimension_value: cell.value,
      partition: this.partition,
      ...kpi.result(cell.acc),
      final,
    };
    return { index: 'kpis', id: (cell.id ??= kpiDocId(doc)), doc };
  }
}
