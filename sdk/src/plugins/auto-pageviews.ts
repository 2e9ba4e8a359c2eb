/**
 * Automatic page views: one when started, then one per route change of a single-page app
 * (history.pushState / replaceState, popstate, and hash routes such as `#/cart` or `#!/cart`).
 * What counts as a new view is defined once, in ./view.ts, and shared with the engagement plugin:
 * an in-page anchor like `#reviews` or a replaceState of the same route is not a view, and route
 * changes made in one task are one view. The previous URL is sent as the referrer.
 *
 *   import { autoPageviews } from '@clickstream/sdk/auto-pageviews';
 *   const stop = autoPageviews();
 */
import { page } from '../events.js';
import { watchViews, type ViewOptions } from './view.js';

export type AutoPageviewOptions = ViewOptions;

/** Starts tracking page views; returns a function that stops it and restores history. */
export function autoPageviews(options: AutoPageviewOptions = {}): () => void {
  page();
  return watchViews(options, (from) => page({ referrer: from }));
}
