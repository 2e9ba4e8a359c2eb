/**
 * Entry of the script-tag build with every plugin: dist/clickstream.full.min.js.
 * `clickstream('consent', true)`, `clickstream('identify', id)`, `clickstream('reset')`,
 * `clickstream('autoPageviews')`, `clickstream('autoClicks')`, `clickstream('engagement')`.
 */
import { init, track, flush, page, click, addToCart, purchase } from './index.js';
import { install } from './loader.js';
import { utm } from './plugins/utm.js';
import { checkEndpoint } from './plugins/check-endpoint.js';
import { consent } from './plugins/consent.js';
import { identify, reset } from './plugins/identify.js';
import { autoPageviews } from './plugins/auto-pageviews.js';
import { autoClicks } from './plugins/auto-clicks.js';
import { engagement } from './plugins/engagement.js';

// Campaigns and the endpoint check are on in every script-tag build (set before the queued calls replay).
utm();
checkEndpoint();
install({ init, track, flush, identify, reset, consent, page, click, addToCart, purchase, autoPageviews, autoClicks, engagement });
