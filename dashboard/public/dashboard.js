/* global document, window, fetch, URL, URLSearchParams, setTimeout, clearTimeout */
/**
 * The live dashboard page: polls the JSON API (relative URLs, so it also works behind a proxy
 * under a path) and draws small SVG charts and tables. No framework; every value from the API
 * reaches the page through textContent or setAttribute, never as HTML.
 */
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const RANGE_MS = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3 };
const EVENT_SERIES = [
  ['page_views', 'page views'],
  ['clicks', 'clicks'],
  ['add_to_cart', 'add to cart'],
  ['purchases', 'purchases'],
];

const state = { meta: null, timer: null, busy: false };
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Formatting

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const moneyFmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtInt = (n) => (n === null || n === undefined ? '–' : intFmt.format(n));
const fmtMoney = (n) => (n === null || n === undefined ? '–' : moneyFmt.format(n));
const fmtPct = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`);
const fmtMs = (ms) => {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
};
const fmtTime = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fmtDateTime = (t) => new Date(t).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
/** Time of day for today, date and time otherwise. */
const fmtWhen = (t) =>
  new Date(t).toDateString() === new Date().toDateString() ? new Date(t).toLocaleTimeString([], { hourCycle: 'h23' }) : fmtDateTime(t);
const shortUrl = (u) => {
  try {
    const x = new URL(u);
    return x.host + x.pathname + x.search + x.hash;
  } catch {
    return String(u);
  }
};

// ---------------------------------------------------------------------------------------------
// DOM helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof window.Node ? c : String(c));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/** columns: [{label, num?}], rows: arrays of cells (string, or {text, cls, title}) with an optional row class. */
function fillTable(table, columns, rows, emptyText) {
  const head = el('tr', null, ...columns.map((c) => el('th', { class: c.num ? 'num' : null }, c.label)));
  const body = rows.length
    ? rows.map((r) =>
        el(
          'tr',
          { class: r.cls },
          ...r.cells.map((cell, i) => {
            const c = typeof cell === 'object' && cell !== null && !(cell instanceof window.Node) ? cell : { text: cell };
            const td = el('td', { class: [columns[i].num ? 'num' : '', c.cls || ''].join(' ').trim() || null, title: c.title });
            td.append(c.node || String(c.text ?? ''));
            return td;
          }),
        ),
      )
    : [el('tr', null, el('td', { class: 'empty', colspan: columns.length }, emptyText))];
  table.replaceChildren(el('thead', null, head), el('tbody', null, ...body));
}

// ---------------------------------------------------------------------------------------------
// Charts: time on x over the selected range, one or more series, lines or bars.

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
 * kind: 'line' | 'bar'; yFmt: tick and tooltip format; from/to: the x domain (ms).
 */
function drawChart(container, { windows, series, kind, yFmt, from, to }) {
  const W = Math.max(container.clientWidth || 0, 280);
  const H = 190;
  const m = { l: 52, r: 12, t: 8, b: 22 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  const x = (t) => m.l + ((t - from) / (to - from)) * pw;
  const values = windows.flatMap((w) => series.map((s) => s.value(w)).filter((v) => v !== null && v !== undefined));
  const { max, step: yStep } = niceScale(Math.max(0, ...values));
  const y = (v) => m.t + ph - (v / max) * ph;

  for (let v = 0; v <= max + yStep / 2; v += yStep) {
    root.append(svg('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
    root.append(svg('text', { class: 'axis', x: m.l - 6, y: y(v) + 3, 'text-anchor': 'end' }, yFmt(v)));
  }
  const ticks = Math.max(2, Math.min(6, Math.floor(pw / 80)));
  for (let i = 0; i <= ticks; i++) {
    const t = from + ((to - from) * i) / ticks;
    root.append(svg('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, fmtTime(t)));
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

// ---------------------------------------------------------------------------------------------
// Data

async function getJson(path, params) {
  const qs = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== undefined && v !== ''));
  const q = qs.toString();
  const res = await fetch(q ? `${path}?${q}` : path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message || `${path}: HTTP ${res.status}`);
  return body;
}

/** The newest window whose end has passed (complete), else the newest one. */
function latestComplete(windows, now) {
  const done = windows.filter((w) => Date.parse(w.window_end) <= now);
  return done.length ? done[done.length - 1] : windows[windows.length - 1];
}

function tile(label, value, sub) {
  return el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), el('div', { class: 'sub' }, sub || '\u00a0'));
}

function renderTiles(tumbling, rateWindow, rateKind, sessions) {
  const t = tumbling?.totals;
  const span = tumbling ? `${tumbling.windows.length} windows` : '';
  const rw = rateWindow;
  const rwLabel = rw ? `${rateKind}, ${fmtTime(Date.parse(rw.window_start))}–${fmtTime(Date.parse(rw.window_end))}` : 'no window yet';
  const tiles = [
    tile('Page views', fmtInt(t?.page_views), span),
    tile('Clicks', fmtInt(t?.clicks), t && t.late_events ? `${fmtInt(t.late_events)} late events` : span),
    tile('Add to cart', fmtInt(t?.add_to_cart), span),
    tile('Purchases', fmtInt(t?.purchases), span),
    tile('Revenue', fmtMoney(t?.revenue), 'sum of purchase revenue'),
    tile('Conversion rate', fmtPct(rw?.conversion_rate), rw ? `${fmtInt(rw.visitors_purchased)} of ${fmtInt(rw.unique_visitors)} visitors bought` : rwLabel),
    tile('Cart → purchase', fmtPct(rw?.cart_to_purchase_rate), rw ? `${fmtInt(rw.visitors_carted_and_purchased)} of ${fmtInt(rw.visitors_added_to_cart)} carts bought` : rwLabel),
    tile('Visitors', fmtInt(rw?.unique_visitors), rwLabel),
    tile('Sessions', fmtInt(sessions?.summary.sessions), sessions ? `${fmtInt(sessions.summary.open)} open · avg ${fmtMs(sessions.summary.avg_duration_ms)}` : ''),
  ];
  $('tiles').replaceChildren(...tiles);
}

function renderCharts(kpis, from, to) {
  const windows = kpis?.windows || [];
  drawChart($('chart-events'), {
    windows,
    from,
    to,
    kind: 'line',
    yFmt: (v) => fmtInt(v),
    series: EVENT_SERIES.map(([key, name], i) => ({ key, name, cls: `s${i}`, value: (w) => w[key] })),
  });
  $('legend-events').replaceChildren(...EVENT_SERIES.flatMap(([, name], i) => [el('i', { class: 'sw', 'data-c': i }), name]));
  drawChart($('chart-revenue'), {
    windows,
    from,
    to,
    kind: 'bar',
    yFmt: (v, exact) => (exact ? fmtMoney(v) : intFmt.format(v)),
    series: [{ key: 'revenue', name: 'revenue', cls: 's2', value: (w) => w.revenue }],
  });
  drawChart($('chart-conversion'), {
    windows,
    from,
    to,
    kind: 'line',
    yFmt: (v, exact) => (exact ? fmtPct(v) : `${+(v * 100).toFixed(1)} %`),
    series: [
      { key: 'conversion_rate', name: 'conversion', cls: 's4', value: (w) => w.conversion_rate },
      { key: 'cart_to_purchase_rate', name: 'cart → purchase', cls: 's5', value: (w) => w.cart_to_purchase_rate },
    ],
  });
}

function renderUrls(u) {
  const rows = [];
  for (const r of u.urls) {
    rows.push({
      cls: 'group',
      cells: [{ text: shortUrl(r.url), cls: 'url', title: r.url }, 'all', fmtInt(r.unique_users), fmtInt(r.page_views), fmtInt(r.clicks), fmtMs(r.avg_time_spent_ms), fmtInt(r.time_spent_samples)],
    });
    for (const c of r.countries) {
      rows.push({ cls: 'sub', cells: ['', c.country, fmtInt(c.unique_users), fmtInt(c.page_views), fmtInt(c.clicks), fmtMs(c.avg_time_spent_ms), fmtInt(c.time_spent_samples)] });
    }
  }
  fillTable(
    $('urls'),
    [{ label: 'URL' }, { label: 'Country' }, { label: 'Unique users', num: true }, { label: 'Page views', num: true }, { label: 'Clicks', num: true }, { label: 'Avg time on page', num: true }, { label: 'Timed views', num: true }],
    rows,
    'no URL statistics in this range yet',
  );
  $('urls-note').textContent = u.unique_users_exact
    ? 'One window in range: unique users are distinct users.'
    : 'Unique users are distinct per window, summed over the windows in range. Avg time on page = Σ time / Σ timed views (views followed by another view or an engagement report).';
}

function renderSessions(s) {
  fillTable(
    $('sessions'),
    [{ label: 'Last event' }, { label: 'Visitor' }, { label: 'Where' }, { label: 'Pages', num: true }, { label: 'Duration', num: true }, { label: 'Entry page' }, { label: 'Outcome' }, { label: 'Revenue', num: true }],
    s.sessions.map((x) => ({
      cells: [
        { text: fmtWhen(Date.parse(x.end)), title: x.end },
        { text: String(x.visitor_id).slice(0, 14), title: x.visitor_id },
        `${x.country || '–'} · ${x.device_type || '–'}`,
        fmtInt(x.pages),
        fmtMs(x.duration_ms),
        { text: x.entry_page ? shortUrl(x.entry_page) : '–', cls: 'url', title: x.entry_page || '' },
        { node: el('span', { class: `pill ${x.purchased ? 'yes' : x.added_to_cart ? 'warn' : ''}` }, x.purchased ? 'bought' : x.added_to_cart ? 'cart' : x.closed ? 'left' : 'active') },
        x.purchased ? fmtMoney(x.revenue) : '',
      ],
    })),
    'no sessions in this range yet',
  );
  const m = s.summary;
  $('sessions-note').textContent = `${fmtInt(m.sessions)} sessions active in range · bounce ${fmtPct(m.bounce_rate)} · ${fmtPct(m.purchase_rate)} with a purchase · avg ${m.avg_pages === null ? '–' : m.avg_pages.toFixed(1)} pages`;
}

function renderAlerts(a) {
  fillTable(
    $('alerts'),
    [{ label: 'Raised' }, { label: 'Kind' }, { label: 'Severity' }, { label: 'Who' }, { label: 'Value / threshold', num: true }, { label: 'Message' }],
    a.alerts.map((x) => ({
      cells: [
        { text: fmtWhen(Date.parse(x.raised_at)), title: x.raised_at },
        x.kind || '–',
        { node: el('span', { class: `pill ${x.severity || ''}` }, x.severity || '–') },
        { text: String(x.visitor_id || x.site_id || '–').slice(0, 14), title: x.visitor_id || x.site_id || '' },
        `${typeof x.value === 'number' ? x.value.toLocaleString() : '–'} / ${typeof x.threshold === 'number' ? x.threshold.toLocaleString() : '–'}`,
        { text: x.message || '', cls: 'url', title: x.message || '' },
      ],
    })),
    'no alerts in the last 24 hours',
  );
  const kinds = Object.entries(a.by_kind).map(([k, n]) => `${k} ${n}`);
  $('alerts-note').textContent = `${fmtInt(a.total)} alerts${kinds.length ? ` · ${kinds.join(' · ')}` : ''}`;
}

function showError(where, err) {
  const target = { urls: 'urls', sessions: 'sessions', alerts: 'alerts' }[where];
  if (target) fillTable($(target), [{ label: 'Error' }], [], `could not load: ${err.message}`);
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  const meta = state.meta;
  const now = Date.now();
  const span = RANGE_MS[$('range').value] || RANGE_MS['1h'];
  const from = now - span;
  const tumblingKind = meta.windows[0];
  const chartKind = $('window').value || tumblingKind;
  const rateKind = meta.windows[1] || meta.windows[0];
  try {
    const [tumbling, chart, rate, urls, sessions, alerts] = await Promise.allSettled([
      getJson('api/kpis', { window: tumblingKind, from, to: now }),
      chartKind === tumblingKind ? null : getJson('api/kpis', { window: chartKind, from, to: now }),
      getJson('api/kpis', { window: rateKind, from: now - 30 * 60e3, to: now }),
      getJson('api/url-stats', { from, to: now, limit: 10, countries: 3 }),
      getJson('api/sessions', { from, to: now, limit: 12 }),
      getJson('api/alerts', { from: 'now-24h', limit: 20 }),
    ]);
    const val = (r) => (r.status === 'fulfilled' ? r.value : null);
    const chartData = chartKind === tumblingKind ? val(tumbling) : val(chart);
    const rateWindows = val(rate)?.windows || [];
    renderTiles(val(tumbling), rateWindows.length ? latestComplete(rateWindows, now) : null, rateKind, val(sessions));
    renderCharts(chartData, from, now);
    if (urls.status === 'fulfilled') renderUrls(urls.value);
    else showError('urls', urls.reason);
    if (sessions.status === 'fulfilled') renderSessions(sessions.value);
    else showError('sessions', sessions.reason);
    if (alerts.status === 'fulfilled') renderAlerts(alerts.value);
    else showError('alerts', alerts.reason);
    const failed = [tumbling, chart, rate, urls, sessions, alerts].filter((r) => r.status === 'rejected');
    const status = $('status');
    status.className = failed.length ? 'error' : '';
    status.textContent = failed.length
      ? `${failed.length} request(s) failed: ${failed[0].reason.message}`
      : `updated ${new Date().toLocaleTimeString()} · every ${meta.refresh_s} s`;
  } finally {
    state.busy = false;
    document.body.dataset.loaded = 'true';
  }
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    await refresh().catch(() => {});
    schedule();
  }, state.meta.refresh_s * 1000);
}

async function start() {
  try {
    state.meta = await getJson('api/meta');
  } catch (err) {
    $('status').className = 'error';
    $('status').textContent = `cannot reach the dashboard API: ${err.message}`;
    setTimeout(start, 5000);
    return;
  }
  const select = $('window');
  select.replaceChildren(...state.meta.windows.map((k) => el('option', { value: k }, k)));
  for (const id of ['window', 'range']) $(id).addEventListener('change', () => refresh().catch(() => {}));
  let resize;
  window.addEventListener('resize', () => {
    clearTimeout(resize);
    resize = setTimeout(() => refresh().catch(() => {}), 250);
  });
  await refresh().catch((err) => {
    $('status').className = 'error';
    $('status').textContent = err.message;
  });
  schedule();
}

document.addEventListener('DOMContentLoaded', start);
