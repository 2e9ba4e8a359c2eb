/**
 * Small robust statistics shared by the detectors. Pure: no Node imports, so the detectors run
 * the same in the processor, in `npm run anomaly:score` and in the evaluation.
 */

/** Median of the values (NaN when empty). Does not modify the input. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median absolute deviation around the median (unscaled). */
export function mad(values: readonly number[], centre = median(values)): number {
  return median(values.map((v) => Math.abs(v - centre)));
}

/** 1.4826 x MAD estimates the standard deviation of normal data without being moved by outliers. */
export const MAD_TO_SD = 1.4826;

/** The q-quantile (0..1) by linear interpolation between order statistics (NaN when empty). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * Median and MAD of a weighted histogram of non-negative integers (value -> weight). Used by the
 * burst detector, whose population of per-key counts is kept as a histogram to bound memory.
 */
export function histogramMedianMad(hist: ReadonlyMap<number, number>): { median: number; mad: number } {
  const entries = [...hist.entries()].filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (total === 0) return { median: NaN, mad: NaN };
  const weightedMedian = (pairs: [number, number][]) => {
    let acc = 0;
    for (const [v, w] of pairs) {
      acc += w;
      if (acc >= total / 2) return v;
    }
    return pairs[pairs.length - 1][0];
  };
  const med = weightedMedian(entries);
  const dev = entries.map(([v, w]) => [Math.abs(v - med), w] as [number, number]).sort((a, b) => a[0] - b[0]);
  return { median: med, mad: weightedMedian(dev) };
}

/** Seeded PRNG (mulberry32) so that models trained on the same data are the same model. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
