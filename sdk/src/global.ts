/**
 * Entry of the minified script-tag build, core only: dist/clickstream.min.js. Consent, identify
 * and reset are in the full build (global-full.ts); called here, they warn (see loader.ts).
 */
import { init, track, flush, page, click, addToCart, purchase } from './index.js';
import { install } from './loader.js';

install({ init, track, flush, page, click, addToCart, purchase });
