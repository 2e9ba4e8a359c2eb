/**
 * What "the view changed" means, one definition for the auto page-view and engagement plugins,
 * so that every engagement report is for a view that was counted (the processor matches reports
 * to views by URL):
 *  - a view is the path and query string, plus the hash only for hash routes (`#/cart`,
 *    `#!/cart`), or any hash with `hash: true`. An in-page anchor (`#pricing`) or a hash set by
 *    replaceState is not a new view;
 *  - route changes are looked at once the current task is done: several in one task (a router's
 *    redirect, ten pushStates in a loop) are one view, of the last route. The title is read then
 *    too, after the router set it.
 */
export interface ViewOptions {
  /** Every hash change is a view (default: only hashes that start with `#/` or `#!/`). */
  hash?: boolean;
}

/** The current view's identity under `options`. */
export function viewOf(options: ViewOptions): string {
  const l = location;
  return l.pathname + l.search + (options.hash || /^#!?\//.test(l.hash) ? l.hash : '');
}

/**
 * Calls `changed(from)` once after each task in which the view changed (history.pushState /
 * replaceState, back/forward, hash changes), `from` being the URL before. Returns a function that
 * stops watching and restores history.
 */
export function watchViews(options: ViewOptions, changed: (from: string) => void): () => void {
  let view = viewOf(options);
  let href = location.href;
  let queued = 0;
  const check = () => {
    queued = 0;
    const v = viewOf(options);
    if (v != view) {
      view = v;
      changed(href);
    }
    href = location.href;
  };
  const later = () => {
    if (!queued) queued = setTimeout(check) as unknown as number;
  };
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
  return () => {
    [h.pushState, h.replaceState] = orig;
    removeEventListener('popstate', later);
    removeEventListener('hashchange', later);
    clearTimeout(queued);
  };
}
