/* global document, window, fetch, URLSearchParams, setTimeout, clearTimeout */
/**
 * The live dashboard page: polls the JSON API (relative URLs, so it also works behind a proxy
 * under a path) and draws small SVG charts and tables (panels.js). No framework. Every request
 * carries the same range and site selection, so every figure on the page counts the same events.
 */
import { $, el } from './dom.js';
import { BREAKDOWN_PANELS, renderAlerts, renderBreakdown, renderCharts, renderFunnel, renderScope, renderSessions, renderSites, renderSortCurrencies, renderTiles, renderUrls, showError } from './panels.js';
import { fmtClock } from './format.js';

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

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  const meta = state.meta;
  const now = Date.now();
  const span = RANGE_MS[$('range').value] || RANGE_MS['1h'];
  const from = now - span;
  const site = $('site').value;
  // "revenue:EUR": by one currency's revenue (currencies are never added up).
  const [sort, currency] = $('sort').value.split(':');
  const chartKind = $('window').value || meta.windows[0];
  const rateKind = meta.windows[1] || meta.windows[0];
  const cut = site ? { dimension: 'site', value: site } : {};
  const sel = { from, to: now, site };
  try {
    const calls = [
      getJson('api/overview', sel),
      getJson('api/kpis', { window: chartKind, from, to: now, ...cut }),
      chartKind === rateKind ? null : getJson('api/kpis', { window: rateKind, from, to: now, ...cut }),
      getJson('api/url-stats', { from, to: now, limit: 10, countries: 3 }),
      getJson('api/sessions', { ...sel, limit: 12 }),
      getJson('api/alerts', { from: 'now-24h', limit: 20, site }),
      ...BREAKDOWN_PANELS.map((by) => getJson('api/breakdown', { ...sel, by, sort, ...(currency ? { currency } : {}), limit: 8 })),
    ];
    const results = await Promise.allSettled(calls);
    const [overview, chart, rate, urls, sessions, alerts, ...lists] = results;
    const val = (r) => (r.status === 'fulfilled' ? r.value : null);
    const ov = val(overview);
    renderSites(ov, site);
    renderSortCurrencies(ov);
    // A fresh pipeline: the charts start where the data starts, not an hour before it.
    const first = ov?.first_event ? Date.parse(ov.first_event) : null;
    const start = first && first > from ? Math.max(from, Math.floor(first / 60e3) * 60e3) : from;
    renderScope(ov, site, start, now);
    renderTiles(ov);
    renderFunnel(ov);
    const rateData = chartKind === rateKind ? val(chart) : val(rate);
    renderCharts(val(chart), rateData, start, now, meta.window_labels || {}, chartKind, rateKind);
    lists.forEach((r, i) => (r.status === 'fulfilled' ? renderBreakdown(BREAKDOWN_PANELS[i], r.value) : showError(`bd-${BREAKDOWN_PANELS[i]}`, r.reason)));
    if (urls.status === 'fulfilled') renderUrls(urls.value);
    else showError('urls', urls.reason);
    if (sessions.status === 'fulfilled') renderSessions(sessions.value);
    else showError('sessions', sessions.reason);
    if (alerts.status === 'fulfilled') renderAlerts(alerts.value);
    else showError('alerts', alerts.reason);
    const failed = results.filter((r) => r.status === 'rejected');
    const status = $('status');
    status.className = failed.length ? 'error' : '';
    status.textContent = failed.length
      ? `${failed.length} request(s) failed: ${failed[0].reason.message}`
      : `updated ${fmtClock(Date.now())} · every ${meta.refresh_s} s`;
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
  const labels = state.meta.window_labels || {};
  $('window').replaceChildren(...state.meta.windows.map((k) => el('option', { value: k }, labels[k] || k)));
  for (const id of ['site', 'window', 'range', 'sort']) $(id).addEventListener('change', () => refresh().catch(() => {}));
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
