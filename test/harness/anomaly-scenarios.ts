/**
 * Labelled anomaly scenarios: seeded synthetic traffic that carries its own ground truth, for the
 * detectors' tests and `npm run anomaly:eval`. Three families:
 *
 * - site series: 5-minute windows of a shop (visitors, purchases, revenue) with daily and weekly
 *   seasonality, day-to-day level noise and Poisson/binomial counts, into which traffic +200 %,
 *   traffic -60 %, purchases stopping and conversion dropping to a third are injected, beside
 *   negative controls that must raise nothing: a gradual campaign ramp, a flash sale (traffic and
 *   purchases up together), a quiet night and a holiday-like dip of a whole day;
 * - clicks: visitors clicking at human rates from networks of very different sizes, with bursts
 *   from one visitor and from one network (10-100x the key's usual rate for 30-120 s);
 * - sessions: human browsing sessions and scripted bot sessions that claim a browser's user agent.
 *
 * Pure and deterministic for a seed.
 */
import { rng } from '../../scripts/traffic-generator.js';
import type { SiteWindow } from '../../processor/anomaly/site.js';
import type { SessionEvent } from '../../processor/anomaly/bot-sessions.js';

export { rng };

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Monday 5 January 2026, 00:00 UTC. */
export const SCENARIO_START = Date.UTC(2026, 0, 5);

/** A Poisson draw (Knuth below 30, normal approximation above). */
export function poisson(r: () => number, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gauss(r)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > l);
  return k - 1;
}

export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Binomial draw through its Poisson approximation (rates are small). */
const binomial = (r: () => number, n: number, p: number) => Math.min(n, poisson(r, n * p));

// ---------------------------------------------------------------------------------------------
// Site series

export const SITE_KINDS = ['traffic_spike', 'traffic_drop', 'purchases_stopped', 'conversion_drop'] as const;
export const SITE_CONTROLS = ['campaign_ramp', 'flash_sale', 'quiet_night', 'holiday'] as const;
export type SiteLabelKind = (typeof SITE_KINDS)[number] | (typeof SITE_CONTROLS)[number];

export interface SiteLabel {
  kind: SiteLabelKind;
  /** true for negative controls: nothing should be raised. */
  control: boolean;
  start: number;
  end: number;
}

export interface SiteScenario {
  stepMs: number;
  windows: SiteWindow[];
  labels: SiteLabel[];
  /** Labels and alerts before this are warm-up (the baseline learning its history). */
  evalFrom: number;
  evalTo: number;
}

export interface SiteScenarioOptions {
  seed: number;
  /** Weeks of clean history before the evaluated weeks. */
  warmupWeeks?: number;
  evalWeeks?: number;
  /** Visitors per 5 minutes at the daily peak on a weekday. */
  peakVisitors?: number;
  conversion?: number;
  /** false: clean traffic (for false alerts per day). */
  inject?: boolean;
}

/** Visitors per 5 minutes at a weekday's peak, and their conversion, by default: 12 purchases a window. */
export const DEFAULT_PEAK_VISITORS = 400;
export const DEFAULT_CONVERSION = 0.03;

/** Shape of a day: low at 04:00, high in the afternoon and evening (0.12 .. 1). */
function dailyShape(hour: number): number {
  const x = Math.cos(((hour - 16) / 24) * 2 * Math.PI);
  return 0.12 + 0.88 * ((x + 1) / 2) ** 1.5;
}
const WEEKDAY_FACTOR = [1, 1, 1, 1, 0.95, 0.8, 0.7]; // Monday .. Sunday

/** Seeded shop traffic in 5-minute windows, with labelled anomalies and controls in the evaluated weeks. */
export function siteScenario(o: SiteScenarioOptions): SiteScenario {
  const r = rng(o.seed);
  const stepMs = 5 * MIN;
  const warm = o.warmupWeeks ?? 3;
  const weeks = warm + (o.evalWeeks ?? 2);
  const peak = o.peakVisitors ?? DEFAULT_PEAK_VISITORS;
  const conv = o.conversion ?? DEFAULT_CONVERSION;
  const evalFrom = SCENARIO_START + warm * 7 * DAY;
  const evalTo = SCENARIO_START + weeks * 7 * DAY;
  const days = weeks * 7;
  const dayLevel = Array.from({ length: days }, () => Math.exp(0.08 * gauss(r)));
  const dayConv = Array.from({ length: days }, () => Math.exp(0.05 * gauss(r)));

  // Place one event per free slot: each evaluated day gets at most one, at a random hour.
  const labels: SiteLabel[] = [];
  if (o.inject !== false) {
    const evalDays = Array.from({ length: (o.evalWeeks ?? 2) * 7 }, (_, i) => warm * 7 + i);
    for (let i = evalDays.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [evalDays[i], evalDays[j]] = [evalDays[j], evalDays[i]];
    }
    const kinds: SiteLabelKind[] = [...SITE_KINDS, ...SITE_KINDS, ...SITE_CONTROLS, 'campaign_ramp', 'flash_sale'];
    kinds.forEach((kind, i) => {
      if (i >= evalDays.length) return;
      const day = SCENARIO_START + evalDays[i] * DAY;
      const control = (SITE_CONTROLS as readonly string[]).includes(kind);
      let start: number;
      let end: number;
      if (kind === 'holiday') [start, end] = [day, day + DAY];
      else if (kind === 'quiet_night') [start, end] = [day, day + 6 * HOUR];
      else if (kind === 'campaign_ramp') [start, end] = [day + 9 * HOUR, day + 19 * HOUR];
      else {
        // Day-time incidents (10:00-19:00), 30-120 min for traffic, 60-180 min for purchases.
        const len = kind.startsWith('traffic') ? 30 + Math.floor(r() * 19) * 5 : 60 + Math.floor(r() * 25) * 5;
        start = day + 10 * HOUR + Math.floor(r() * 96) * 5 * MIN;
        end = start + len * MIN;
      }
      labels.push({ kind, control, start, end });
    });
  }

  const windows: SiteWindow[] = [];
  for (let t = SCENARIO_START; t < evalTo; t += stepMs) {
    const d = Math.floor((t - SCENARIO_START) / DAY);
    const hour = ((t - SCENARIO_START) % DAY) / HOUR;
    let base = peak * dailyShape(hour) * WEEKDAY_FACTOR[d % 7] * dayLevel[d];
    let rate = conv * dayConv[d];
    let extraVisitors = 0;
    for (const l of labels) {
      if (t < l.start || t >= l.end) continue;
      const f = (t - l.start) / (l.end - l.start);
      switch (l.kind) {
        case 'traffic_spike':
          extraVisitors = 2 * base; // +200 %, visitors that do not buy (referral spam, a bot run)
          break;
        case 'traffic_drop':
          base *= 0.4;
          break;
        case 'purchases_stopped':
          rate = 0;
          break;
        case 'conversion_drop':
          rate /= 3;
          break;
        case 'campaign_ramp':
          // Up to +80 % over 4 h, held, then back down: its visitors buy like the others.
          base *= 1 + 0.8 * Math.min(1, f * 2.5, (1 - f) * 3);
          break;
        case 'flash_sale':
          base *= 2.5;
          rate *= 1.3;
          break;
        case 'quiet_night':
          base *= 0.75;
          break;
        case 'holiday':
          base *= 0.72;
          break;
      }
    }
    const buyers = poisson(r, base);
    const visitors = buyers + poisson(r, extraVisitors);
    const purchases = binomial(r, buyers, rate);
    let revenue = 0;
    for (let i = 0; i < purchases; i++) revenue += Math.round((20 + 60 * r()) * 100) / 100;
    windows.push({ t, visitors, purchases, revenue: Math.round(revenue * 100) / 100 });
  }
  return { stepMs, windows, labels, evalFrom, evalTo };
}

// ---------------------------------------------------------------------------------------------
// Click bursts

export interface Click {
  t: number;
  visitor: string;
  /** The gateway's anonymised prefix (/24). */
  network: string;
  site: string;
}

export interface BurstLabel {
  /** 'visitor' bursts come from one visitor id; 'network' ones from many ids of one prefix. */
  scope: 'visitor' | 'network';
  key: string;
  start: number;
  end: number;
  factor: number;
}

export interface BurstScenario {
  clicks: Click[];
  labels: BurstLabel[];
  from: number;
  to: number;
}

export interface BurstScenarioOptions {
  seed: number;
  /** Simulated minutes. */
  minutes?: number;
  /** Visitor arrivals per second. */
  arrivals?: number;
  bursts?: number;
  inject?: boolean;
}

/**
 * Visitors arrive, browse for 1-15 minutes and click in clusters (a human clicks every 5-30 s, and
 * sometimes two or three times in a row). Networks follow a Zipf law: a few carry many visitors
 * (offices, mobile carriers' NAT), most carry one. Bursts run 30-120 s at 10-100x the key's rate.
 */
export function burstScenario(o: BurstScenarioOptions): BurstScenario {
  const r = rng(o.seed);
  const minutes = o.minutes ?? 120;
  const from = SCENARIO_START + 10 * HOUR;
  const to = from + minutes * MIN;
  const arrivals = o.arrivals ?? 1;
  const networks = 400;
  const zipf: number[] = [];
  let acc = 0;
  for (let i = 1; i <= networks; i++) zipf.push((acc += 1 / i));
  const pickNetwork = () => {
    const x = r() * acc;
    let i = 0;
    while (zipf[i] < x) i++;
    return `10.${(i >> 8) & 255}.${i & 255}.0`;
  };
  const clicks: Click[] = [];
  let n = 0;
  for (let t = from; t < to; t += -Math.log(Math.max(r(), 1e-12)) * (1000 / arrivals)) {
    const visitor = `v${o.seed}-${n++}`;
    const network = pickNetwork();
    const end = Math.min(to, t + (1 + r() * 14) * MIN);
    for (let c = t + 2000 + r() * 20_000; c < end; c += 5000 + r() * 25_000) {
      clicks.push({ t: Math.round(c), visitor, network, site: 'shop' });
      // A double or triple click now and then.
      for (let extra = r() < 0.15 ? 1 + Math.floor(r() * 2) : 0; extra > 0; extra--) clicks.push({ t: Math.round(c + extra * (150 + r() * 400)), visitor, network, site: 'shop' });
    }
  }
  const labels: BurstLabel[] = [];
  if (o.inject !== false) {
    const count = o.bursts ?? 12;
    for (let b = 0; b < count; b++) {
      const start = Math.round(from + 10 * MIN + ((b + r() * 0.5) / count) * (minutes - 15) * MIN);
      const len = (30 + Math.floor(r() * 91)) * 1000;
      const factor = 10 + Math.floor(r() * 91);
      if (b % 2 === 0) {
        // One visitor: a human clicks about every 15 s; the burst clicks factor times as often.
        const visitor = `burst${o.seed}-${b}`;
        const network = pickNetwork();
        const gap = 15_000 / factor;
        for (let c = start; c < start + len; c += gap * (0.5 + r())) clicks.push({ t: Math.round(c), visitor, network, site: 'shop' });
        labels.push({ scope: 'visitor', key: visitor, start, end: start + len, factor });
      } else {
        // One network: fresh visitor ids every few clicks (a scraper farm behind one prefix).
        const network = `10.250.${b}.0`;
        // A small network (a couple of visitors) at factor x its rate: about one click every 8 s normally.
        for (let c = start + 2000 + r() * 10_000; c < to; c += 5000 + r() * 25_000) clicks.push({ t: Math.round(c), visitor: `net${o.seed}-${b}-home`, network, site: 'shop' });
        const gap = 8000 / factor;
        let i = 0;
        for (let c = start; c < start + len; c += gap * (0.5 + r())) clicks.push({ t: Math.round(c), visitor: `net${o.seed}-${b}-${Math.floor(i++ / 4)}`, network, site: 'shop' });
        labels.push({ scope: 'network', key: `shop|${network}`, start, end: start + len, factor });
      }
    }
  }
  clicks.sort((a, b) => a.t - b.t || (a.visitor < b.visitor ? -1 : 1));
  return { clicks, labels, from, to };
}

// ---------------------------------------------------------------------------------------------
// Sessions (bot-like or human)

export interface SessionScenario {
  events: SessionEvent[];
  /** Session ids of scripted bots. */
  bots: Set<string>;
  from: number;
  to: number;
}

const PAGES = Array.from({ length: 60 }, (_, i) => `https://shop.example/products/p${i}`);

/**
 * Humans browse 1-20 pages with irregular reading times and a few clicks; scripted bots (about
 * 2 % of sessions, each with a browser's user agent) are of three sorts: a crawler fetching a new
 * page every ~1 s, a clicker hammering one page, and a fast scraper alternating views and clicks.
 */
export function sessionScenario(o: { seed: number; hours?: number; sessionsPerMinute?: number; botShare?: number }): SessionScenario {
  const r = rng(o.seed);
  const from = SCENARIO_START + 8 * HOUR;
  const to = from + (o.hours ?? 12) * HOUR;
  const perMin = o.sessionsPerMinute ?? 10;
  const botShare = o.botShare ?? 0.02;
  const events: SessionEvent[] = [];
  const bots = new Set<string>();
  let n = 0;
  for (let t = from; t < to; t += -Math.log(Math.max(r(), 1e-12)) * (MIN / perMin)) {
    const id = `s${o.seed}-${n++}`;
    const visitor = `v${id}`;
    const push = (at: number, type: string, url: string) => events.push({ session_id: id, visitor_id: visitor, site_id: 'shop', event_type: type, t: Math.round(at), url, browser: 'Chrome', is_bot: false });
    if (r() < botShare) {
      bots.add(id);
      const sort = Math.floor(r() * 3);
      const count = 20 + Math.floor(r() * 200);
      const period = sort === 0 ? 1000 : sort === 1 ? 400 : 700;
      let at = t;
      for (let i = 0; i < count; i++) {
        if (sort === 0) push(at, 'page_view', PAGES[i % PAGES.length] + `?p=${i}`);
        else if (sort === 1) push(at, 'click', PAGES[3]);
        else push(at, i % 2 ? 'click' : 'page_view', PAGES[Math.floor(r() * PAGES.length)]);
        at += period * (1 + 0.04 * (r() - 0.5));
      }
      continue;
    }
    const pages = 1 + Math.floor(r() * r() * 20);
    let at = t;
    for (let p = 0; p < pages; p++) {
      const url = PAGES[Math.floor(r() * r() * PAGES.length)];
      push(at, 'page_view', url);
      at += 3000 + r() * 60_000 * r();
      for (let c = r() < 0.6 ? 1 + Math.floor(r() * 3) : 0; c > 0; c--) {
        push(at, 'click', url);
        at += 500 + r() * 8000;
      }
    }
  }
  events.sort((a, b) => a.t - b.t || (a.session_id < b.session_id ? -1 : 1));
  return { events, bots, from, to };
}
