/** The page's panels (tiles, charts, tables), each drawn from one API answer. */
import { drawChart } from './chart.js';
import { $, el, fillTable } from './dom.js';
import { fmtCurrency, fmtInt, fmtMs, fmtPct, fmtTime, fmtWhen, shortUrl } from './format.js';

const EVENT_SERIES = [
  ['page_views', 'page views'],
  ['clicks', 'clicks'],
  ['add_to_cart', 'add to cart'],
  ['purchases', 'purchases'],
];

function tile(label, value, sub, key) {
  return el(
    'div',
    { class: 'tile', 'data-key': key, role: 'group', 'aria-label': label },
    el('div', { class: 'label' }, label),
    el('div', { class: 'value' }, value),
    el('div', { class: 'sub' }, sub || '\u00a0'),
  );
}

/** The breakdown lists, in page order (each has a table `bd-<name>`). */
export const BREAKDOWN_PANELS = ['page', 'source', 'entry_page', 'exit_page', 'utm_campaign', 'country', 'browser', 'os', 'device_type'];

const siteName = (site) => (site ? `site ${site}` : 'all sites');

export function renderSites(ov, selected) {
  const select = $('site');
  const sites = new Set((ov?.available_sites || []).map((s) => s.site));
  if (selected) sites.add(selected);
  const want = ['', ...[...sites].sort()];
  const have = [...select.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  select.replaceChildren(...want.map((v) => el('option', { value: v }, v ? v : 'All sites')));
  select.value = selected;
}

export function renderScope(ov, site, start, to) {
  const since = ov?.first_event && Date.parse(ov.first_event) > Date.parse(ov.from) ? ` (data since ${fmtTime(Date.parse(ov.first_event))})` : '';
  $('scope').textContent = `Showing ${siteName(site)}, ${fmtTime(start)}–${fmtTime(to)}${since}. Every figure below is for this selection unless it says otherwise.`;
}

export function renderTiles(ov) {
  const o = ov || {};
  const revenue = o.revenue || [];
  const bots = o.bots || {};
  const tiles = [
    tile('Visitors', fmtInt(o.visitors), 'distinct, in range', 'visitors'),
    tile('Visitors now', fmtInt(o.visitors_now), 'last 5 minutes', 'visitors_now'),
    tile('Sessions', fmtInt(o.sessions), 'distinct, in range', 'sessions'),
    tile('Page views', fmtInt(o.page_views), 'in range', 'page_views'),
    tile('Add to cart', fmtInt(o.add_to_cart), 'events, in range', 'add_to_cart'),
    tile('Purchases', fmtInt(o.purchases), 'orders, in range', 'purchases'),
    ...(revenue.length
      ? revenue.map((r) => tile(`Revenue ${r.currency || '(no currency)'}`, fmtCurrency(r.revenue, r.currency), `${fmtInt(r.purchases)} purchases in ${r.currency || 'no currency'}`, `revenue-${r.currency}`))
      : [tile('Revenue', '–', 'no purchase in range', 'revenue')]),
    tile('Conversion rate', fmtPct(o.conversion_rate), ov ? `${fmtInt(o.funnel?.[2]?.visitors)} of ${fmtInt(o.visitors)} visitors bought` : '', 'conversion'),
    tile('Cart → purchase', fmtPct(o.cart_to_purchase_rate), ov ? `${fmtInt(o.funnel?.[2]?.visitors)} of ${fmtInt(o.funnel?.[1]?.visitors)} carting visitors bought` : '', 'cart_to_purchase'),
    tile('Bot traffic', fmtPct(bots.share_of_events), ov ? `${fmtInt(bots.events)} bot events, left out above` : '', 'bots'),
  ];
  $('tiles').replaceChildren(...tiles);
}

const STEP_NAMES = { page_view: 'Viewed a page', add_to_cart: 'Added to cart', purchase: 'Purchased' };

export function renderFunnel(ov) {
  const steps = ov?.funnel || [];
  const top = steps[0]?.visitors || 0;
  fillTable(
    $('funnel'),
    [{ label: 'Step' }, { label: 'Visitors', num: true }, { label: 'Of previous', num: true }, { label: 'Drop-off', num: true }, { label: '' }],
    steps.map((s) => ({
      cells: [
        STEP_NAMES[s.step] || s.step,
        fmtInt(s.visitors),
        fmtPct(s.from_previous),
        fmtPct(s.drop_off),
        { node: el('span', { class: 'bar', style: null, 'data-w': top ? Math.round((s.visitors / top) * 100) : 0 }), cls: 'barcell' },
      ],
    })),
    'no visitors in range yet',
  );
  for (const b of $('funnel').querySelectorAll('.bar')) b.style.width = `${b.dataset.w}%`;
}

const BD_FIRST = { page: 'Page', source: 'Source', entry_page: 'Entry page', exit_page: 'Exit page', utm_campaign: 'Campaign', country: 'Country', browser: 'Browser', os: 'OS', device_type: 'Device' };
const BD_EMPTY = { source: 'no referred visits in range (direct traffic has no source)', utm_campaign: 'no campaign visits in range' };

export function renderBreakdown(by, b) {
  const sessionsBased = by === 'entry_page' || by === 'exit_page';
  const isUrl = sessionsBased || by === 'page';
  const money = (rows) => rows.map((r) => fmtCurrency(r.revenue, r.currency)).join(' · ') || '–';
  fillTable(
    $(`bd-${by}`),
    [{ label: BD_FIRST[by] || by }, { label: 'Visitors', num: true }, { label: sessionsBased ? 'Pages' : 'Views', num: true }, { label: 'Conversions', num: true }, ...(sessionsBased ? [] : [{ label: 'Revenue', num: true }])],
    b.rows.map((r) => ({
      cells: [
        { text: isUrl ? shortUrl(r.value) : r.value, cls: 'url', title: r.value },
        fmtInt(r.visitors),
        fmtInt(r.views),
        fmtInt(r.conversions),
        ...(sessionsBased ? [] : [money(r.revenue)]),
      ],
    })),
    BD_EMPTY[by] || 'nothing in range yet',
  );
}

export function renderCharts(kpis, rates, from, to, labels, chartKind, rateKind) {
  const windows = kpis?.windows || [];
  $('window-label-events').textContent = labels[chartKind] || chartKind;
  $('window-label-conversion').textContent = labels[rateKind] || rateKind;
  drawChart($('chart-events'), {
    windows,
    from,
    to,
    kind: 'line',
    yTitle: `events ${labels[chartKind] || ''}`.trim(),
    yFmt: (v) => fmtInt(v),
    series: EVENT_SERIES.map(([key, name], i) => ({ key, name, cls: `s${i}`, value: (w) => w[key] })),
  });
  $('legend-events').replaceChildren(...EVENT_SERIES.flatMap(([, name], i) => [el('i', { class: 'sw', 'data-c': i }), name]));
  drawChart($('chart-conversion'), {
    windows: rates?.windows || [],
    from,
    to,
    kind: 'line',
    yTitle: 'share of visitors, %',
    yFmt: (v, exact) => (exact ? fmtPct(v) : `${+(v * 100).toFixed(1)} %`),
    series: [
      { key: 'conversion_rate', name: 'conversion', cls: 's4', value: (w) => w.conversion_rate },
      { key: 'cart_to_purchase_rate', name: 'cart → purchase', cls: 's5', value: (w) => w.cart_to_purchase_rate },
    ],
  });
}

export function renderUrls(u) {
  const rows = [];
  const money = (list) => (list || []).map((r) => fmtCurrency(r.revenue, r.currency)).join(' · ') || '–';
  for (const r of u.urls) {
    rows.push({
      cls: 'group',
      cells: [{ text: shortUrl(r.url), cls: 'url', title: r.url }, 'all', fmtInt(r.unique_users), fmtInt(r.page_views), fmtInt(r.clicks), fmtMs(r.avg_time_spent_ms), fmtInt(r.time_spent_samples), money(r.revenue_by_currency)],
    });
    for (const c of r.countries) {
      rows.push({ cls: 'sub', cells: ['', c.country, fmtInt(c.unique_users), fmtInt(c.page_views), fmtInt(c.clicks), fmtMs(c.avg_time_spent_ms), fmtInt(c.time_spent_samples), money(c.revenue_by_currency)] });
    }
  }
  fillTable(
    $('urls'),
    [{ label: 'URL' }, { label: 'Country' }, { label: 'Unique users', num: true }, { label: 'Page views', num: true }, { label: 'Clicks', num: true }, { label: 'Avg time on page', num: true }, { label: 'Timed views', num: true }, { label: 'Revenue', num: true }],
    rows,
    'no URL statistics in this range yet',
  );
  $('urls-note').textContent = `Unique users: distinct users over the whole range (raw events, bots left out), ${
    u.unique_users_exact ? 'exact' : 'exact up to 20,000, estimated within about 1 % beyond'
  }. Avg time on page = Σ time / Σ timed views (views followed by another view or an engagement report).`;
}

export function renderSessions(s) {
  fillTable(
    $('sessions'),
    [{ label: 'Last event' }, { label: 'Visitor' }, { label: 'Where' }, { label: 'Pages', num: true }, { label: 'Duration', num: true }, { label: 'Entry page' }, { label: 'Outcome' }],
    s.sessions.map((x) => ({
      cells: [
        { text: fmtWhen(Date.parse(x.end)), title: x.end },
        { text: String(x.visitor_id).slice(0, 14), title: x.visitor_id },
        `${x.country || '–'} · ${x.device_type || '–'}`,
        fmtInt(x.pages),
        fmtMs(x.duration_ms),
        { text: x.entry_page ? shortUrl(x.entry_page) : '–', cls: 'url', title: x.entry_page || '' },
        { node: el('span', { class: `pill ${x.purchased ? 'yes' : x.added_to_cart ? 'warn' : ''}` }, x.purchased ? 'bought' : x.added_to_cart ? 'cart' : x.closed ? 'left' : 'active') },
      ],
    })),
    'no sessions in this range yet',
  );
  const m = s.summary;
  $('sessions-note').textContent = `${fmtInt(m.sessions)} sessions active in range (bots included) · bounce ${fmtPct(m.bounce_rate)} · ${fmtPct(m.purchase_rate)} with a purchase · avg ${m.avg_pages === null ? '–' : m.avg_pages.toFixed(1)} pages`;
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
  const target = where;
  if ($(target)) fillTable($(target), [{ label: 'Error' }], [], `could not load: ${err.message}`);
}

/** One "Revenue (EUR)" sort option per currency sold in the range, kept while selected. */
export function renderSortCurrencies(o) {
  const select = $('sort');
  const have = [...select.options].filter((x) => x.value.startsWith('revenue:')).map((x) => x.value);
  const want = [...new Set([...(o?.revenue || []).map((r) => r.currency).filter(Boolean).map((c) => `revenue:${c}`), ...(select.value.startsWith('revenue:') ? [select.value] : [])])].sort();
  if (have.join() === want.join()) return;
  const current = select.value;
  for (const x of [...select.options]) if (x.value.startsWith('revenue:')) x.remove();
  for (const v of want) {
    select.append(el('option', { value: v }, `Revenue (${v.slice('revenue:'.length)})`));
  }
  select.value = current;
}
