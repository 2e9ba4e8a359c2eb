/**
 * The independent count of the dashboard e2e: from the events the shoppers' SDKs sent and what the
 * test set per shopper, every figure the dashboard page must show; and what the page shows, read in
 * the same shape.
 */
import type { Page } from 'playwright-core';
import { SITES, type Sent, type WireEvent } from './dashboard-shoppers.js';

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const int = (n: number) => intFmt.format(n);
const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`);
const money = (n: number, currency: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' }).format(n).replace(/\u00a0/g, ' ');
const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** The page URL as the pipeline keeps it: no fragment, only utm_* parameters, sorted by name. */
export function normal(url: string): string {
  const u = new URL(url);
  const kept = u.search
    .slice(1)
    .split('&')
    .filter((p) => p.startsWith('utm_'))
    .sort((a, b) => (a.split('=')[0] < b.split('=')[0] ? -1 : 1));
  return `${u.origin}${u.pathname}${kept.length ? `?${kept.join('&')}` : ''}`;
}

export const isView = (e: WireEvent) => e.type === 'page_view' && e.engagement_ms === undefined;
const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export type Row = string[];

/** Breakdown rows as the page lists them: visitors desc, then value; at most 8. */
export function rowsOf(events: Sent[], key: (e: Sent) => string | null, withRevenue: boolean): Row[] {
  const groups = new Map<string, Sent[]>();
  for (const e of events) {
    const k = key(e);
    if (k !== null) groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  return [...groups]
    .map(([value, es]) => {
      const visitors = new Set(es.map((e) => e.visitor_id)).size;
      const buys = es.filter((e) => e.type === 'purchase');
      const revenue = new Map<string, number>();
      for (const e of buys) revenue.set(e.currency!, (revenue.get(e.currency!) ?? 0) + e.revenue!);
      const cells = [value, int(visitors), int(es.filter(isView).length), int(new Set(buys.map((e) => e.visitor_id)).size)];
      if (withRevenue) cells.push([...revenue].sort(byKey).map(([c, n]) => money(n, c)).join(' · ') || '–');
      return { visitors, cells };
    })
    .sort((a, b) => b.visitors - a.visitors || (a.cells[0] < b.cells[0] ? -1 : 1))
    .slice(0, 8)
    .map((r) => r.cells);
}

/** Entry or exit page rows, from the shoppers' sessions: visitors, pages seen in those sessions, visitors whose session bought. */
function sessionRows(events: Sent[], which: 'entry' | 'exit'): Row[] {
  const sessions = new Map<string, Sent[]>();
  for (const e of events) sessions.set(e.session_id, [...(sessions.get(e.session_id) ?? []), e]);
  const groups = new Map<string, { visitors: Set<string>; pages: number; buyers: Set<string> }>();
  for (const es of sessions.values()) {
    const views = es.filter(isView).sort((a, b) => a.ts - b.ts);
    if (!views.length) continue;
    const page = normal((which === 'entry' ? views[0] : views[views.length - 1]).url);
    const g = groups.get(page) ?? { visitors: new Set(), pages: 0, buyers: new Set() };
    g.visitors.add(es[0].visitor_id);
    g.pages += views.length;
    if (es.some((e) => e.type === 'purchase')) g.buyers.add(es[0].visitor_id);
    groups.set(page, g);
  }
  return [...groups]
    .sort((a, b) => b[1].visitors.size - a[1].visitors.size || (a[0] < b[0] ? -1 : 1))
    .slice(0, 8)
    .map(([page, g]) => [page, int(g.visitors.size), int(g.pages), int(g.buyers.size)]);
}

/** External referrers only: a link from the shop's own pages is not a source. */
export function sourceOf(e: Sent): string | null {
  if (!e.referrer) return null;
  const host = new URL(e.referrer).hostname;
  return host === new URL(e.url).hostname ? null : host;
}

export interface Screen {
  sites: string[];
  tiles: Record<string, string>;
  funnel: Row[];
  lists: Record<string, Row[]>;
}

export function expectedScreen(all: Sent[], sites: string[]): Screen {
  const sel = all.filter((e) => !sites.length || sites.includes(e.shopper.site));
  const humans = sel.filter((e) => !e.shopper.bot);
  const distinct = (f: (e: Sent) => boolean) => new Set(humans.filter(f).map((e) => e.visitor_id)).size;
  const visitors = distinct(() => true);
  const viewers = distinct(isView);
  const carters = distinct((e) => e.type === 'add_to_cart');
  const buyers = distinct((e) => e.type === 'purchase');
  const revenue = new Map<string, [number, number]>();
  for (const e of humans.filter((x) => x.type === 'purchase')) {
    const [n, sum] = revenue.get(e.currency!) ?? [0, 0];
    revenue.set(e.currency!, [n + 1, sum + e.revenue!]);
  }
  const count = (type: string) => humans.filter((e) => e.type === type).length;
  const tiles: Record<string, string> = {
    Visitors: int(visitors),
    'Visitors now': int(visitors), // everyone shopped in the last few minutes
    Sessions: int(new Set(humans.map((e) => e.session_id)).size),
    'Page views': int(humans.filter(isView).length),
    'Add to cart': int(count('add_to_cart')),
    Purchases: int(count('purchase')),
    ...Object.fromEntries([...revenue].map(([c, [, sum]]) => [`Revenue ${c}`, money(sum, c)])),
    ...(revenue.size ? {} : { Revenue: '–' }),
    'Conversion rate': pct(ratio(buyers, visitors)),
    'Cart → purchase': pct(ratio(buyers, carters)),
    'Bot traffic': pct(ratio(sel.length - humans.length, sel.length)),
  };
  const funnelStep = (name: string, n: number, prev: number | null): Row => [name, int(n), pct(prev === null ? null : ratio(n, prev)), pct(prev === null ? null : prev > 0 ? 1 - n / prev : null)];
  return {
    sites: ['All sites', ...SITES],
    tiles,
    funnel: [funnelStep('Viewed a page', viewers, null), funnelStep('Added to cart', carters, viewers), funnelStep('Purchased', buyers, carters)],
    lists: {
      page: rowsOf(humans, (e) => normal(e.url), true),
      source: rowsOf(humans, sourceOf, true),
      entry_page: sessionRows(humans, 'entry'),
      exit_page: sessionRows(humans, 'exit'),
      utm_campaign: rowsOf(humans, (e) => e.utm_campaign ?? null, true),
      country: rowsOf(humans, (e) => e.shopper.country, true),
      browser: rowsOf(humans, (e) => e.shopper.browser, true),
      os: rowsOf(humans, (e) => e.shopper.os, true),
      device_type: rowsOf(humans, (e) => e.shopper.device, true),
    },
  };
}

/** What the page shows now, in the shape of expectedScreen. */
export async function readScreen(page: Page): Promise<Screen> {
  return page.evaluate(() => {
    const rows = (table: string) =>
      [...document.querySelectorAll(`#${table} tbody tr`)]
        .filter((tr) => !tr.querySelector('td.empty'))
        .map((tr) => [...tr.querySelectorAll('td')].map((td, i) => (i === 0 && td.title ? td.title : (td.textContent ?? '').trim())));
    const lists = ['page', 'source', 'entry_page', 'exit_page', 'utm_campaign', 'country', 'browser', 'os', 'device_type'];
    return {
      sites: [...document.querySelectorAll<HTMLOptionElement>('#site option')].map((o) => o.textContent ?? ''),
      tiles: Object.fromEntries([...document.querySelectorAll('#tiles .tile')].map((t) => [t.querySelector('.label')?.textContent ?? '', t.querySelector('.value')?.textContent ?? ''])),
      funnel: rows('funnel').map((r) => r.slice(0, 4)),
      lists: Object.fromEntries(lists.map((l) => [l, rows(`bd-${l}`)])),
    };
  });
}
