/**
 * The open KPI windows of one partition (every window kind, start, dimension and value) and the
 * late markers they hold; sealed when the watermark passes their end. Part of the analytics
 * engine (engine.ts).
 */
import { kpiDocId, type KpiDoc } from '../../contracts/documents.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import type { WindowSpec } from '../../contracts/windows.js';
import * as kpi from './kpi.js';
import { drainBucket, type KpiBucket, type KpiCell } from './buckets.js';
import { iso, type DrainContext, type OutDoc } from './engine-options.js';
import { repeatKey } from './repeat-key.js';
import { windowStarts } from './windows.js';

export class KpiWindows {
  private readonly partition: number;
  private readonly topicCount: number;
  private readonly specs: readonly WindowSpec[];
  private readonly buckets = new Map<string, KpiBucket>();
  /** Late events by site and event id -> the open window holding their marker. */
  private readonly lateSeen = new Map<string, KpiBucket>();

  constructor(partition: number, topicCount: number, specs: readonly WindowSpec[]) {
    this.partition = partition;
    this.topicCount = topicCount;
    this.specs = specs;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** An on-time event at event time `ts`: counted in every window holding it. */
  add(e: EnrichedEvent, t: number, offset: number, ts: number): void {
    for (const spec of this.specs) {
      for (const start of windowStarts(ts, spec)) this.cells(this.bucket(spec, start, t, offset), e, (acc) => kpi.add(acc, e));
    }
  }

  /** A late event: counted in `late_events` of the windows holding `at` (at or after the watermark, so still open). */
  addLate(e: EnrichedEvent, t: number, offset: number, at: number): void {
    const id = repeatKey(e);
    for (const spec of this.specs) {
      for (const start of windowStarts(at, spec)) {
        const b = this.bucket(spec, start, t, offset);
        this.cells(b, e, kpi.addLate);
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
    return b !== undefined && this.buckets.get(bucketKey(b.spec, b.start)) === b;
  }

  /**
   * Seals the windows the watermark has passed (final documents, unless they end at or before
   * `restoredWatermark`: written before a restart) and emits the changed open ones when asked.
   */
  drain(ctx: DrainContext, restoredWatermark: number): void {
    for (const [key, b] of this.buckets) {
      const sealed = ctx.watermark >= b.end;
      drainBucket(b, sealed, b.end <= restoredWatermark, (cell) => this.doc(b, cell, sealed), ctx);
      if (!sealed) continue;
      this.buckets.delete(key);
      for (const id of b.lateIds ?? []) if (this.lateSeen.get(id) === b) this.lateSeen.delete(id);
    }
  }

  private bucket(spec: WindowSpec, start: number, t: number, offset: number): KpiBucket {
    const key = bucketKey(spec, start);
    let b = this.buckets.get(key);
    if (!b) {
      b = { spec, start, end: start + spec.sizeMs, minOff: new Array<number>(this.topicCount).fill(Infinity), cells: new Map(), dirty: new Set() };
      this.buckets.set(key, b);
    }
    if (offset < b.minOff[t]) b.minOff[t] = offset;
    return b;
  }

  private cells(b: KpiBucket, e: EnrichedEvent, apply: (acc: kpi.KpiAcc) => void): void {
    for (const [dimension, value] of kpi.dimensionValues(e)) {
      const key = `${dimension}\u0000${value}`;
      let cell = b.cells.get(key);
      if (!cell) {
        cell = { dimension, value, acc: kpi.init() };
        b.cells.set(key, cell);
      }
      apply(cell.acc);
      b.dirty.add(key);
    }
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

const bucketKey = (spec: WindowSpec, start: number) => `${spec.kind}|${start}`;
