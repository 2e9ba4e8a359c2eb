/**
 * Event-time windows. Pure: no clock, no I/O.
 *
 * A window kind has a size and a step. Tumbling windows have step = size; sliding windows
 * overlap (size 5 min every 1 min: each event belongs to five windows). Window starts are
 * multiples of the step since the epoch, so every instance and every replay cuts the same
 * windows.
 */

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
