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
  };
}
