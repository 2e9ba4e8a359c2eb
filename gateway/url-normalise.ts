/**
 * The one place a page URL is normalised, at enrichment, so the raw events, KPIs, URL stats and
 * sessions downstream all carry the same page URL (`url`; the URL as sent stays in `url_raw`):
 * - the query string keeps only the parameters of URL_QUERY_ALLOWLIST (default `utm_*`), sorted
 *   by name, so `thanks.html?order=1` and `?order=2` are one page and a campaign link stays
 *   distinguishable;
 * - the fragment is dropped, except a hash route (`#/…`, `#!/…`), which the SDK counts as a view
 *   of its own (sdk/src/plugins/view.ts);
 * - scheme and host are lowercased, a default port dropped, an empty path becomes `/` (the WHATWG
 *   URL parser's `href`).
 */

/** Whether a query parameter (by its name as written) is kept. */
export type QueryKeep = (name: string) => boolean;

/**
 * The predicate of an allowlist: exact names, `prefix*` for every name starting with the prefix,
 * `*` for every name. An empty list drops every query string.
 */
export function queryAllowlist(patterns: readonly string[]): QueryKeep {
  if (patterns.includes('*')) return () => true;
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  if (exact.size === 0 && prefixes.length === 0) return () => false;
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

const isHashRoute = (hash: string) => hash.startsWith('#/') || hash.startsWith('#!/');

/** The normalised form of an already parsed URL (no second parse). */
export function normaliseUrl(u: URL, keep: QueryKeep): string {
  const { href, search, hash } = u;
  // In a parsed href a `?` or `#` can only start the query or the fragment (elsewhere they are escaped).
  const cut = href.search(/[?#]/);
  if (cut < 0) return href;
  const base = href.slice(0, cut);
  let query = '';
  if (search.length > 1) {
    const kept: [string, string][] = [];
    for (const part of search.slice(1).split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const raw = eq < 0 ? part : part.slice(0, eq);
      let name = raw;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judged by the name as written.
      }
      if (keep(name)) kept.push([name, part]);
    }
    if (kept.length > 0) query = '?' + kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((k) => k[1]).join('&');
  }
  return base + query + (isHashRoute(hash) ? hash : '');
}
