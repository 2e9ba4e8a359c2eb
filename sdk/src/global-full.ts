/**
 * Entry of the script-tag build with every plugin: dist/clickstream.full.min.js.
 * `clickstream('autoPageviews')`, `clickstream('autoClicks')`, `clickstream('engagement')`.
 */
import { init, track, flush, identify, reset, consent, page, click, addToCart, purchase } from './index.js';
import { install } from './loader.js';
import { autoPageviews } from './plugins/auto-pageviews.js';
import { autoClicks } from './plugins/auto-clicks.js';
import { engagement } from './plugins/engagement.js';

install({ init, track, flush, identify, reset, consent, page, click, addToCart, purchase, autoPageviews, autoClicks, engagement });
