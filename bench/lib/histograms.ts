/**
 * A Prometheus histogram's counts between two scrapes of a /metrics page, and its quantiles as
 * bucket bounds: what the gateway itself saw during one load run (time to Kafka's acknowledgement,
 * admitted requests' time, event-loop turns, GC pauses), to tell where a slow request waited.
 */

/** Cumulative bucket counts of histogram `name` (all label sets summed, or those with `label`, e.g. kind="minor"), by upper bound. */
export function buckets(metricsText: string, name: string, label = ''): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(prefix) || !line.includes(label)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(v)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + v);
  }
  return out;
}

/** The `_sum` of histogram `name` (seconds; label sets as in `buckets`). */
function sumOf(metricsText: string, name: string, label: string): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (line.startsWith(`${name}_sum`) && line.includes(label)) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

export interface HistogramDelta {
  count: number;
  /** Seconds observed in all. */
  sum: number;
  /** Upper bound (seconds) of the bucket holding the quantile; Infinity past the last bound. */
  quantile(q: number): number;
  /** Observations above `bound` seconds (a bucket bound). */
  above(bound: number): number;
}

/** The observations of `name` (those with `label` if given) between scrapes `before` and `after`. */
export function histogramDelta(before: string, after: string, name: string, label = ''): HistogramDelta {
  const a = buckets(before, name, label);
  const b = buckets(after, name, label);
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const cum = bounds.map((le) => (b.get(le) ?? 0) - (a.get(le) ?? 0));
  const count = cum.length ? cum[cum.length - 1] : 0;
  return {
    count,
    sum: sumOf(after, name, label) - sumOf(before, name, label),
    quantile(q) {
      const rank = q * count;
      for (let i = 0; i < bounds.length; i++) if (cum[i] >= rank) return bounds[i];
      return Infinity;
    },
    above(bound) {
      const i = bounds.indexOf(bound);
      return i < 0 ? NaN : count - cum[i];
    },
  };
}
