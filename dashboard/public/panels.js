/** The page's panels (tiles, charts, tables), each drawn from one API answer. */
import { drawChart } from './chart.js';
import { $, el, fillTable } from './dom.js';
import { fmtInt, fmtMoney, fmtMs, fmtPct, fmtTime, fmtWhen, shortUrl } from './format.js';

const EVENT_SERIES = [
  ['page_views', 'page views'],
  ['clicks', 'clicks'],
  ['add_to_cart', 'add to cart'],
  ['purchases', 'purchases'],
];

function tile(label, value, sub) {
  return el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), el('div', { class: 'sub' }, sub || '\u00a0'));
}

export function renderTiles(tumbling, rateWindow, rateKind, sessions) {
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

export function renderCharts(kpis, from, to) {
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
    yFmt: (v, exact) => (exact ? fmtMoney(v) : fmtInt(v)),
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

export function renderUrls(u) {
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

export function renderSessions(s) {
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

export function renderAlerts(a) {
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

export function showError(where, err) {
  const target = { urls: 'urls', sessions: 'sessions', alerts: 'alerts' }[where];
  if (target) fillTable($(target), [{ label: 'Error' }], [], `could not load: ${err.message}`);
}
