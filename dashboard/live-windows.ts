/**
 * The KPI windows that may still change, read in real time. A search sees a write only after the
 * KPI index's next refresh: 1 s by default, and 0.3-0.7 s more per refresh on a loaded node, which
 * made up most of a KPI's freshness at 10,000 events/s (bench/README.md, fourteenth stop). A get
 * by id sees a document as soon as Elasticsearch acknowledged its write, and the processor's KPI
 * documents have deterministic ids (contracts/documents.ts kpiDocId): one per window kind x window
 * start x dimension value x partition. So /api/kpis reads the windows that may still change by id
 * (every partition's partial of each) and puts them over what the search summed. Pure.
 */
import { kpiDocId } from '../contracts/documents.js';
import type { WindowSpec } from '../contracts/windows.js';
import { kpiWindowsFromPartials, type KpiPartial, type KpiWindow } from './sums.js';

/** The partial documents' ids of these window starts of one kind and cut, partitions 0 .. partitions - 1. */
export function kpiPartialIds(kind: string, starts: readonly number[], dimension: string, value: string, partitions: number, firstPartition = 0): string[] {
  const ids: string[] = [];
  for (const start of starts) {
    const iso = new Date(start).toISOString();
    for (let p = firstPartition; p < partitions; p++) ids.push(kpiDocId({ window_kind: kind, window_start: iso, dimension, dimension_value: value, partition: p }));
  }
  return ids;
}

/**
 * Starts of the windows of `spec` in [from, to) that may still take events at `now`: those ending
 * after now - openMs (the allowed lateness; a window ending earlier is final or nearly), and not
 * after now (event times are never ahead of their receive time: the gateway clamps them).
 */
export function openWindowStarts(spec: WindowSpec, range: { from: number; to: number }, now: number, openMs: number): number[] {
  const out: number[] = [];
  const first = Math.floor((now - openMs - spec.sizeMs) / spec.stepMs + 1) * spec.stepMs;
  for (let s = Math.max(first, Math.ceil(range.from / spec.stepMs) * spec.stepMs); s <= now && s < range.to; s += spec.stepMs) out.push(s);
  return out;
}

/**
 * The search's windows with the ones read in real time put over them. A window is replaced when
 * the real-time read found at least as many partials as the search summed (documents are never
 * deleted, so fewer means a partition the read did not ask for: the search's sum stays); windows
 * only the read found are added. The newest `limit` are kept. Returns how many came from the read.
 */
export function overlayLiveWindows(searched: readonly KpiWindow[], live: readonly KpiPartial[], limit: number): { windows: KpiWindow[]; realtime: number; dropped: number } {
  const byStart = new Map(searched.map((w) => [Date.parse(w.window_start), w]));
  let realtime = 0;
  for (const w of kpiWindowsFromPartials(live)) {
    const t = Date.parse(w.window_start);
    const old = byStart.get(t);
    if (old && old.partitions > w.partitions) continue;
    byStart.set(t, w);
    realtime++;
  }
  const all = [...byStart.entries()].sort((a, b) => a[0] - b[0]).map(([, w]) => w);
  const dropped = Math.max(0, all.length - limit);
  return { windows: all.slice(dropped), realtime, dropped };
}
