/**
 * Window-level figures for a scored series against labelled anomaly windows (the Numenta Anomaly
 * Benchmark's labels/combined_windows.json, or any list of [start, end]): an alert is the first
 * flagged point of an episode (flags separated by fewer than `n` unflagged points are one episode,
 * as the site detector raises one alert per episode); it counts as true when it falls in a
 * labelled window or a grace after it. Pure; `npm run anomaly:nab` prints it.
 */

export interface LabelledWindow {
  start: number;
  end: number;
}

export interface SeriesFigures {
  points: number;
  days: number;
  windows: number;
  /** Windows with at least one alert in them (or their grace). */
  found: number;
  alerts: number;
  /** Alerts inside a window or its grace. */
  inside: number;
  outside: number;
  precision: number;
  recall: number;
  falsePerDay: number;
  /**
   * NAB's convention: the first alert in a labelled window is a true one, the others in it are
   * ignored, so found / (found + outside). Unlike `precision`, a detector gains nothing by alerting
   * again and again inside an incident.
   */
  firstPrecision: number;
}

/** Alert times: the first flagged point of each episode (an episode ends after `n` unflagged points). */
export function alertTimes(scored: readonly { t: number; flag: boolean }[], n: number): number[] {
  const out: number[] = [];
  let quiet = Infinity;
  for (const p of scored) {
    if (p.flag) {
      if (quiet >= n) out.push(p.t);
      quiet = 0;
    } else quiet++;
  }
  return out;
}

export function seriesFigures(scored: readonly { t: number; flag: boolean }[], windows: readonly LabelledWindow[], o: { n: number; graceMs: number }): SeriesFigures {
  const alerts = alertTimes(scored, o.n);
  const within = (t: number, w: LabelledWindow) => t >= w.start && t <= w.end + o.graceMs;
  const inside = alerts.filter((t) => windows.some((w) => within(t, w))).length;
  const found = windows.filter((w) => alerts.some((t) => within(t, w))).length;
  const span = scored.length > 1 ? scored[scored.length - 1].t - scored[0].t : 0;
  const days = span / 86_400_000;
  const outside = alerts.length - inside;
  return {
    points: scored.length,
    days,
    windows: windows.length,
    found,
    alerts: alerts.length,
    inside,
    outside,
    precision: alerts.length ? inside / alerts.length : NaN,
    recall: windows.length ? found / windows.length : NaN,
    falsePerDay: days > 0 ? outside / days : NaN,
    firstPrecision: found + outside ? found / (found + outside) : NaN,
  };
}

/** Sums of several series' figures (precision and recall over the pooled alerts and windows). */
export function pooledFigures(all: readonly SeriesFigures[]): SeriesFigures {
  const sum = (f: (s: SeriesFigures) => number) => all.reduce((a, s) => a + f(s), 0);
  const alerts = sum((s) => s.alerts);
  const windows = sum((s) => s.windows);
  const days = sum((s) => s.days);
  const inside = sum((s) => s.inside);
  const found = sum((s) => s.found);
  return {
    points: sum((s) => s.points),
    days,
    windows,
    found,
    alerts,
    inside,
    outside: alerts - inside,
    precision: alerts ? inside / alerts : NaN,
    recall: windows ? found / windows : NaN,
    falsePerDay: days > 0 ? (alerts - inside) / days : NaN,
    firstPrecision: found + alerts - inside ? found / (found + alerts - inside) : NaN,
  };
}

/** The two halves a labelled collection is split into: one to tune the detector on, one held out. */
export type Half = 'tune' | 'held-out';

/** FNV-1a, 32 bits, of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Splits series named `category/file.csv` (as in NAB's labels) into a tuning half and a held-out
 * half, fixed by their names: within each category, the series ordered by the FNV-1a hash of their
 * name, the first floor(n/2) to tune on, the rest held out. A hash, not a choice: nobody picks
 * which series the detector is tuned on; per category, so each half holds every kind of series.
 */
export function splitHalves(names: readonly string[]): Map<string, Half> {
  const byCategory = new Map<string, string[]>();
  for (const name of names) {
    const category = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
    byCategory.set(category, [...(byCategory.get(category) ?? []), name]);
  }
  const out = new Map<string, Half>();
  for (const group of byCategory.values()) {
    const ranked = [...group].sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : 1));
    ranked.forEach((name, i) => out.set(name, i < Math.floor(ranked.length / 2) ? 'tune' : 'held-out'));
  }
  return out;
}
