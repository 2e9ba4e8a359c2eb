import { SETTINGS } from '../contracts/config.js';
import { normaliseUrl, queryAllowlist, type QueryKeep } from './url-normalise.js';

/** What one URL parse yields: host, path, UTM / click-id hints from the query string, the normalised URL. */
export interface ParsedUrl {
  host: string | null;
  path: string | null;
  query: URLSearchParams | null;
  /** gateway/url-normalise.ts; null when the URL does not parse (kept as sent). */
  normal: string | null;
  /** `,"url":..,"url_raw":..,"url_host":..,"url_path":..` when this is the page URL (enrichedJson; filled in on first use). */
  pageJson?: string;
  /** The query's UTM fields as JSON and whether it marks a campaign (enrichedJson, for events that carry no UTM; filled in on first use). */
  utm?: { json: string; campaign: boolean };
  /**
   * The referrer fields' JSON of the last event on this page, what they were computed from, and
   * the request they belong to (`RequestContext.memo`: they depend on its site's hosts).
   */
  ref?: { request: number; referrer: string | undefined; campaign: boolean; json: string };
}

export const NO_URL: ParsedUrl = { host: null, path: null, query: null, normal: null };
export const DEFAULT_KEEP = queryAllowlist(SETTINGS.urlQueryAllowlist.default.split(','));

export function parseUrl(url: string | undefined, keep: QueryKeep): ParsedUrl {
  if (!url) return NO_URL;
  try {
    const u = new URL(url);
    return { host: u.hostname || null, path: u.pathname || null, query: u.search.length > 1 ? u.searchParams : null, normal: normaliseUrl(u, keep) };
  } catch {
    return NO_URL;
  }
}

/**
 * URLs parsed once and kept, with the JSON written for them, for a gateway's requests (ingest
 * makes one): a site's events come from a few pages and referrers, and each request's first
 * event on a page parsed and wrote that page's URL again (a WHATWG parse, normalisation, the
 * fields' JSON; kept, a request took 12 % less CPU with Kafka stubbed, bench:gateway-http-work,
 * 5 Dec 2026). Forgotten all at once when it holds `maxUrls` URLs or their text passes
 * `maxChars`: a few MB at most, and an attacker's unique URLs cost a parse each, as before.
 */
export class UrlMemo {
  private readonly byUrl = new Map<string, ParsedUrl>();
  private chars = 0;
  constructor(
    private readonly keep: QueryKeep = DEFAULT_KEEP,
    private readonly maxChars = 1 << 20,
    private readonly maxUrls = 4096,
  ) {}

  /** Called per URL of every event: the parse of `url` (NO_URL when it does not parse). */
  get(url: string): ParsedUrl {
    let parsed = this.byUrl.get(url);
    if (parsed === undefined) {
      parsed = parseUrl(url, this.keep);
      this.chars += url.length;
      if (this.chars > this.maxChars || this.byUrl.size >= this.maxUrls) {
        this.byUrl.clear();
        this.chars = url.length;
      }
      this.byUrl.set(url, parsed);
    }
    return parsed;
  }

  get size(): number {
    return this.byUrl.size;
  }
}
