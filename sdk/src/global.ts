/**
 * Entry of the minified script-tag build, core only: dist/clickstream.min.js. Consent, identify
 * and reset are in the full build (global-full.ts); called here, they warn (see loader.ts).
 */
import { init, track, flush, page, click, addToCart, purchase } from './index.js';
import { install } from './loader.js';
import { utm } from './plugins/utm.js';
import { checkEndpoint } from './plugins/check-endpoint.js';

// Campaigns and the endpoint check are on in every script-tag build (set before the queued calls replay).
utm();
checkEndpoint();
install({ init, track, flush, page, click, addToCart, purchase });
