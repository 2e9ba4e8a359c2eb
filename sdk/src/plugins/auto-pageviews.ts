/**
 * Automatic page views: one when started, then one per route change of a single-page app
 * (history.pushState / replaceState, popstate, and hash routes such as `#/cart` or `#!/cart`).
 * A change that leaves the route as it was (replaceState of the same URL, an in-page anchor
 * like `#reviews`) is not a view. The previous route is sent as the referrer.
 *
 *   import { autoPageviews } from '@clickstream/sdk/auto-pageviews';
 *   const stop = autoPageviews();
 */
import { page } from '../events.js';

export interface AutoPageviewOptions {
  /** Count every hash change as a route (default: only hashes that start with `#/` or `#!/`). */
  hash?: boolean;
}

/** Starts tracking page views; returns a function that stops it and restores history. */
export function autoPageviews(options: AutoPageviewOptions = {}): () => void {
  let route = '';
  let href = '';
  const check = () => {
    const l = location;
    const r = l.pathname + l.search + (options.hash || /^#!?\//.test(l.hash) ? l.hash : '');
    if (r != route) {
      page(route ? { referrer: href } : undefined);
      route = r;
    }
    href = l.href;
  };
  // Titles change just after the route in most routers: look once the current task is done.
  const later = () => setTimeout(check);
  const h = history;
  const orig = [h.pushState, h.replaceState];
  const wrap =
    (f: History['pushState']) =>
    function (this: History, ...a: Parameters<History['pushState']>) {
      f.apply(this, a);
      later();
    };
  h.pushState = wrap(orig[0]);
  h.replaceState = wrap(orig[1]);
  addEventListener('popstate', later);
  addEventListener('hashchange', later);
  check();
  return () => {
    [h.pushState, h.replaceState] = orig;
    removeEventListener('popstate', later);
    removeEventListener('hashchange', later);
  };
}
