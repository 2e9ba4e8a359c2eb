/**
 * How fast can any detector find a count falling to `ratio` of its expectation, at a given
 * false-alarm budget? Measured on the optimal sequential test itself: Page's CUSUM on the
 * Poisson log-likelihood ratio (cusum.ts) minimises the worst-case mean delay among all tests with
 * the same mean time between false alarms (Lorden 1971, Moustakides 1986), so its delay at a
 * budget is the floor for the detector's (which must also estimate the expectation).
 *
 * Monte Carlo with a seeded generator, at a constant expectation `mu` per window:
 * - the threshold: the CUSUM runs on counts as expected for `h0Windows` windows; each excursion
 *   above 0 is one episode (one alert), so the false alarms at a threshold h are the excursions
 *   whose maximum reaches h, and h is the lowest that keeps them within the budget;
 * - the delay: from S = 0 at the change (the worst case), windows until S >= h, counting the
 *   window that raises it (found in the incident's first window = 1, as `npm run anomaly:eval`).
 *
 * Pure and deterministic for a seed.
 */
import { poissonFallLlr } from './cusum.js';
import { quantile, seededRandom } from './stats.js';

export interface BoundOptions {
  /** Expected counts per window when nothing is wrong. */
  mu: number;
  /** The fall tested for (and injected): observed / expected. */
  ratio: number;
  /** Windows per false alarm allowed (288: one a day of 5-minute windows). */
  windowsPerFalseAlarm: number;
  /** Windows of normal counts simulated to set the threshold (at least 200 budgets' worth is steady). */
  h0Windows: number;
  /** Incidents simulated for the delay. */
  trials: number;
  seed: number;
}

export interface Bound {
  mu: number;
  /** The threshold (nats) that meets the budget. */
  threshold: number;
  /** Windows to detection, counting the one that raised it. */
  p50: number;
  p95: number;
  /** Mean evidence gained per window once the counts have fallen (nats): mu (1 - r + r ln r). */
  drift: number;
}

/** Poisson sampler by inversion of a precomputed CDF (fast for the many draws needed). */
function poissonSampler(mu: number, r: () => number): () => number {
  const cdf: number[] = [];
  let p = Math.exp(-mu);
  let acc = 0;
  const top = Math.ceil(mu + 12 * Math.sqrt(mu) + 20);
  for (let k = 0; k <= top; k++) {
    acc += p;
    cdf.push(acc);
    p *= mu / (k + 1);
  }
  return () => {
    const u = r() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function cusumBound(o: BoundOptions): Bound {
  const r = seededRandom(o.seed);
  const normal = poissonSampler(o.mu, r);
  const maxima: number[] = [];
  let s = 0;
  let top = 0;
  for (let i = 0; i < o.h0Windows; i++) {
    s = Math.max(0, s + poissonFallLlr(normal(), o.mu, o.ratio));
    if (s > top) top = s;
    if (s === 0 && top > 0) {
      maxima.push(top);
      top = 0;
    }
  }
  if (top > 0) maxima.push(top);
  maxima.sort((a, b) => b - a);
  const allowed = Math.floor(o.h0Windows / o.windowsPerFalseAlarm);
  // Just above the (allowed + 1)-th highest excursion: `allowed` of them reach it.
  const threshold = (maxima[allowed] ?? 0) + 1e-9;

  const fallen = poissonSampler(o.mu * o.ratio, r);
  const delays: number[] = [];
  for (let t = 0; t < o.trials; t++) {
    let stat = 0;
    let n = 0;
    do {
      stat = Math.max(0, stat + poissonFallLlr(fallen(), o.mu, o.ratio));
      n++;
    } while (stat < threshold && n < 10_000);
    delays.push(n);
  }
  const drift = o.mu * (1 - o.ratio + o.ratio * Math.log(o.ratio));
  return { mu: o.mu, threshold, p50: quantile(delays, 0.5), p95: quantile(delays, 0.95), drift };
}
