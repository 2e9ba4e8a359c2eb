/** Entry of the minified script-tag build (core only): dist/clickstream.min.js. */
import { init, track, flush, identify, reset, consent, page, click, addToCart, purchase } from './index.js';
import { install } from './loader.js';

install({ init, track, flush, identify, reset, consent, page, click, addToCart, purchase });
