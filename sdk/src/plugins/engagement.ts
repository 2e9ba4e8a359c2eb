/**
 * Engagement time: how long the page was visible, sent when the page is hidden (tab switch,
 * navigation, close) and when a single-page app changes route.
 *
 * The report is a `page_view` event carrying `engagement_ms`: it is NOT a new view, it reports
 * the visible time on `url` since the previous report of the same view (reports add up).
 * Consumers count views as page_view events without `engagement_ms` (see contracts/event-schema.ts).
 *
 *   import { engagement } from '@clickstream/sdk/engagement';
 *   const stop = engagement();
 */
import { flush } from '../core.js';
import { page } from '../events.js';

export interface EngagementOptions {
  /** Reports shorter than this are not sent (default 1000 ms). */
  minMs?: number;
}

/** Starts measuring; returns a function that stops it (without a final report). */
export function engagement(options: EngagementOptions = {}): () => void {
  const min = options.minMs ?? 1000;
  const visible = () => document.visibilityState != 'hidden';
  let ms = 0;
  let since = visible() ? Date.now() : 0;
  let url = location.href;
  let title = document.title;
  const pause = () => {
    if (since) ms += Date.now() - since;
    since = 0;
  };
  const report = () => {
    pause();
    if (ms >= min) page({ url, title, engagement_ms: Math.round(ms) });
    ms = 0;
  };
  const onVisibility = () => {
    if (!visible()) return onHide();
    since = Date.now();
    title = document.title;
  };
  const onHide = () => {
    title = document.title;
    report();
    flush(true);
  };
  // Route change (SPA): report the route being left, then measure the new one.
  const onRoute = () => {
    if (location.href == url) return;
    report();
    url = location.href;
    if (visible()) since = Date.now();
    // Routers set the new title just after the URL.
    setTimeout(() => (title = document.title));
  };
  const h = history;
  const orig = [h.pushState, h.replaceState];
  const wrap =
    (f: History['pushState']) =>
    function (this: History, ...a: Parameters<History['pushState']>) {
      f.apply(this, a);
      onRoute();
    };
  h.pushState = wrap(orig[0]);
  h.replaceState = wrap(orig[1]);
  document.addEventListener('visibilitychange', onVisibility);
  addEventListener('pagehide', onHide);
  addEventListener('popstate', onRoute);
  addEventListener('hashchange', onRoute);
  return () => {
    [h.pushState, h.replaceState] = orig;
    document.removeEventListener('visibilitychange', onVisibility);
    removeEventListener('pagehide', onHide);
    removeEventListener('popstate', onRoute);
    removeEventListener('hashchange', onRoute);
  };
}
