/* global document, window, fetch, URLSearchParams, setTimeout, clearTimeout */
/**
 * The live dashboard page: polls the JSON API (relative URLs, so it also works behind a proxy
 * under a path) and draws small SVG charts and tables (panels.js). No framework.
 */
import { $, el } from './dom.js';
import { renderAlerts, renderCharts, renderSessions, renderTiles, renderUrls, showError } from './panels.js';

const RANGE_MS = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3 };
const state = { meta: null, timer: null, busy: false };

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
