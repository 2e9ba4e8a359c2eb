/**
 * Reads a few series from a Prometheus text exposition (the gateway's /metrics), so a bench phase
 * can tell where a request's time went (queue, Kafka, event-loop turns) from the gateway's own
 * histograms: scraped before and after the phase, the difference is the phase's.
 */

/** Sum of every sample of `name` whose labels contain all of `labels` (e.g. `reason="loop_lag"`). */
export function promSum(text: string, name: string, labels: string[] = []): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!labels.every((l) => rest.includes(l))) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** Cumulative bucket counts of histogram `name` (summed over its label sets), by upper bound in seconds. */
export function promBuckets(text: string, name: string, labels: string[] = []): Map<number, number> {
  const out = new Map<number, number>();
  const re = /le="([^"]+)"/;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    if (!labels.every((l) => line.includes(l))) continue;
    const m = re.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/**
 * The q-th percentile (0..100) of what was observed between two scrapes, as the upper bound of the
 * bucket it falls in (seconds; Infinity past the last bound, NaN when nothing was observed).
 */
export function bucketPercentile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((x, y) => x - y);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  const want = (q / 100) * total;
  for (const le of bounds) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= want) return le;
  return Infinity;
}
