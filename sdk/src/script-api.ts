/**
 * What both script-tag builds expose (global.ts, global-full.ts): the core's API, with campaigns
 * (utm_*), the "not the gateway" warning and `respectDnt` on, as the snippet's users expect. From
 * npm each is an entry point of its own (utm, check-endpoint, dnt).
 */
import { init, track, flush, page, click, addToCart, purchase, type Options } from './index.js';
import { utm } from './plugins/utm.js';
import { checkEndpoint } from './plugins/check-endpoint.js';
import { doNotTrack } from './plugins/dnt.js';

/** `clickstream('init', options)`: the core's options, and `respectDnt`. */
export interface ScriptOptions extends Options {
  /** Track nothing when the browser sends Do Not Track or Global Privacy Control. Default false. */
  respectDnt?: boolean;
}

/** Turns the script builds' defaults on (before the loader replays the queued calls) and returns the API. */
export function scriptApi() {
  utm();
  checkEndpoint();
  return {
    // Under DNT/GPC (when honoured) the SDK never starts: every call stays a no-op.
    init: (options: ScriptOptions) => (options.respectDnt && doNotTrack()) || init(options),
    track,
    flush,
    page,
    click,
    addToCart,
    purchase,
  };
}
