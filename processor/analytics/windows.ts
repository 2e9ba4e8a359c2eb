/**
 * Which windows an event time falls into. Pure: no clock, no I/O. The window kinds themselves
 * (names, sizes, steps from config) are shared with the dashboards: contracts/windows.ts.
 */
import type { WindowSpec } from '../../contracts/windows.js';

/** Starts of every window of `spec` that contains `ts` (start <= ts < start + size), ascending. */
export function windowStarts(ts: number, spec: WindowSpec): number[] {
  const last = Math.floor(ts / spec.stepMs) * spec.stepMs;
  const out: number[] = [];
  for (let s = last - spec.sizeMs + spec.stepMs; s <= last; s += spec.stepMs) out.push(s);
  return out;
}

/** The one tumbling window start that contains `ts`. */
export function bucketStart(ts: number, sizeMs: number): number {
  return Math.floor(ts / sizeMs) * sizeMs;
}
