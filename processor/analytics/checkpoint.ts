/**
 * What the analytics engine stores in each offset commit's metadata (Kafka keeps up to 4 KB per
 * partition), so a replay after a crash decides lateness as before and does not rewrite what was
 * final: see ARCHITECTURE.md "Event time, lateness and window state after a crash".
 */

/** What travels in the offset commit's metadata for each topic-partition. */
export interface Checkpoint {
  v: 1;
  /** Largest event time in this topic-partition before the committed offset (null: none). */
  m: number | null;
  /** Watermark of the partition at commit time: windows ending at or before it were final. */
  E: number | null;
  /** URL windows ending at or before this were final. */
  U: number | null;
  /** Offset processed up to at commit time: a replay is silent until it gets there again. */
  P: number | null;
}

export function encodeCheckpoint(cp: Checkpoint): string {
  return JSON.stringify(cp);
}

/** The checkpoint in a commit's metadata; null when there is none or it is not one of ours. */
export function decodeCheckpoint(text: string | null | undefined): Checkpoint | null {
  if (!text) return null;
  try {
    const x = JSON.parse(text) as Checkpoint;
    return x && x.v === 1 ? x : null;
  } catch {
    return null;
  }
}

/** Times travel as numbers or null (JSON has no infinity): -Infinity, "none yet", becomes null. */
export const timeOrNull = (ms: number): number | null => (Number.isFinite(ms) ? ms : null);
export const timeOrNone = (ms: number | null | undefined): number => (typeof ms === 'number' ? ms : -Infinity);
