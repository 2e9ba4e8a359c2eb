/**
 * Engagement time: how long the page was visible, sent when the page is hidden (tab switch,
 * navigation, close), in the same beacon as the rest, and when a single-page app changes view.
 *
 * The report is a `page_view` event carrying `engagement_ms`: it is NOT a new view, it reports
 * the visible time on `url` since the previous report of the same view (reports add up).
 * Consumers count views as page_view events without `engagement_ms` (see contracts/event-schema.ts).
 * Views change by the definition the auto page-view plugin uses (./view.ts, same `hash` option):
 * the report's `url` is the URL the view was counted with, anchors and hashes set later included.
 *
 *   import { engagement } from '@clickstream/sdk/engagement';
 *   const stop = engagement();
 */
import { page } from '../events.js';
import { watchViews, type ViewOptions } from './view.js';

export interface EngagementOptions extends ViewOptions {
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
  // Hidden: reported at once. On the document, so before the core's beacon (on window, where the
  // event arrives after): the report leaves in the same beacon.
  const onVisibility = () => {
    if (visible()) {
      since ||= Date.now();
      title = document.title;
    } else report();
  };
  // View changed: report the view being left, then measure the new one.
  const stopViews = watchViews(options, () => {
    report();
    url = location.href;
    title = document.title;
    if (visible()) since = Date.now();
  });
  document.addEventListener('visibilitychange', onVisibility);
  // Unloading: Chromium fires pagehide before visibilitychange; the core beacons this report next
  // (at visibilitychange), or takes it with the rest of the queue at the next page.
  addEventListener('pagehide', report, true);
  return () => {
    stopViews();
    document.removeEventListener('visibilitychange', onVisibility);
    removeEventListener('pagehide', report, true);
  };
}
