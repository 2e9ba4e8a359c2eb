/** Charts: time on x over the selected range, one or more series, lines or bars, as inline SVG. */
import { svg } from './dom.js';
import { fmtClock, fmtTime } from './format.js';

/** A round axis maximum and its tick step (at most five steps). */
function niceScale(v) {
  if (!(v > 0)) return { max: 1, step: 0.25 };
  const p = 10 ** Math.floor(Math.log10(v / 5));
  for (const m of [1, 2, 2.5, 5, 10, 20]) {
    const step = m * p;
    const n = Math.ceil(v / step - 1e-9);
    if (n <= 5) return { max: n * step, step };
  }
  return { max: v, step: v / 4 };
}

/**
 * windows: KPI windows (window_start, window_end, final, ...); series: [{key, name, cls, value(w)}];
 * kind: 'line' | 'bar'; yFmt: tick and tooltip format; yTitle: the y axis title with its unit; from/to: the x domain (ms).
 */
export function drawChart(container, { windows, series, kind, yFmt, yTitle, from: rangeFrom, to: rangeTo }) {
  // The x domain covers every window drawn: on a fresh pipeline the range starts where the data
  // starts, seconds ago, while a window spans a minute or five; points outside the axis would be
  // drawn over the next panel.
  const from = Math.min(rangeFrom, ...windows.map((w) => Date.parse(w.window_start)));
  const to = Math.max(rangeTo, ...windows.map((w) => Date.parse(w.window_end)));
  const W = Math.max(container.clientWidth || 0, 260);
  const H = 190;
  const m = { l: 64, r: 12, t: 8, b: 36 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `${series.map((s) => s.name).join(', ')} (${yTitle}) from ${fmtTime(from)} to ${fmtTime(to)}, ${windows.length} windows`,
  });
  root.append(svg('text', { class: 'axis-title', x: 12, y: m.t + (H - m.t - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.t + (H - m.t - m.b) / 2})` }, yTitle));
  root.append(svg('text', { class: 'axis-title', x: m.l + (W - m.l - m.r) / 2, y: H - 2, 'text-anchor': 'middle' }, 'time (local, 24-hour)'));
  const x = (t) => m.l + ((t - from) / (to - from)) * pw;
  const values = windows.flatMap((w) => series.map((s) => s.value(w)).filter((v) => v !== null && v !== undefined));
  const { max, step: yStep } = niceScale(Math.max(0, ...values));
  const y = (v) => m.t + ph - (v / max) * ph;

  for (let v = 0; v <= max + yStep / 2; v += yStep) {
    root.append(svg('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
    root.append(svg('text', { class: 'axis', x: m.l - 6, y: y(v) + 3, 'text-anchor': 'end' }, yFmt(v)));
  }
  const ticks = Math.max(2, Math.min(6, Math.floor(pw / 80)));
  // Seconds too when ticks are less than a minute apart (otherwise every tick would read the same minute).
  const tickFmt = (to - from) / ticks < 60e3 ? fmtClock : fmtTime;
  for (let i = 0; i <= ticks; i++) {
    const t = from + ((to - from) * i) / ticks;
    root.append(svg('text', { class: 'axis', x: x(t), y: H - 20, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, tickFmt(t)));
  }
  if (!windows.length) {
    root.append(svg('text', { class: 'empty', x: m.l + pw / 2, y: m.t + ph / 2, 'text-anchor': 'middle' }, 'no windows in this range yet'));
    container.replaceChildren(root);
    return;
  }

  const mid = (w) => (Date.parse(w.window_start) + Date.parse(w.window_end)) / 2;
  const tip = (w, s, v) => `${fmtTime(Date.parse(w.window_start))}–${fmtTime(Date.parse(w.window_end))} ${s.name}: ${yFmt(v, true)}${w.final ? '' : ' (open)'}`;

  if (kind === 'bar') {
    const s = series[0];
    const step = windows.length > 1 ? Math.min(...windows.slice(1).map((w, i) => Date.parse(w.window_start) - Date.parse(windows[i].window_start))) : 60e3;
    const bw = Math.max(1, (step / (to - from)) * pw * 0.8);
    for (const w of windows) {
      const v = s.value(w);
      if (v === null || v === undefined) continue;
      const r = svg('rect', { class: `${s.cls}${w.final ? '' : ' open'}`, x: x(mid(w)) - bw / 2, y: y(v), width: bw, height: Math.max(0, m.t + ph - y(v)) });
      r.append(svg('title', {}, tip(w, s, v)));
      root.append(r);
    }
  } else {
    for (const s of series) {
      let d = '';
      for (const w of windows) {
        const v = s.value(w);
        if (v === null || v === undefined) continue;
        d += `${d ? 'L' : 'M'}${x(mid(w)).toFixed(1)},${y(v).toFixed(1)}`;
      }
      if (d) root.append(svg('path', { class: `line ${s.cls}`, d }));
      if (windows.length <= 120) {
        for (const w of windows) {
          const v = s.value(w);
          if (v === null || v === undefined) continue;
          const c = svg('circle', { class: `${s.cls}${w.final ? '' : ' open'}`, cx: x(mid(w)), cy: y(v), r: 2.4 });
          c.append(svg('title', {}, tip(w, s, v)));
          root.append(c);
        }
      }
    }
  }
  container.replaceChildren(root);
}
