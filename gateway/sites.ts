import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../contracts/config.js';

/**
 * Sites, their write keys and the browser origins allowed to send events for them.
 *
 * Two sources, merged: SITES (`KEY:ORIGIN,ORIGIN;KEY2:*`, the key doubles as site id) and
 * SITES_FILE (JSON, see `parseSitesFile`, which can give a site several keys and a site id
 * different from its keys). With neither, the gateway runs open: any key (or none) is taken
 * as the site id and origins are checked against GATEWAY_CORS_ORIGINS only.
 *
 * Write keys are public (they sit in every page's HTML): they say which site an event is
 * for, the origin check stops other sites' pages from using them, and the per-site rate
 * limit caps what a stolen key can do.
 */

export interface Site {
  key: string;
  siteId: string;
  /** Any origin may post (configured as "*"). */
  anyOrigin: boolean;
  /** Exact origins, normalised as `new URL(x).origin` gives them. */
  origins: ReadonlySet<string>;
  /** `https://*.shop.example` entries, as [scheme + "//", ".shop.example" (suffix), port part]. */
  wildcards: readonly { scheme: string; suffix: string }[];
  /** Hosts of the site's own origins, "www." stripped: a referrer from them is internal. */
  hosts: ReadonlySet<string>;
}

export interface SiteRegistry {
  /** No site configured: demo mode, anyone may send. */
  readonly open: boolean;
  readonly sites: readonly Site[];
  /** The site a write key belongs to; in open mode a site made up from the key (or none). */
  resolve(key: string | null): Site | null;
  originAllowed(site: Site, origin: string): boolean;
  /** For preflights that carry no key (the key travels in a header the preflight only names). */
  anySiteAllows(origin: string): boolean;
}

const KEY_RE = /^[A-Za-z0-9_.~-]{1,128}$/;

interface SiteSpec {
  keys: string[];
  siteId: string;
  origins: string[];
}

function buildSite(key: string, siteId: string, origins: string[], where: string): Site {
  if (!KEY_RE.test(key)) throw new ConfigError(`${where}: write key "${key}" must be 1-128 characters of A-Z a-z 0-9 _ . ~ -`);
  if (!KEY_RE.test(siteId)) throw new ConfigError(`${where}: site id "${siteId}" must be 1-128 characters of A-Z a-z 0-9 _ . ~ -`);
  let anyOrigin = false;
  const exact = new Set<string>();
  const wildcards: { scheme: string; suffix: string }[] = [];
  const hosts = new Set<string>();
  for (const raw of origins) {
    const o = raw.trim();
    if (!o) continue;
    if (o === '*') {
      anyOrigin = true;
      continue;
    }
    if (o === 'null') {
      // Sandboxed iframes and file:// pages send "Origin: null"; allowed only when listed.
      exact.add('null');
      continue;
    }
    const wild = /^(https?:\/\/)\*\.([^/]+)$/i.exec(o);
    if (wild) {
      const suffix = `.${wild[2].toLowerCase().replace(/\/$/, '')}`;
      wildcards.push({ scheme: wild[1].toLowerCase(), suffix });
      hosts.add(suffix.slice(1).replace(/:\d+$/, '').replace(/^www\./, ''));
      continue;
    }
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(`${where}: origin "${o}" of site "${siteId}" is not a URL (e.g. https://shop.example)`);
    }
    if (u.origin === 'null') throw new ConfigError(`${where}: origin "${o}" of site "${siteId}" has no host`);
    exact.add(u.origin);
    hosts.add(u.hostname.replace(/^www\./, ''));
  }
  return { key, siteId, anyOrigin, origins: exact, wildcards, hosts };
}

/** `shop:https://shop.example,https://www.shop.example;blog:*` */
export function parseSitesEnv(text: string): SiteSpec[] {
  const out: SiteSpec[] = [];
  for (const entry of text.split(';')) {
    const e = entry.trim();
    if (!e) continue;
    const colon = e.indexOf(':');
    if (colon < 0) throw new ConfigError(`SITES: entry "${e}" must be KEY:ORIGINS (use KEY:* for any origin, KEY: for none)`);
    const key = e.slice(0, colon).trim();
    const origins = e
      .slice(colon + 1)
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    out.push({ keys: [key], siteId: key, origins });
  }
  return out;
}

/**
 * `{"sites": [{"site_id": "shop", "keys": ["pk_shop_1", "pk_shop_2"], "origins": ["https://shop.example"]},
 *             {"key": "blog", "origins": ["*"]}]}` (or the bare array). `key` and `keys` may be
 * combined; `site_id` defaults to the first key.
 */
export function parseSitesFile(text: string, where = 'SITES_FILE'): SiteSpec[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where}: not JSON (${(err as Error).message})`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { sites?: unknown } | null)?.sites;
  if (!Array.isArray(list)) throw new ConfigError(`${where}: expected {"sites": [...]} or an array of sites`);
  return list.map((s, i) => {
    if (!s || typeof s !== 'object') throw new ConfigError(`${where}: site #${i} is not an object`);
    const o = s as Record<string, unknown>;
    const keys = [...(typeof o.key === 'string' ? [o.key] : []), ...(Array.isArray(o.keys) ? o.keys : [])];
    if (keys.length === 0 || keys.some((k) => typeof k !== 'string')) throw new ConfigError(`${where}: site #${i} needs "key" or "keys" (strings)`);
    const origins = o.origins ?? [];
    if (!Array.isArray(origins) || origins.some((x) => typeof x !== 'string')) throw new ConfigError(`${where}: site #${i}: "origins" must be an array of strings`);
    const siteId = o.site_id ?? keys[0];
    if (typeof siteId !== 'string') throw new ConfigError(`${where}: site #${i}: "site_id" must be a string`);
    return { keys: keys as string[], siteId, origins: origins as string[] };
  });
}

export function normaliseOrigin(origin: string): string {
  // Browsers send "scheme://host[:port]" in lower case; be lenient about case and a trailing slash.
  let o = origin.trim();
  if (o.endsWith('/')) o = o.slice(0, -1);
  return o.toLowerCase();
}

function matches(site: Site, origin: string): boolean {
  if (site.anyOrigin) return true;
  const o = normaliseOrigin(origin);
  if (site.origins.has(o)) return true;
  for (const w of site.wildcards) {
    if (o.startsWith(w.scheme) && o.endsWith(w.suffix) && o.length > w.scheme.length + w.suffix.length) {
      const host = o.slice(w.scheme.length, o.length - w.suffix.length);
      if (!host.includes('/') && !host.includes('@')) return true;
    }
  }
  return false;
}

export function siteRegistry(cfg: Pick<Config, 'sites' | 'sitesFile' | 'gatewayCorsOrigins'>): SiteRegistry {
  const specs = [...parseSitesEnv(cfg.sites)];
  if (cfg.sitesFile) {
    let text: string;
    try {
      text = readFileSync(cfg.sitesFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`SITES_FILE: cannot read ${cfg.sitesFile} (${(err as Error).message})`);
    }
    specs.push(...parseSitesFile(text, `SITES_FILE ${cfg.sitesFile}`));
  }
  const byKey = new Map<string, Site>();
  const sites: Site[] = [];
  for (const spec of specs) {
    for (const key of spec.keys) {
      if (byKey.has(key)) throw new ConfigError(`write key "${key}" is configured twice`);
      const site = buildSite(key, spec.siteId, spec.origins, 'SITES');
      byKey.set(key, site);
      sites.push(site);
    }
  }
  const open = sites.length === 0;
  // Open mode: one made-up site per key, with GATEWAY_CORS_ORIGINS as its origins.
  const openTemplate = buildSite('open', 'open', cfg.gatewayCorsOrigins, 'GATEWAY_CORS_ORIGINS');
  const openSites = new Map<string, Site>();
  const anonymous: Site = { ...openTemplate, key: '', siteId: '' };

  return {
    open,
    sites,
    resolve(key) {
      if (!open) return key === null ? null : (byKey.get(key) ?? null);
      if (key === null || !KEY_RE.test(key)) return key === null ? anonymous : null;
      let s = openSites.get(key);
      if (!s) {
        if (openSites.size >= 10_000) openSites.clear();
        s = { ...openTemplate, key, siteId: key };
        openSites.set(key, s);
      }
      return s;
    },
    originAllowed: matches,
    anySiteAllows(origin) {
      if (open) return matches(openTemplate, origin);
      return sites.some((s) => matches(s, origin));
    },
  };
}
