/**
 * The open KPI windows of one partition (every window kind, start, dimension and value) and the
 * late markers they hold; sealed when the watermark passes their end. Part of the analytics
 * engine (engine.ts).
 *
 * Speed: an event touches every window holding it (1 tumbling + 5 sliding by default) in 4 or 5
 * dimensions. The counts are cheap; the distinct sets (visitors, sessions, carting and buying
 * visitors) are not. A sliding window whose step is the size of a tumbling window holds every
 * tumbling window (pane) it overlaps, so a visitor already in the pane's set is already in each
 * sliding window's: the sliding windows look up only what was new to the pane.
 */
import { DIMENSIONS, kpiDocId, type KpiDoc } from '../../contracts/documents.js';
import type { AnalyticsEvent } from './analytics-event.js';
import type { WindowSpec } from '../../contracts/windows.js';
import * as kpi from './kpi.js';
import { drainBucket, touch, type KpiBucket, type KpiCell } from './buckets.js';
import { iso, type DrainContext, type OutDoc } from './engine-options.js';
import { repeatKey } from './repeat-key.js';
import { windowStarts } from './windows.js';

export class KpiWindows {
  private readonly partition: number;
  private readonly topicCount: number;
  private readonly specs: readonly WindowSpec[];
  /** Per window kind: start -> bucket. */
  private readonly buckets: Map<number, KpiBucket>[];
  /**
   * Per window kind: the index of the tumbling kind whose windows are its panes (its size is
   * this kind's step, and it comes first), or -1 when there is none.
   */
  private readonly paneKind: number[];
  /** Late events by site and event id -> the open window holding their marker. */
  private readonly lateSeen = new Map<string, KpiBucket>();
  /** Scratch: the event's dimension values, and per kind and dimension what was new to its sets. */
  private readonly values: string[] = [];
  private readonly newTo: Int32Array[];
  /** Scratch for `emitOpen`: the hold it lowers is not the engine's (only `drain` moves the commit point). */
  private readonly scratchHold: number[];

  constructor(partition: number, topicCount: number, specs: readonly WindowSpec[]) {
    this.partition = partition;
    this.topicCount = topicCount;
    this.specs = specs;
    this.buckets = specs.map(() => new Map());
    this.paneKind = specs.map((s, j) => specs.findIndex((p, i) => i < j && p.stepMs === p.sizeMs && p.sizeMs === s.stepMs && s.sizeMs !== s.stepMs));
    this.newTo = specs.map(() => new Int32Array(DIMENSIONS.length));
    this.scratchHold = new Array<number>(topicCount).fill(Infinity);
  }

  get size(): number {
    let n = 0;
    for (const m of this.buckets) n += m.size;
    return n;
  }

  /** An on-time event at event time `ts`: counted in every window holding it. */
  add(e: AnalyticsEvent, t: number, offset: number, ts: number): void {
    const values = this.values;
    const dims = kpi.dimensionValuesInto(e, values);
    for (let k = 0; k < this.specs.length; k++) {
      const spec = this.specs[k];
      const pane = this.paneKind[k];
      const newTo = this.newTo[k];
      const paneNew = pane >= 0 ? this.newTo[pane] : null;
      const last = Math.floor(ts / spec.stepMs) * spec.stepMs;
      for (let start = last - spec.sizeMs + spec.stepMs; start <= last; start += spec.stepMs) {
        const b = this.bucket(k, start, t, offset);
        for (let d = 0; d < dims; d++) {
          const cell = this.cell(b, d, values[d]);
          newTo[d] = kpi.addNew(cell.acc, e, paneNew ? paneNew[d] : kpi.ALL_UNSEEN);
          touch(b, cell);
        }
      }
    }
  }

  /** A late event: counted in `late_events` of the windows holding `at` (at or after the watermark, so still open). */
  addLate(e: AnalyticsEvent, t: number, offset: number, at: number): void {
    const id = repeatKey(e);
    const values = this.values;
    const dims = kpi.dimensionValuesInto(e, values);
    for (let k = 0; k < this.specs.length; k++) {
      for (const start of windowStarts(at, this.specs[k])) {
        const b = this.bucket(k, start, t, offset);
        for (let d = 0; d < dims; d++) {
          const cell = this.cell(b, d, values[d]);
          kpi.addLate(cell.acc);
          touch(b, cell);
        }
        // Remembered while that window is open (it holds the commit at or below this offset).
        if (!this.lateSeen.has(id)) {
          this.lateSeen.set(id, b);
          (b.lateIds ??= []).push(id);
        }
      }
    }
  }

  /** A late event with this repeat key is counted in a window still open. */
  holdsLate(id: string): boolean {
    const b = this.lateSeen.get(id);
    return b !== undefined && this.buckets[b.specIndex].get(b.start) === b;
  }

  /**
   * Seals the windows the watermark has passed (final documents, unless they end at or before
   * `restoredWatermark`: written before a restart) and emits the changed open ones when asked.
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

  private bucket(k: number, start: number, t: number, offset: number): KpiBucket {
    let b = this.buckets[k].get(start);
    if (!b) {
      const spec = this.specs[k];
      b = {
        spec,
        specIndex: k,
        start,
        end: start + spec.sizeMs,
        minOff: new Array<number>(this.topicCount).fill(Infinity),
        cells: [],
        changed: [],
        byValue: DIMENSIONS.map(() => new Map()),
      };
      this.buckets[k].set(start, b);
    }
    if (offset < b.minOff[t]) b.minOff[t] = offset;
    return b;
  }

  private cell(b: KpiBucket, d: number, value: string): KpiCell {
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
      window_start: iso(b.start),
      window_end: iso(b.end),
      dimension: cell.dimension,
      dimension_value: cell.value,
      partition: this.partition,
      ...kpi.result(cell.acc),
      final,
    };
    return { index: 'kpis', id: kpiDocId(doc), doc };
  }
}
