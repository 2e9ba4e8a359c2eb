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

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Φ⁻¹(p): the standard normal quantile (Acklam's rational approximation, refined once by Halley). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let x: number;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lo) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/**
 * How surprising a count `o` is for a Poisson mean `e`, as a signed normal score: the mid-p tail
 * probability (below for o < e, above for o > e) mapped through Φ⁻¹. Exact where it matters, for
 * small means: the square-root (Anscombe) approximation overstates shortfalls there (0 observed
 * for 8 expected is z = -3.6, not -4.6), which pages people about quiet hours. Above a mean of
 * 400 the approximation is good and cheaper.
 */
export function poissonZ(o: number, e: number): number {
  const x = Math.max(0, Math.round(o));
  if (e > 400 || e <= 0) return 2 * (Math.sqrt(x + 0.375) - Math.sqrt(Math.max(e, 0) + 0.375));
  const logE = Math.log(e);
  const pmf = (k: number) => Math.exp(k * logE - e - logGamma(k + 1));
  if (x === Math.round(e) || Math.abs(x - e) < 0.5) return 0;
  let tail = 0.5 * pmf(x);
  if (x < e) {
    for (let k = 0; k < x; k++) tail += pmf(k);
    return Math.min(0, normalQuantile(Math.max(tail, 1e-300)));
  }
  const stop = x + 50 + Math.ceil(40 * Math.sqrt(e));
  for (let k = x + 1; k <= stop; k++) {
    const p = pmf(k);
    tail += p;
    if (p < tail * 1e-17) break;
  }
  return Math.max(0, -normalQuantile(Math.max(tail, 1e-300)));
}

/**
 * How noisy a series is against Poisson counts with a relative noise of `relative` on top,
 * point to point: the mean square of each value's distance from the midpoint of its neighbours
 * (which takes out a linear trend, so a daily cycle adds little), over what that model gives
 * (1.5 x its variance). At most about 1 for such counts; tweets, whose bursts are far beyond
 * Poisson, 2-9; travel times in seconds, 100s. NaN when there are fewer than 3 values or they sum to 0.
 */
export function poissonDispersion(values: readonly number[], relative = 0): number {
  let square = 0;
  let variance = 0;
  for (let i = 1; i + 1 < values.length; i++) {
    const d = values[i] - (values[i - 1] + values[i + 1]) / 2;
    square += d * d;
    variance += 1.5 * (values[i] + (relative * values[i]) ** 2);
  }
  return variance > 0 ? square / variance : NaN;
}
