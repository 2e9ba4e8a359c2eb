/**
 * An independent, batch computation of every document the processor writes for one partition,
 * from the events of its topic-partitions in log order. Written the plain way (group, sort,
 * count), sharing no aggregation code with the engine, so the tests compare two implementations
 * of the same definitions (see processor/analytics/*.ts for the definitions in words).
 */
import { createHash } from 'node:crypto';
import type { EnrichedEvent } from '../../contracts/event-schema.js';

/** Per-currency revenue as the documents hold it, sorted by currency (written here again, independently). */
const byCurrency = (m: Map<string, { n: number; units: number }>) =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currency, r]) => ({ currency, purchases: r.n, revenue: r.units / 10_000 }));
import type { WindowSpec } from '../../contracts/windows.js';

export interface ReferenceOptions {
  partition: number;
  windows: readonly WindowSpec[];
  urlWindowMs: number;
  latenessMs: number;
  sessionGapMs: number;
  excludeBots: boolean;
  /** The final watermark when the clock moved it past the data (WATERMARK_IDLE_S); default: from the data. */
  watermark?: number;
}

type Doc = Record<string, unknown>;
const iso = (ms: number) => new Date(ms).toISOString();
const view = (e: EnrichedEvent) => e.event_type === 'page_view' && e.engagement_ms == null;
const cmp = (a: { ts: number; e: EnrichedEvent }, b: { ts: number; e: EnrichedEvent }) =>
  a.ts - b.ts || (a.e.event_id < b.e.event_id ? -1 : a.e.event_id > b.e.event_id ? 1 : 0);

function starts(ts: number, w: WindowSpec): number[] {
  const out: number[] = [];
  for (let s = Math.floor(ts / w.stepMs) * w.stepMs; s > ts - w.sizeMs; s -= w.stepMs) out.unshift(s);
  return out;
}

/**
 * Returns `kpis/<id>`, `urlStats/<id>` and `sessions/<id>` -> document, as the processor leaves
 * them once it has read every event (the watermark then follows the latest event).
 */
export function referenceDocs(topicLogs: EnrichedEvent[][], o: ReferenceOptions): Map<string, Doc> {
  const onTime: { ts: number; e: EnrichedEvent }[] = [];
  const late: { at: number; e: EnrichedEvent }[] = [];
  let latest = -Infinity;
  // Records on Kafka twice: the first one counts (the tests repeat on-time events soon after).
  const seen = new Set<string>();
  for (const log of topicLogs) {
    let max = -Infinity;
    for (const e of log) {
      const ts = Date.parse(e.timestamp);
      const id = `${e.site_id}\u0000${e.event_id}`;
      if (!(o.excludeBots && e.is_bot) && seen.has(id)) continue;
      seen.add(id);
      const before = max;
      max = Math.max(max, ts);
      latest = Math.max(latest, ts);
      if (o.excludeBots && e.is_bot) continue;
      if (ts < before - o.latenessMs) late.push({ at: before, e });
      else onTime.push({ ts, e });
    }
  }
  const wm = Math.max(latest - o.latenessMs, o.watermark ?? -Infinity);
  const out = new Map<string, Doc>();

  // KPI windows.
  interface Cell {
    dim: string;
    value: string;
    w: WindowSpec;
    start: number;
    pv: number;
    cl: number;
    atc: number;
    pu: number;
    rev: Map<string, { n: number; units: number }>;
    vis: Set<string>;
    cart: Set<string>;
    bought: Set<string>;
    ses: Set<string>;
    late: number;
  }
  const cells = new Map<string, Cell>();
  const cellsOf = (e: EnrichedEvent, ts: number): Cell[] => {
    const list: Cell[] = [];
    const dims: [string, string][] = [
      ['all', 'all'],
      ['site', e.site_id || 'unknown'],
      ['country', e.country || 'unknown'],
      ['device', e.device_type || 'unknown'],
    ];
    // Purchases only: one currency's revenue per cut.
    if (e.event_type === 'purchase') dims.push(['currency', e.currency || 'unknown']);
    for (const w of o.windows) {
      for (const start of starts(ts, w)) {
        for (const [dim, value] of dims) {
          const id = `${w.kind}|${iso(start)}|${dim}|${value}|${o.partition}`;
          let c = cells.get(id);
          if (!c) {
            c = { dim, value, w, start, pv: 0, cl: 0, atc: 0, pu: 0, rev: new Map(), vis: new Set(), cart: new Set(), bought: new Set(), ses: new Set(), late: 0 };
            cells.set(id, c);
          }
          list.push(c);
        }
      }
    }
    return list;
  };
  for (const { ts, e } of onTime) {
    for (const c of cellsOf(e, ts)) {
      if (view(e)) c.pv++;
      if (e.event_type === 'click') c.cl++;
      if (e.event_type === 'add_to_cart') {
        c.atc++;
        c.cart.add(e.visitor_id);
      }
      if (e.event_type === 'purchase') {
        c.pu++;
        const cur = e.currency || 'unknown';
        const r = c.rev.get(cur) ?? { n: 0, units: 0 };
        c.rev.set(cur, { n: r.n + 1, units: r.units + Math.round((e.revenue ?? 0) * 10_000) });
        c.bought.add(e.visitor_id);
      }
      c.vis.add(e.visitor_id);
      c.ses.add(e.session_id);
    }
  }
  for (const { at, e } of late) for (const c of cellsOf(e, at)) c.late++;
  for (const [id, c] of cells) {
    const both = [...c.cart].filter((v) => c.bought.has(v)).length;
    out.set(`kpis/${id}`, {
      window_kind: c.w.kind,
      window_start: iso(c.start),
      window_end: iso(c.start + c.w.sizeMs),
      dimension: c.dim,
      dimension_value: c.value,
      partition: o.partition,
      page_views: c.pv,
      clicks: c.cl,
      add_to_cart: c.atc,
      purchases: c.pu,
      revenue_by_currency: byCurrency(c.rev),
      unique_visitors: c.vis.size,
      visitors_added_to_cart: c.cart.size,
      visitors_purchased: c.bought.size,
      visitors_carted_and_purchased: both,
      sessions: c.ses.size,
      conversion_rate: c.vis.size ? c.bought.size / c.vis.size : 0,
      cart_to_purchase_rate: c.cart.size ? both / c.cart.size : 0,
      late_events: c.late,
      final: c.start + c.w.sizeMs <= wm,
    });
  }

  // Sessions.
  const bySession = new Map<string, { ts: number; e: EnrichedEvent }[]>();
  for (const x of onTime) {
    const list = bySession.get(x.e.session_id) ?? [];
    list.push(x);
    bySession.set(x.e.session_id, list);
  }
  const closedSessions = new Set<string>();
  for (const [id, list] of bySession) {
    list.sort(cmp);
    const first = list[0];
    const last = list[list.length - 1];
    const views = list.filter((x) => view(x.e));
    const closed = wm > last.ts + o.sessionGapMs;
    if (closed) closedSessions.add(id);
    out.set(`sessions/${id}`, {
      session_id: id,
      visitor_id: first.e.visitor_id,
      site_id: first.e.site_id,
      start: iso(first.ts),
      end: iso(last.ts),
      duration_ms: last.ts - first.ts,
      pages: views.length,
      events: list.length,
      entry_page: views[0]?.e.url ?? null,
      exit_page: views[views.length - 1]?.e.url ?? null,
      country: first.e.country,
      device_type: first.e.device_type,
      added_to_cart: list.some((x) => x.e.event_type === 'add_to_cart'),
      purchased: list.some((x) => x.e.event_type === 'purchase'),
      revenue_by_currency: byCurrency(
        list.reduce((m, x) => {
          if (x.e.event_type !== 'purchase') return m;
          const cur = x.e.currency || 'unknown';
          const r = m.get(cur) ?? { n: 0, units: 0 };
          return m.set(cur, { n: r.n + 1, units: r.units + Math.round((x.e.revenue ?? 0) * 10_000) });
        }, new Map<string, { n: number; units: number }>()),
      ),
      closed,
      partition: o.partition,
    });
  }

  // URL x country windows.
  interface UrlCell {
    start: number;
    url: string;
    country: string;
    site: string | null;
    users: Set<string>;
    pv: number;
    cl: number;
    ms: number;
    n: number;
    none: number;
    rev: Map<string, { n: number; units: number }>;
  }
  const urls = new Map<string, UrlCell>();
  const urlCell = (ts: number, url: string, country: string | null, site: string | null): UrlCell => {
    const start = Math.floor(ts / o.urlWindowMs) * o.urlWindowMs;
    const c = country || 'unknown';
    const key = `${start}|${url}|${c}|${site}`;
    let cell = urls.get(key);
    if (!cell) {
      cell = { start, url, country: c, site, users: new Set(), pv: 0, cl: 0, ms: 0, n: 0, none: 0, rev: new Map() };
      urls.set(key, cell);
    }
    return cell;
  };
  for (const { ts, e } of onTime) {
    const c = urlCell(ts, e.url, e.country, e.site_id);
    c.users.add(e.visitor_id);
    if (view(e)) c.pv++;
    if (e.event_type === 'click') c.cl++;
    if (e.event_type === 'purchase') {
      const cur = e.currency || 'unknown';
      const r = c.rev.get(cur) ?? { n: 0, units: 0 };
      c.rev.set(cur, { n: r.n + 1, units: r.units + Math.round((e.revenue ?? 0) * 10_000) });
    }
  }
  for (const [id, list] of bySession) {
    const closed = closedSessions.has(id);
    const views = list.filter((x) => view(x.e));
    views.forEach((v, i) => {
      const next = views[i + 1];
      let ms: number | null;
      if (next) {
        if (!(next.ts < wm || closed)) return; // not settled yet
        ms = next.ts - v.ts;
      } else {
        if (!closed) return;
        const engaged = list
          .filter((x) => x.e.event_type === 'page_view' && x.e.engagement_ms != null && x.e.url === v.e.url && cmp(v, x) < 0)
          .reduce((s, x) => s + (x.e.engagement_ms ?? 0), 0);
        ms = engaged > 0 ? engaged : null;
      }
      const c = urlCell(v.ts, v.e.url, v.e.country, v.e.site_id);
      if (ms === null) c.none++;
      else {
        c.ms += ms;
        c.n++;
      }
    });
  }
  for (const c of urls.values()) {
    const start = iso(c.start);
    const id = createHash('sha1').update(`${start}\u0000${c.url}\u0000${c.country}\u0000${o.partition}${c.site ? `\u0000${c.site}` : ''}`).digest('hex');
    out.set(`urlStats/${id}`, {
      window_start: start,
      window_end: iso(c.start + o.urlWindowMs),
      url: c.url,
      country: c.country,
      site_id: c.site,
      partition: o.partition,
      unique_users: c.users.size,
      page_views: c.pv,
      clicks: c.cl,
      time_spent_ms: c.ms,
      time_spent_samples: c.n,
      views_without_time: c.none,
      avg_time_spent_ms: c.n ? c.ms / c.n : null,
      revenue_by_currency: byCurrency(c.rev),
    });
  }
  return out;
}
